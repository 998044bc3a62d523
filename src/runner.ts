/**
 * The runner: executes planned runs with caching, resume, timing and error capture.
 *
 * For each selected run: if `<store>/<suite>/<id>.json` exists with `status: "ok"` (and not
 * `force`) it is reused; failing that, an ok result of the same run id in another suite is copied
 * in (the id hashes the whole normalised run, so it is the same experiment; the copy records
 * `provenance.reusedFrom`); otherwise the executor for the run's kind is called, and its metrics,
 * timings and provenance are validated and written atomically. An executor that throws, or returns
 * invalid metrics (e.g. NaN), yields a `status: "failed"` result with the message, and the suite
 * carries on. A crash loses at most the run in progress: rerunning resumes after it.
 *
 * @module
 */

import type { ExecutorContext, ExecutorMap, ExecutorOutput } from "./results/executor.ts";
import { collectHostProvenance, type HostProvenance, runProvenance } from "./results/provenance.ts";
import type { RunResult } from "./results/schema.ts";
import { RunResult as RunResultSchema } from "./results/schema.ts";
import { ResultFileError, type ResultStore } from "./results/store.ts";
import { FORMAT_VERSION } from "./spec/canonical.ts";
import { formatJsonPath, validateWith } from "./spec/errors.ts";
import type { Run } from "./spec/plan.ts";
import type { Suite } from "./spec/schema.ts";

/** Something that happened while running a suite, for progress displays and logs. */
export type ProgressEvent =
  | { type: "start"; run: Run; index: number; total: number }
  | { type: "cached"; run: Run; index: number; total: number; result: RunResult; file: string }
  | { type: "finish"; run: Run; index: number; total: number; result: RunResult; file: string }
  | { type: "inner"; run: Run; done: number; total: number; note?: string }
  | { type: "log"; run?: Run; message: string }
  | { type: "warning"; run?: Run; message: string };

/** Options of {@link runSuite}. */
export interface RunSuiteOptions {
  /** The suite (its `name` picks the results folder; `seed`/`threads` feed provenance). */
  suite: Pick<Suite, "name">;
  /** Planned runs (from `planSuite`). */
  runs: readonly Run[];
  /** Executor per kind; a run whose kind has none is recorded as failed. */
  executors: ExecutorMap;
  /** Where results are read and written. */
  store: ResultStore;
  /** Re-run runs that already have an ok result. */
  force?: boolean;
  /**
   * When a run has no ok result in its suite, copy an ok result of the same run id from another
   * suite of the store (default true; off with `force`). The copy takes this suite's name and
   * label and records `provenance.reusedFrom`.
   */
  reuse?: boolean;
  /** Only runs for which this returns true are considered (see {@link makeRunFilter}). */
  filter?: (run: Run) => boolean;
  /** Receives progress events. */
  onProgress?: (event: ProgressEvent) => void;
  /**
   * Host provenance, or a function producing it (called at most once, only when a run actually
   * executes). Default: {@link collectHostProvenance} at `root`.
   */
  host?: HostProvenance | (() => Promise<HostProvenance>);
  /** Repository root passed to executors (default: the current directory). */
  root?: string;
  /** Passed to executors as `ctx.saveModelDir` (`bench --save-model DIR`). */
  saveModelDir?: string;
  /** Clock (tests). Default: `() => new Date()`. */
  now?: () => Date;
}

/** What happened to one run. */
export interface RunOutcome {
  /** Run id. */
  id: string;
  /** Run label. */
  label: string;
  /** Run kind. */
  kind: Run["kind"];
  /** Final status. */
  status: "ok" | "failed";
  /** True when an existing ok result was reused. */
  cached: boolean;
  /** The result file. */
  file: string;
  /** Error message of a failed run. */
  error?: string;
}

/** Summary of {@link runSuite}. */
export interface SuiteSummary {
  /** Suite name. */
  suite: string;
  /** Runs given. */
  planned: number;
  /** Runs that passed the filter. */
  selected: number;
  /** Runs ending ok (cached included). */
  ok: number;
  /** Runs ending failed. */
  failed: number;
  /** Runs reused from earlier results. */
  cached: number;
  /** One outcome per selected run, in order. */
  outcomes: RunOutcome[];
  /** Process exit code this summary calls for: 1 if any run failed, else 0. */
  exitCode: 0 | 1;
}

/**
 * Builds a run filter from a CLI expression: `/regex/flags` is a regular expression, anything
 * else a case-insensitive substring; either is matched against the run's label, id and kind.
 * Throws an Error with a readable message for an invalid regular expression.
 */
export function makeRunFilter(expression: string): (run: Run) => boolean {
  const regexForm = /^\/(.*)\/([a-z]*)$/s.exec(expression);
  let test: (text: string) => boolean;
  if (regexForm) {
    let re: RegExp;
    try {
      re = new RegExp(regexForm[1], regexForm[2]);
    } catch (error) {
      throw new Error(
        `--filter ${expression}: not a valid regular expression (${
          error instanceof Error ? error.message : String(error)
        })`,
      );
    }
    test = (text) => {
      re.lastIndex = 0;
      return re.test(text);
    };
  } else {
    const needle = expression.toLowerCase();
    test = (text) => text.toLowerCase().includes(needle);
  }
  return (run) => test(run.label) || test(run.id) || test(run.kind);
}

function errorMessage(error: unknown): { message: string; stack?: string } {
  if (error instanceof Error) {
    const message = error.message || error.name || "error";
    return error.stack ? { message, stack: error.stack } : { message };
  }
  return { message: String(error) };
}

/** Executes the selected runs of one suite; see the module doc. */
export async function runSuite(options: RunSuiteOptions): Promise<SuiteSummary> {
  const { suite, store, executors } = options;
  const now = options.now ?? (() => new Date());
  const root = options.root ?? Deno.cwd();
  const emit = options.onProgress ?? (() => {});
  const selected = options.runs.filter((run) => options.filter?.(run) ?? true);
  let hostPromise: Promise<HostProvenance> | undefined;
  const host = () => {
    if (!hostPromise) {
      const given = options.host;
      hostPromise = given === undefined
        ? collectHostProvenance({ root })
        : typeof given === "function"
        ? given()
        : Promise.resolve(given);
    }
    return hostPromise;
  };

  const summary: SuiteSummary = {
    suite: suite.name,
    planned: options.runs.length,
    selected: selected.length,
    ok: 0,
    failed: 0,
    cached: 0,
    outcomes: [],
    exitCode: 0,
  };

  for (const [index, run] of selected.entries()) {
    const total = selected.length;
    const file = store.fileFor(suite.name, run.id);
    if (!options.force) {
      let existing: RunResult | null = null;
      try {
        existing = await store.read(suite.name, run.id);
      } catch (error) {
        if (!(error instanceof ResultFileError)) throw error;
        emit({
          type: "warning",
          run,
          message: `ignoring unusable earlier result, re-running: ${error.message}`,
        });
      }
      if (existing?.status !== "ok" && options.reuse !== false) {
        const donor = await store.findOkElsewhere(run.id, suite.name);
        if (donor) {
          existing = {
            ...donor,
            suite: suite.name,
            label: run.label,
            provenance: {
              ...donor.provenance,
              reusedFrom: { suite: donor.suite, file: store.fileFor(donor.suite, run.id) },
            },
          };
          await store.write(existing);
        }
      }
      if (existing?.status === "ok" && existing.label !== run.label) {
        // A label is not part of the run id (an entry's tag may be renamed): keep it current.
        existing = { ...existing, label: run.label };
        await store.write(existing);
      }
      if (existing?.status === "ok") {
        summary.ok++;
        summary.cached++;
        summary.outcomes.push({
          id: run.id,
          label: run.label,
          kind: run.kind,
          status: "ok",
          cached: true,
          file,
        });
        emit({ type: "cached", run, index, total, result: existing, file });
        continue;
      }
    }

    emit({ type: "start", run, index, total });
    const result = await executeRun(run, {
      suite: suite.name,
      executors,
      root,
      saveModelDir: options.saveModelDir,
      now,
      host,
      emit,
    });
    const written = await store.write(result);
    if (result.status === "ok") summary.ok++;
    else summary.failed++;
    summary.outcomes.push({
      id: run.id,
      label: run.label,
      kind: run.kind,
      status: result.status,
      cached: false,
      file: written,
      ...(result.error ? { error: result.error.message } : {}),
    });
    emit({ type: "finish", run, index, total, result, file: written });
  }
  summary.exitCode = summary.failed > 0 ? 1 : 0;
  return summary;
}

interface ExecuteOptions {
  suite: string;
  executors: ExecutorMap;
  root: string;
  saveModelDir?: string;
  now: () => Date;
  host: () => Promise<HostProvenance>;
  emit: (event: ProgressEvent) => void;
}

/** Runs one executor and turns whatever happens into a valid RunResult. */
async function executeRun(run: Run, options: ExecuteOptions): Promise<RunResult> {
  const { emit } = options;
  const startedAt = options.now();
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  const ctx: ExecutorContext = {
    suite: options.suite,
    root: options.root,
    saveModelDir: options.saveModelDir,
    log: (message) => emit({ type: "log", run, message }),
    progress: (done, total, note) => emit({ type: "inner", run, done, total, note }),
    phase: async (name, fn) => {
      const p0 = performance.now();
      try {
        return await fn();
      } finally {
        phases[name] = (phases[name] ?? 0) + (performance.now() - p0) / 1000;
      }
    },
  };

  let output: ExecutorOutput | undefined;
  let failure: { message: string; stack?: string } | undefined;
  const executor = options.executors[run.kind] as
    | ((run: Run, ctx: ExecutorContext) => Promise<ExecutorOutput>)
    | undefined;
  if (!executor) {
    failure = { message: `no executor registered for kind "${run.kind}"` };
  } else {
    try {
      output = await executor(run, ctx);
      if (output === null || typeof output !== "object") {
        throw new Error(`executor returned ${String(output)}, expected {metrics, ...}`);
      }
    } catch (error) {
      failure = errorMessage(error);
      output = undefined;
    }
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const finishedAt = options.now();
  const allPhases = { ...(output?.phases ?? {}), ...phases };
  const host = await options.host();

  const build = (
    status: "ok" | "failed",
    error?: { message: string; stack?: string },
  ): Record<string, unknown> => ({
    formatVersion: FORMAT_VERSION,
    id: run.id,
    suite: options.suite,
    label: run.label,
    kind: run.kind,
    spec: run.spec,
    status,
    ...(error ? { error } : {}),
    metrics: status === "ok" ? output?.metrics ?? {} : {},
    timings: {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      wallSeconds,
      ...(Object.keys(allPhases).length > 0 ? { phases: allPhases } : {}),
    },
    provenance: runProvenance(host, {
      seed: run.spec.seed,
      threads: run.spec.runtime.threads,
      executionProvider: output?.providerUsed ?? null,
      providerReason: output?.providerReason ?? null,
      date: finishedAt,
    }),
    ...(status === "ok" && output?.artifacts ? { artifacts: output.artifacts } : {}),
  });

  if (failure) {
    const checked = validateWith(RunResultSchema, build("failed", failure));
    if (checked.ok) return checked.value as unknown as RunResult;
    throw new Error(`internal error: cannot build a failed result for ${run.label}`);
  }
  const checked = validateWith(RunResultSchema, build("ok"));
  if (checked.ok) return checked.value as unknown as RunResult;
  const problems = checked.issues.map((i) => `${formatJsonPath(i.path)}: ${i.message}`);
  const invalid = {
    message: `executor for "${run.kind}" returned an invalid result: ${problems.join("; ")}`,
  };
  const fallback = validateWith(RunResultSchema, build("failed", invalid));
  if (fallback.ok) return fallback.value as unknown as RunResult;
  throw new Error(`internal error: cannot build a failed result for ${run.label}`);
}
