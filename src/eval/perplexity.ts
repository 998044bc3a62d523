/**
 * Perplexity with the SparseGPT/Wanda protocol: the test text (documents joined with "\n\n")
 * is tokenized as one stream, cut into non-overlapping windows of `seqlen` tokens (the tail
 * that does not fill a window is dropped); each window is run on its own (no cache, positions
 * 0..seqlen-1) and scored by its mean next-token NLL over the seqlen-1 shifted positions;
 * `ppl = exp(Σ_w mean_w · seqlen / (n · seqlen))`, i.e. exp of the mean of window means.
 *
 * @module
 */
import type { LlamaConfig } from "../model/config.ts";

/** What perplexity needs of a model (any `CausalLM` qualifies). */
export interface LogitsModel {
  /** Vocabulary size and context length are read from the config. */
  readonly config: Pick<LlamaConfig, "vocab_size" | "max_position_embeddings">;
  /** `[S, V]` logits of a window run from position 0 without a cache. */
  logits(ids: ArrayLike<number>): Promise<{ logits: Float32Array }>;
}

/** Perplexity result, as recorded under `metrics.ppl`. */
export interface PerplexityResult {
  /** exp(nll). */
  ppl: number;
  /** Mean over windows of the per-window mean token NLL (nats). */
  nll: number;
  /** Number of windows evaluated. */
  windows: number;
  /** Tokens covered by the evaluated windows (windows × seqlen). */
  tokens: number;
  /** Window length. */
  seqlen: number;
}

/** Options for {@link perplexity}. */
export interface PerplexityOptions {
  /** Window length in tokens (≥ 2). */
  seqlen: number;
  /** Evaluate at most this many windows (the first ones). */
  maxWindows?: number;
  /** Called after each window with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Mean next-token NLL of one window: logits `[S, V]` row t predicts `ids[t+1]`, t < S-1.
 * Computed in float64 with a stable log-sum-exp.
 */
export function windowMeanNll(logits: Float32Array, ids: ArrayLike<number>, vocab: number): number {
  const S = ids.length;
  if (S < 2) throw new Error("windowMeanNll: need at least 2 tokens");
  if (logits.length < (S - 1) * vocab) {
    throw new Error("windowMeanNll: logits shorter than (S-1)×V");
  }
  let total = 0;
  for (let t = 0; t < S - 1; t++) {
    const row = t * vocab;
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) if (logits[row + v] > max) max = logits[row + v];
    let z = 0;
    for (let v = 0; v < vocab; v++) z += Math.exp(logits[row + v] - max);
    total += max + Math.log(z) - logits[row + ids[t + 1]];
  }
  return total / (S - 1);
}

/**
 * Runs the protocol on a token stream.
 *
 * @throws Error when the stream is shorter than one window or seqlen exceeds the model context
 */
export async function perplexity(
  model: LogitsModel,
  ids: ArrayLike<number>,
  opts: PerplexityOptions,
): Promise<PerplexityResult> {
  const { seqlen } = opts;
  if (!Number.isInteger(seqlen) || seqlen < 2) {
    throw new Error(`perplexity: seqlen ${seqlen} must be an integer ≥ 2`);
  }
  if (seqlen > model.config.max_position_embeddings) {
    throw new Error(
      `perplexity: seqlen ${seqlen} exceeds the model context (max_position_embeddings ${model.config.max_position_embeddings})`,
    );
  }
  let n = Math.floor(ids.length / seqlen);
  if (opts.maxWindows !== undefined) n = Math.min(n, opts.maxWindows);
  if (n < 1) {
    throw new Error(`perplexity: ${ids.length} tokens do not fill one window of ${seqlen}`);
  }
  let sum = 0;
  for (let w = 0; w < n; w++) {
    const window = Array.from({ length: seqlen }, (_, i) => ids[w * seqlen + i]);
    const { logits } = await model.logits(window);
    sum += windowMeanNll(logits, window, model.config.vocab_size) * seqlen;
    opts.onProgress?.(w + 1, n);
  }
  const nll = sum / (n * seqlen);
  return { ppl: Math.exp(nll), nll, windows: n, tokens: n * seqlen, seqlen };
}
