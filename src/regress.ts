/**
 * `deno task regress`: the CI regression gate. Runs the CI suite (`bench/specs/ci.json`) afresh
 * through the normal runner and executors (nothing cached), then compares the results with the
 * committed baseline `reports/baseline/<suite>/<id>.json` using the suite's `regress` tolerances
 * (see `src/regress/gate.ts` for the rules), prints a table of deltas and exits 1 on any
 * regression.
 *
 * ```
 * deno task regress                        run the CI suite, compare, exit 0 (pass) or 1 (fail)
 * deno task regress --update-baseline      run it and rewrite the suite's baseline files
 * deno task regress --candidate DIR        compare existing result files instead of running
 * deno task regress --spec FILE --baseline DIR --out DIR --backend wasm
 * ```
 *
 * Exit codes: 0 pass (or baseline written), 1 regression or failed run, 2 bad input (bad flag,
 * broken spec, corrupt baseline or result file).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type ExecutorLoad, loadExecutors as defaultLoadExecutors } from "./executors.ts";
import { createProgressDisplay } from "./progress.ts";
import type { HostProvenance } from "./results/provenance.ts";
import type { RunResult } from "./results/schema.ts";
import { readResultsUnder, ResultFileError, ResultStore } from "./results/store.ts";
import { runSuite } from "./runner.ts";
import { SpecError } from "./spec/errors.ts";
import { type LoadedSpec, loadSpec } from "./spec/load.ts";
import { Backend } from "./spec/schema.ts";
import {
  type BaselineEntry,
  baselineFolder,
  readBaseline,
  toBaselineEntry,
  writeBaseline,
} from "./regress/baseline.ts";
import { checkAgainstBaseline, formatGateReport } from "./regress/gate.ts";

/** The data preparation step (`prepareEmbeddedDefault` of src/data/prepare.ts). */
export type PrepareStep = (opts: { root: string; log?: (msg: string) => void }) => Promise<unknown>;

/** Options of {@link runRegress} (the CLI passes `root`, `args`, `stdout`, `stderr`). */
export interface RunRegressOptions {
  /** Repository root: default spec, baseline and output folders resolve against it. */
  root: string;
  /** Command-line arguments after `regress`. */
  args: readonly string[];
  /** Standard output (text includes its newlines). */
  stdout(text: string): void;
  /** Standard error (text includes its newlines). */
  stderr(text: string): void;
  /** Finds executors (default: `loadExecutors()`, as `bench` does). */
  loadExecutors?: () => Promise<ExecutorLoad>;
  /** Data preparation (default: `prepareEmbeddedDefault`, as `bench` does). */
  prepare?: PrepareStep;
  /** Host provenance (default: collected once when the first run executes). */
  host?: () => Promise<HostProvenance>;
}

/** Exit code: the gate passed, or the baseline was written. */
export const REGRESS_OK = 0;
/** Exit code: a regression, a failed run, a missing run or no baseline. */
export const REGRESS_FAILED = 1;
/** Exit code: bad input. */
export const REGRESS_BAD_INPUT = 2;

const HELP = `usage: deno task regress [options]

Runs the CI suite afresh and compares it with the committed baseline.

  --spec FILE          suite to run (default: bench/specs/ci.json)
  --baseline DIR       baseline root; files are DIR/<suite>/<id>.json (default: reports/baseline)
  --out DIR            where the fresh results are written (default: .cache/regress)
  --candidate PATH     compare existing result files (a file or folder) instead of running
  --backend NAME       override the suite's backend (webgpu, wasm, auto)
  --update-baseline    rewrite the suite's baseline from this run (never done otherwise)
  -h, --help           this text

Fails (exit 1) when perplexity rises more than the suite's regress.pplRel, a zero-shot accuracy
falls below its baseline 95% interval, tau falls more than regress.tauRel, speedup falls more
than regress.speedupRel, lossless turns false, a run fails, or a baseline run is missing.
`;

interface ParsedArgs {
  spec: string;
  baseline: string;
  out: string;
  candidate?: string;
  backend?: Backend;
  update: boolean;
  help: boolean;
}

function parse(root: string, args: readonly string[]): ParsedArgs {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      spec: { type: "string" },
      baseline: { type: "string" },
      out: { type: "string" },
      candidate: { type: "string" },
      backend: { type: "string" },
      "update-baseline": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) {
    throw new Error(`unexpected argument "${positionals[0]}" (options only; see --help)`);
  }
  let backend: Backend | undefined;
  if (values.backend !== undefined) {
    const checked = Backend.safeParse(values.backend);
    if (!checked.success) {
      throw new Error(`--backend: expected webgpu, wasm or auto, got "${values.backend}"`);
    }
    backend = checked.data;
  }
  return {
    spec: values.spec ?? `${root}/bench/specs/ci.json`,
    baseline: values.baseline ?? `${root}/reports/baseline`,
    out: values.out ?? `${root}/.cache/regress`,
    candidate: values.candidate,
    backend,
    update: values["update-baseline"] ?? false,
    help: values.help ?? false,
  };
}

async function defaultPrepare(opts: { root: string; log?: (msg: string) => void }) {
  const mod = await import("./data/prepare.ts") as {
    prepareEmbeddedDefault: (o: { root: string; log?: (msg: string) => void }) => Promise<unknown>;
  };
  return await mod.prepareEmbeddedDefault(opts);
}

/** Runs the suite afresh (force: no cached results); returns the results in plan order. */
async function runCandidates(
  spec: LoadedSpec,
  parsed: ParsedArgs,
  options: RunRegressOptions,
): Promise<RunResult[] | number> {
  const { executors, unavailable } = await (options.loadExecutors ?? defaultLoadExecutors)();
  for (const u of unavailable) {
    if (spec.runs.some((r) => r.kind === u.kind)) {
      options.stderr(`regress: no executor for kind "${u.kind}" (${u.reason})\n`);
    }
  }
  try {
    await (options.prepare ?? defaultPrepare)({
      root: options.root,
      log: (msg) => options.stderr(`data: ${msg}\n`),
    });
  } catch (error) {
    options.stderr(
      `regress: data preparation failed: ${error instanceof Error ? error.message : error}\n`,
    );
    return REGRESS_FAILED;
  }
  const store = new ResultStore(parsed.out);
  const display = createProgressDisplay({
    title: spec.suite.name,
    total: spec.runs.length,
    bar: false,
    write: (line) => options.stderr(`${line}\n`),
  });
  let hostPromise: Promise<HostProvenance> | undefined;
  const host = options.host ?? (async () => {
    const { collectHostProvenance } = await import("./results/provenance.ts");
    return await collectHostProvenance({ root: options.root });
  });
  let summary;
  try {
    summary = await runSuite({
      suite: spec.suite,
      runs: spec.runs,
      executors,
      store,
      force: true,
      onProgress: (event) => display.handle(event),
      host: () => (hostPromise ??= host()),
      root: options.root,
    });
  } finally {
    display.stop();
  }
  const results: RunResult[] = [];
  for (const outcome of summary.outcomes) {
    const result = await store.read(spec.suite.name, outcome.id);
    if (result) results.push(result);
  }
  options.stderr(
    `regress: ran suite "${spec.suite.name}": ${summary.ok} ok, ${summary.failed} failed -> ` +
      `${store.root}/${spec.suite.name}/\n`,
  );
  return results;
}

async function readCandidates(path: string, suite: string): Promise<RunResult[]> {
  const listing = await readResultsUnder(path);
  if (listing.errors.length > 0) throw listing.errors[0];
  return listing.results.map((e) => e.result).filter((r) => r.suite === suite);
}

/**
 * The `regress` command (see the module doc). Never throws for bad input; returns the exit code.
 */
export async function runRegress(options: RunRegressOptions): Promise<{ exitCode: number }> {
  const { stdout, stderr } = options;
  let parsed: ParsedArgs;
  try {
    parsed = parse(options.root, options.args);
  } catch (error) {
    stderr(`regress: ${error instanceof Error ? error.message : error}\n`);
    return { exitCode: REGRESS_BAD_INPUT };
  }
  if (parsed.help) {
    stdout(HELP);
    return { exitCode: REGRESS_OK };
  }
  try {
    const spec = await loadSpec(parsed.spec, parsed.backend ? { backend: parsed.backend } : {});
    const suite = spec.suite.name;
    const planned = new Set(spec.runs.map((r) => r.id));

    // Baseline first: a corrupt one is bad input, whatever the run would say.
    const baseline = await readBaseline(parsed.baseline, suite);

    const candidates = parsed.candidate !== undefined
      ? await readCandidates(parsed.candidate, suite)
      : await runCandidates(spec, parsed, options);
    if (typeof candidates === "number") return { exitCode: candidates };
    if (parsed.candidate !== undefined) {
      stderr(
        `regress: comparing ${candidates.length} result${candidates.length === 1 ? "" : "s"} ` +
          `of suite "${suite}" from ${parsed.candidate}\n`,
      );
    }

    const report = checkAgainstBaseline({
      baseline: baseline ?? [],
      candidates,
      tolerances: spec.suite.regress,
    });

    if (parsed.update) {
      stdout(`${formatGateReport(report, suite, false)}\n`);
      const failed = candidates.filter((c) => c.status !== "ok");
      if (failed.length > 0) {
        stderr(
          `regress: not updating the baseline: ${failed.length} run(s) failed (${
            failed.map((f) => `${f.label}: ${f.error?.message ?? "failed"}`).join("; ")
          })\n`,
        );
        return { exitCode: REGRESS_FAILED };
      }
      const notPlanned = candidates.filter((c) => !planned.has(c.id));
      const entries: BaselineEntry[] = candidates
        .filter((c) => planned.has(c.id))
        .map(toBaselineEntry);
      if (notPlanned.length > 0) {
        stderr(
          `regress: ignoring ${notPlanned.length} result(s) not planned by ${parsed.spec}: ${
            notPlanned.map((c) => c.label).join(", ")
          }\n`,
        );
      }
      if (entries.length === 0) {
        stderr(`regress: no results to write as a baseline\n`);
        return { exitCode: REGRESS_FAILED };
      }
      const files = await writeBaseline(parsed.baseline, suite, entries);
      stdout(
        `regress: baseline of suite "${suite}" rewritten: ${files.length} file${
          files.length === 1 ? "" : "s"
        } in ${baselineFolder(parsed.baseline, suite)}/ (commit them)\n`,
      );
      return { exitCode: REGRESS_OK };
    }

    if (baseline === null || baseline.length === 0) {
      stdout(`${formatGateReport(report, suite, false)}\n`);
      stderr(
        `regress: no baseline for suite "${suite}" in ${
          baselineFolder(parsed.baseline, suite)
        }/; create it with: deno task regress --update-baseline\n`,
      );
      return { exitCode: REGRESS_FAILED };
    }
    stdout(`${formatGateReport(report, suite)}\n`);
    return { exitCode: report.passed ? REGRESS_OK : REGRESS_FAILED };
  } catch (error) {
    if (error instanceof SpecError || error instanceof ResultFileError) {
      stderr(`${error.message}\n`);
      return { exitCode: REGRESS_BAD_INPUT };
    }
    throw error;
  }
}

if (import.meta.main) {
  const encoder = new TextEncoder();
  const { exitCode } = await runRegress({
    root: decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, ""),
    args: Deno.args,
    stdout: (text) => Deno.stdout.writeSync(encoder.encode(text)),
    stderr: (text) => Deno.stderr.writeSync(encoder.encode(text)),
  });
  Deno.exit(exitCode);
}
