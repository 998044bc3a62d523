/**
 * Decoding metrics with Spec-Bench's conventions (research/decoding.md §1, §4.4, §5.1):
 *
 * - per-prompt throughput = Σ new tokens / Σ wall time of that prompt;
 * - speedup = mean(per-prompt method tokens/s) / mean(per-prompt AR tokens/s), computed per repeat,
 *   then summarised as mean, std (ddof = 1), min, max over repeats;
 * - τ = mean of all per-step accept lengths pooled over prompts (and repeats), counting the target's
 *   own token (AR = 1.00);
 * - per-depth acceptance: P(a draft at depth k is accepted | depths < k accepted);
 * - overhead = mean speculative step time ÷ mean AR step time (speedup ≈ τ / overhead).
 *
 * Times are in milliseconds, throughputs in tokens per second. Pure functions over plain records.
 *
 * @module
 */

/** Timing of one decoding step, in milliseconds. */
export interface StepTiming {
  /** Drafting: drafter forward + candidate construction. */
  draftMs: number;
  /** Verification: mask construction + target forward. */
  verifyMs: number;
  /** Bookkeeping: acceptance, KV compaction, carrying logits, stop checks. */
  bookkeepingMs: number;
}

/** One prompt's generation in one repeat. */
export interface PromptRun {
  /** Prompt id (the same id across methods and repeats). */
  prompt: string;
  /** Category / task group, for the per-category breakdown. */
  category?: string;
  /** New tokens generated (after truncation at EOS / max new tokens). */
  newTokens: number;
  /** Wall time of the generation in milliseconds (prefill included, as Spec-Bench times it). */
  wallMs: number;
  /** Tokens committed per decoding step, the target's own token included (AR: all 1). */
  acceptLengths: readonly number[];
  /** Per-step timings, when recorded. */
  steps?: readonly StepTiming[];
}

/** Spread of a sample. */
export interface Spread {
  /** Arithmetic mean (NaN for an empty sample). */
  mean: number;
  /** Sample standard deviation (ddof = 1); null with fewer than two values. */
  std: number | null;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** Number of values. */
  n: number;
}

/**
 * Mean, sample std (ddof = 1, as Spec-Bench prints), min and max.
 *
 * @param values the sample.
 * @returns its spread.
 */
export function spread(values: readonly number[]): Spread {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: null, min: NaN, max: NaN, n };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const std = n < 2 ? null : Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { mean, std, min: minOf(values), max: maxOf(values), n };
}

function maxOf(values: readonly number[]): number {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  return m;
}

function minOf(values: readonly number[]): number {
  let m = Infinity;
  for (const v of values) if (v < m) m = v;
  return m;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

/**
 * Throughput of one prompt: new tokens / wall time.
 *
 * @param run the prompt's generation.
 * @returns tokens per second.
 */
export function tokensPerSecond(run: PromptRun): number {
  return run.newTokens / (run.wallMs / 1000);
}

/**
 * Mean of per-prompt throughputs over the prompts of one repeat (Spec-Bench's per-question mean).
 *
 * @param runs one repeat's prompt runs.
 * @returns mean tokens per second.
 */
export function meanTokensPerSecond(runs: readonly PromptRun[]): number {
  return mean(runs.map(tokensPerSecond));
}

/**
 * Total tokens over total time for one repeat (reported beside the Spec-Bench ratio).
 *
 * @param runs one repeat's prompt runs.
 * @returns tokens per second.
 */
export function aggregateTokensPerSecond(runs: readonly PromptRun[]): number {
  const tokens = runs.reduce((s, r) => s + r.newTokens, 0);
  const ms = runs.reduce((s, r) => s + r.wallMs, 0);
  return tokens / (ms / 1000);
}

function pairBaseline<T>(method: readonly T[], baseline: readonly T[], what: string): T[] {
  if (baseline.length === method.length) return [...baseline];
  if (baseline.length === 1) return method.map(() => baseline[0]);
  throw new RangeError(
    `${what}: ${method.length} method repeats but ${baseline.length} baseline repeats; give as many baseline repeats or exactly one`,
  );
}

/**
 * Spec-Bench speedup per repeat: mean(per-prompt method tokens/s) / mean(per-prompt AR tokens/s),
 * pairing repeat r of the method with repeat r of the baseline (or the single baseline repeat).
 *
 * @param method repeats × prompt runs of the method.
 * @param baseline repeats × prompt runs of AR decoding.
 * @returns the per-repeat speedups and their spread.
 */
export function speedup(
  method: readonly (readonly PromptRun[])[],
  baseline: readonly (readonly PromptRun[])[],
): Spread & { perRepeat: number[] } {
  const base = pairBaseline(method, baseline, "speedup");
  const perRepeat = method.map((runs, r) =>
    meanTokensPerSecond(runs) / meanTokensPerSecond(base[r])
  );
  return { ...spread(perRepeat), perRepeat };
}

/**
 * τ: mean of all per-step accept lengths pooled (target's own token included; AR = 1.00).
 *
 * @param runs prompt runs (any number of prompts and repeats, flattened).
 * @returns mean accepted length per step.
 */
export function meanAcceptedLength(runs: readonly PromptRun[]): number {
  let sum = 0;
  let n = 0;
  for (const r of runs) {
    for (const a of r.acceptLengths) {
      sum += a;
      n++;
    }
  }
  return n === 0 ? NaN : sum / n;
}

/** Acceptance at one draft depth. */
export interface DepthAcceptance {
  /** Draft depth k ≥ 1 (head k − 1). */
  depth: number;
  /** Steps in which depths < k were all accepted (the draft at depth k was reached). */
  reached: number;
  /** Of those, steps in which depth k was accepted too. */
  accepted: number;
  /** accepted / reached; null when never reached. */
  rate: number | null;
}

/**
 * Per-depth conditional acceptance from accept lengths (committed tokens per step): for depth k,
 * P(committed ≥ k + 1 | committed ≥ k).
 *
 * @param acceptLengths committed tokens per step, pooled.
 * @param maxDepth deepest draft depth of the tree (rates for depths 1..maxDepth).
 * @returns one entry per depth.
 */
export function perDepthAcceptance(
  acceptLengths: readonly number[],
  maxDepth: number,
): DepthAcceptance[] {
  const out: DepthAcceptance[] = [];
  for (let k = 1; k <= maxDepth; k++) {
    let reached = 0;
    let accepted = 0;
    for (const a of acceptLengths) {
      if (a >= k) reached++;
      if (a >= k + 1) accepted++;
    }
    out.push({ depth: k, reached, accepted, rate: reached === 0 ? null : accepted / reached });
  }
  return out;
}

/** One bar of the accept-length histogram. */
export interface HistogramBin {
  /** Tokens committed in a step (1 = only the target's own token). */
  length: number;
  /** Steps with that length. */
  count: number;
  /** count / total steps. */
  fraction: number;
}

/**
 * Histogram of committed tokens per step, lengths 1..maxLength (default: the largest seen).
 *
 * @param acceptLengths committed tokens per step, pooled.
 * @param maxLength last bin (tree depth + 1).
 * @returns one bin per length, empty bins included.
 */
export function acceptLengthHistogram(
  acceptLengths: readonly number[],
  maxLength?: number,
): HistogramBin[] {
  const top = Math.max(maxLength ?? 0, maxOf(acceptLengths), 1);
  const counts = new Array<number>(top + 1).fill(0);
  for (const a of acceptLengths) counts[a]++;
  const total = acceptLengths.length;
  return counts.slice(1).map((count, i) => ({
    length: i + 1,
    count,
    fraction: total === 0 ? 0 : count / total,
  }));
}

/** Mean step latency split, in milliseconds. */
export interface LatencySplit {
  /** Mean drafting time per step. */
  draftMs: number;
  /** Mean verification time per step. */
  verifyMs: number;
  /** Mean bookkeeping time per step. */
  bookkeepingMs: number;
  /** Mean total step time. */
  stepMs: number;
  /** Steps averaged. */
  steps: number;
}

/**
 * Mean per-step latency split over every recorded step of the given runs.
 *
 * @param runs prompt runs with `steps`.
 * @returns the mean split.
 */
export function latencySplit(runs: readonly PromptRun[]): LatencySplit {
  let draft = 0;
  let verify = 0;
  let book = 0;
  let n = 0;
  for (const r of runs) {
    for (const s of r.steps ?? []) {
      draft += s.draftMs;
      verify += s.verifyMs;
      book += s.bookkeepingMs;
      n++;
    }
  }
  if (n === 0) return { draftMs: NaN, verifyMs: NaN, bookkeepingMs: NaN, stepMs: NaN, steps: 0 };
  return {
    draftMs: draft / n,
    verifyMs: verify / n,
    bookkeepingMs: book / n,
    stepMs: (draft + verify + book) / n,
    steps: n,
  };
}

/**
 * Overhead = mean speculative step time ÷ mean AR step time.
 *
 * @param method runs of the speculative method (with steps).
 * @param baseline AR runs (with steps).
 * @returns the ratio.
 */
export function overhead(method: readonly PromptRun[], baseline: readonly PromptRun[]): number {
  return latencySplit(method).stepMs / latencySplit(baseline).stepMs;
}

/** One prompt whose speculative output differs from AR. */
export interface LosslessException {
  /** Prompt id. */
  prompt: string;
  /** First token index where the outputs differ (the shorter length when one is a prefix). */
  firstDivergence: number;
  /** Output lengths (AR, speculative); speculative −1 when the prompt is missing. */
  arLength: number;
  /** Speculative output length (−1 when missing). */
  specLength: number;
}

/** Result of {@linkcode losslessCheck}. */
export interface LosslessReport {
  /** True when every AR prompt has an identical speculative output. */
  lossless: boolean;
  /** Prompts compared. */
  checked: number;
  /** Prompts that differ, with the first divergence. */
  exceptions: LosslessException[];
}

/**
 * Greedy exactness: speculative output must equal AR output token for token on every prompt.
 *
 * @param arOutputs prompt id → AR output tokens.
 * @param specOutputs prompt id → speculative output tokens.
 * @returns whether all match, and the exceptions with their first divergence.
 */
export function losslessCheck(
  arOutputs: Readonly<Record<string, readonly number[]>>,
  specOutputs: Readonly<Record<string, readonly number[]>>,
): LosslessReport {
  const exceptions: LosslessException[] = [];
  const prompts = Object.keys(arOutputs);
  for (const prompt of prompts) {
    const ar = arOutputs[prompt];
    const spec = Object.hasOwn(specOutputs, prompt) ? specOutputs[prompt] : undefined;
    if (spec === undefined) {
      exceptions.push({ prompt, firstDivergence: 0, arLength: ar.length, specLength: -1 });
      continue;
    }
    const n = Math.min(ar.length, spec.length);
    let i = 0;
    while (i < n && ar[i] === spec[i]) i++;
    if (i < n || ar.length !== spec.length) {
      exceptions.push({ prompt, firstDivergence: i, arLength: ar.length, specLength: spec.length });
    }
  }
  return { lossless: exceptions.length === 0, checked: prompts.length, exceptions };
}

/** Metrics of one group of prompts (all prompts or one category). */
export interface GroupMetrics {
  /** Prompts in the group (per repeat). */
  prompts: number;
  /** τ of the method. */
  tau: number;
  /** Speedup over AR, spread over repeats. */
  speedup: Spread & { perRepeat: number[] };
  /** Mean per-prompt tokens/s of the method, spread over repeats. */
  tokensPerSecond: Spread;
  /** Mean per-prompt tokens/s of AR, spread over repeats. */
  baselineTokensPerSecond: Spread;
}

function groupMetrics(
  method: readonly (readonly PromptRun[])[],
  baseline: readonly (readonly PromptRun[])[],
): GroupMetrics {
  return {
    prompts: method[0]?.length ?? 0,
    tau: meanAcceptedLength(method.flat()),
    speedup: speedup(method, baseline),
    tokensPerSecond: spread(method.map(meanTokensPerSecond)),
    baselineTokensPerSecond: spread(baseline.map(meanTokensPerSecond)),
  };
}

/**
 * Per-category breakdown: the group metrics restricted to each category's prompts
 * (prompts without a category fall in `"uncategorised"`).
 *
 * @param method repeats × prompt runs of the method.
 * @param baseline repeats × prompt runs of AR.
 * @returns category → metrics, categories in first-seen order.
 */
export function categoryBreakdown(
  method: readonly (readonly PromptRun[])[],
  baseline: readonly (readonly PromptRun[])[],
): Record<string, GroupMetrics> {
  const cat = (r: PromptRun) => r.category ?? "uncategorised";
  const categories = [...new Set(method.flat().map(cat))];
  const out: Record<string, GroupMetrics> = {};
  for (const c of categories) {
    out[c] = groupMetrics(
      method.map((runs) => runs.filter((r) => cat(r) === c)),
      baseline.map((runs) => runs.filter((r) => cat(r) === c)),
    );
  }
  return out;
}

/** Everything a decode run reports. */
export interface DecodeMetrics extends GroupMetrics {
  /** Total tokens / total time of the method, spread over repeats. */
  aggregateTokensPerSecond: Spread;
  /** Per-depth conditional acceptance rates (depths 1..maxDepth). */
  perDepthAcceptance: DepthAcceptance[];
  /** Histogram of committed tokens per step (lengths 1..maxDepth + 1). */
  acceptLengthHistogram: HistogramBin[];
  /** Mean step latency split of the method. */
  latency: LatencySplit;
  /** Mean step latency split of AR. */
  baselineLatency: LatencySplit;
  /** Speculative step time ÷ AR step time. */
  overhead: number;
  /** τ ÷ overhead, the first-order prediction of the speedup. */
  predictedSpeedup: number;
  /** Per-category breakdown. */
  perCategory: Record<string, GroupMetrics>;
}

/**
 * All decode metrics for one method against the AR baseline.
 *
 * @param options `method` and `baseline` (repeats × prompt runs), `maxDepth` of the tree.
 * @returns the metrics.
 */
export function decodeMetrics(options: {
  method: readonly (readonly PromptRun[])[];
  baseline: readonly (readonly PromptRun[])[];
  maxDepth: number;
}): DecodeMetrics {
  const { method, baseline, maxDepth } = options;
  const pooled = method.flat().flatMap((r) => [...r.acceptLengths]);
  const base = groupMetrics(method, baseline);
  const latency = latencySplit(method.flat());
  const baselineLatency = latencySplit(baseline.flat());
  const ratio = latency.stepMs / baselineLatency.stepMs;
  return {
    ...base,
    aggregateTokensPerSecond: spread(method.map(aggregateTokensPerSecond)),
    perDepthAcceptance: perDepthAcceptance(pooled, maxDepth),
    acceptLengthHistogram: acceptLengthHistogram(pooled, maxDepth + 1),
    latency,
    baselineLatency,
    overhead: ratio,
    predictedSpeedup: base.tau / ratio,
    perCategory: categoryBreakdown(method, baseline),
  };
}
