/**
 * Committed regression baselines: one small JSON file per run at
 * `reports/baseline/<suite>/<id>.json`, holding only what the gate compares (perplexities,
 * zero-shot accuracies with their intervals, τ, speedup, lossless) plus where the numbers came
 * from (commit, date, execution provider, machine). Written by
 * `deno task regress --update-baseline`, read by every other `deno task regress`.
 *
 * @module
 */

import { z } from "zod";
import { FiniteNumber, type RunResult } from "../results/schema.ts";
import { ResultFileError, writeTextAtomic } from "../results/store.ts";
import { parseJsonText, validateWith } from "../spec/errors.ts";

/** Version of the baseline file format. */
export const BASELINE_FORMAT = 1;

const Interval = z.tuple([FiniteNumber, FiniteNumber]);

/** What a baseline keeps of a run's metrics. */
export const BaselineMetrics = z.strictObject({
  ppl: z.record(
    z.string(),
    z.strictObject({
      ppl: FiniteNumber.positive(),
      seqlen: z.number().int().min(1),
      windows: z.number().int().min(0),
      tokens: z.number().int().min(0),
    }),
  ).optional(),
  zeroshot: z.record(
    z.string(),
    z.strictObject({
      acc: FiniteNumber.min(0).max(1),
      acc_norm: FiniteNumber.min(0).max(1),
      n: z.number().int().min(0),
      acc_ci: Interval,
      acc_norm_ci: Interval,
    }),
  ).optional(),
  tau: FiniteNumber.optional(),
  speedup: FiniteNumber.optional(),
  lossless: z.boolean().optional(),
});

/** Gated metrics of a baseline run. */
export type BaselineMetrics = z.infer<typeof BaselineMetrics>;

/** Where a baseline's numbers came from (copied from the result's provenance). */
export const BaselineProvenance = z.strictObject({
  gitCommit: z.string().nullable(),
  gitDirty: z.boolean().nullable(),
  date: z.string(),
  executionProvider: z.string().nullable(),
  gpuAdapter: z.string().nullable(),
  cpuModel: z.string().nullable(),
  threads: z.number().int(),
  deno: z.string(),
  onnxruntimeWeb: z.string().nullable(),
  seed: z.number().int(),
});

/** Provenance of a baseline run. */
export type BaselineProvenance = z.infer<typeof BaselineProvenance>;

/** One baseline file. */
export const BaselineEntry = z.strictObject({
  baselineFormat: z.literal(BASELINE_FORMAT),
  suite: z.string().min(1),
  id: z.string().regex(/^[0-9a-f]{16}$/, { error: "expected 16 lowercase hex digits" }),
  label: z.string().min(1),
  kind: z.enum(["prune", "decode"]),
  metrics: BaselineMetrics,
  provenance: BaselineProvenance,
});

/** One baseline run. */
export type BaselineEntry = z.infer<typeof BaselineEntry>;

/**
 * Keeps what the gate compares of an ok result (throws for a failed one: a failed run is never a
 * baseline).
 */
export function toBaselineEntry(result: RunResult): BaselineEntry {
  if (result.status !== "ok") {
    throw new Error(`run ${result.label} (${result.id}) failed; a failed run cannot be a baseline`);
  }
  const m = result.metrics;
  const metrics: BaselineMetrics = {};
  if (m.ppl) {
    metrics.ppl = Object.fromEntries(
      Object.entries(m.ppl).map(([set, e]) => [set, {
        ppl: e.ppl,
        seqlen: e.seqlen,
        windows: e.windows,
        tokens: e.tokens,
      }]),
    );
  }
  if (m.zeroshot) {
    metrics.zeroshot = Object.fromEntries(
      Object.entries(m.zeroshot).map(([task, e]) => [task, {
        acc: e.acc,
        acc_norm: e.acc_norm,
        n: e.n,
        acc_ci: [e.acc_ci[0], e.acc_ci[1]] as [number, number],
        acc_norm_ci: [e.acc_norm_ci[0], e.acc_norm_ci[1]] as [number, number],
      }]),
    );
  }
  if (m.tau !== undefined) metrics.tau = m.tau;
  if (m.speedup !== undefined) metrics.speedup = m.speedup;
  if (m.lossless !== undefined) metrics.lossless = m.lossless;
  const p = result.provenance;
  return {
    baselineFormat: BASELINE_FORMAT,
    suite: result.suite,
    id: result.id,
    label: result.label,
    kind: result.kind,
    metrics,
    provenance: {
      gitCommit: p.gitCommit,
      gitDirty: p.gitDirty,
      date: p.date,
      executionProvider: p.executionProvider,
      gpuAdapter: p.gpuAdapter
        ? `${p.gpuAdapter.description || p.gpuAdapter.device || p.gpuAdapter.vendor}${
          p.gpuAdapter.isFallbackAdapter ? " (fallback)" : ""
        }`
        : null,
      cpuModel: p.cpuModel,
      threads: p.threads,
      deno: p.deno,
      onnxruntimeWeb: p.onnxruntimeWeb,
      seed: p.seed,
    },
  };
}

/** Folder of one suite's baseline files. */
export function baselineFolder(baselineDir: string, suite: string): string {
  return `${baselineDir.replace(/\/+$/, "")}/${suite}`;
}

/**
 * Reads every `<id>.json` of a suite's baseline folder. Returns null when the folder does not
 * exist; throws {@link ResultFileError} (file, JSON path, expectation) for a bad file.
 */
export async function readBaseline(
  baselineDir: string,
  suite: string,
): Promise<BaselineEntry[] | null> {
  const dir = baselineFolder(baselineDir, suite);
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(".json") && !entry.name.startsWith(".")) {
        files.push(`${dir}/${entry.name}`);
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  files.sort();
  const entries: BaselineEntry[] = [];
  for (const file of files) {
    const parsed = parseJsonText(await Deno.readTextFile(file));
    if (!parsed.ok) throw new ResultFileError(file, [{ path: [], message: parsed.message }]);
    const checked = validateWith(BaselineEntry, parsed.value);
    if (!checked.ok) throw new ResultFileError(file, checked.issues);
    const entry = checked.value;
    const expected = file.slice(file.lastIndexOf("/") + 1, -".json".length);
    if (entry.id !== expected) {
      throw new ResultFileError(file, [{
        path: ["id"],
        message: `expected "${expected}" (the file name), got "${entry.id}"`,
      }]);
    }
    if (entry.suite !== suite) {
      throw new ResultFileError(file, [{
        path: ["suite"],
        message: `expected "${suite}" (the folder name), got "${entry.suite}"`,
      }]);
    }
    entries.push(entry);
  }
  return entries;
}

/**
 * Replaces a suite's baseline with `entries`: writes `<id>.json` for each (atomically) and removes
 * the suite's other baseline files. Returns the files written.
 */
export async function writeBaseline(
  baselineDir: string,
  suite: string,
  entries: readonly BaselineEntry[],
): Promise<string[]> {
  const dir = baselineFolder(baselineDir, suite);
  await Deno.mkdir(dir, { recursive: true });
  const keep = new Set(entries.map((e) => `${e.id}.json`));
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".json") && !keep.has(entry.name)) {
      await Deno.remove(`${dir}/${entry.name}`);
    }
  }
  const files: string[] = [];
  for (const entry of entries) {
    const checked = BaselineEntry.parse(entry);
    const file = `${dir}/${entry.id}.json`;
    await writeTextAtomic(file, `${JSON.stringify(checked, null, 2)}\n`);
    files.push(file);
  }
  return files;
}
