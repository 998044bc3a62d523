/**
 * The executor contract: how a kind of run (prune, decode) is executed. Layer-1 types, so the
 * modules that implement executors (`src/prune/`, `src/decode/`, layer 4) can import them without
 * reaching up to the runner.
 *
 * An executor receives a fully normalised run and a context, does the work, and returns metrics
 * (see `schema.ts` for the metric contract). It throws to fail the run: the runner records
 * `status: "failed"` with the message and carries on with the next run.
 *
 * ```ts
 * // src/prune/executor.ts
 * import type { Executor } from "../results/executor.ts";
 * export const execute: Executor<"prune"> = async (run, ctx) => {
 *   const model = await ctx.phase("load", () => loadModel(run.spec.model.path));
 *   // ... prune with run.spec.method / run.spec.pattern / run.spec.params ...
 *   return { metrics: { ppl: { "test-id": { ppl, nll, windows, tokens, seqlen } } },
 *            providerUsed: "wasm", providerReason: "backend auto: no GPU adapter" };
 * };
 * ```
 *
 * @module
 */

import type { RunKind, RunOfKind } from "../spec/plan.ts";
import type { MetricsInput } from "./schema.ts";

/** What the runner hands an executor besides the run. */
export interface ExecutorContext {
  /** Name of the suite the run belongs to. */
  suite: string;
  /** Repository root (for resolving bench/ assets). */
  root: string;
  /** Writes a line of log (shown above the progress bar). */
  log(message: string): void;
  /**
   * Times a named phase; the seconds land in `result.timings.phases[name]` (added up when a phase
   * name repeats).
   */
  phase<T>(name: string, fn: () => Promise<T> | T): Promise<T>;
  /**
   * When set (`bench --save-model DIR`), executors that change a model write it there in Hugging
   * Face layout, one folder per run label.
   */
  saveModelDir?: string;
  /** Reports progress inside the run (e.g. layers pruned, windows evaluated). */
  progress(done: number, total: number, note?: string): void;
}

/** What an executor returns for a successful run. */
export interface ExecutorOutput {
  /** The measurements (contract keys typed, others free-form; all numbers finite). */
  metrics: MetricsInput;
  /** Extra data stored with the result (histograms, per-prompt numbers, ...). */
  artifacts?: Record<string, unknown>;
  /** Execution provider actually used (`webgpu`, `wasm`, `tfjs-wasm`, ...). */
  providerUsed?: string;
  /** Why that provider was used (e.g. "auto: adapter is a fallback (llvmpipe)"). */
  providerReason?: string;
  /** Extra phase timings in seconds (merged with those measured by `ctx.phase`). */
  phases?: Record<string, number>;
}

/** Executes one run of kind `K`. Throw to fail the run. */
export type Executor<K extends RunKind = RunKind> = (
  run: RunOfKind<K>,
  ctx: ExecutorContext,
) => Promise<ExecutorOutput>;

/** Executors by kind; a kind without one cannot be run. */
export type ExecutorMap = { [K in RunKind]?: Executor<K> };
