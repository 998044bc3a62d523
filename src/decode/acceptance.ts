/**
 * Choosing the accepted path after one tree-verification pass (research/decoding.md §2.6, Medusa
 * `evaluate_posterior`): greedy acceptance (lossless) and typical acceptance (Medusa's fast mode).
 *
 * Position `i` of a retrieve row holds the target's prediction for position `i + 1` of that row, so
 * candidate `i + 1` is judged against the target logits at tree node `i`. The accepted length is
 * the leading run of accepted candidates; the committed tokens are the root plus that run.
 *
 * Argmax, softmax, entropy and seeded sampling live in `sampling.ts` and are re-exported here.
 *
 * @module
 */

import { argmax, entropy, softmax } from "./sampling.ts";
import type { TreeBuffers } from "./tree.ts";

export {
  argmax,
  entropy,
  mulberry32,
  sampleFromLogits,
  sampleIndex,
  softmax,
  topK,
} from "./sampling.ts";

/**
 * Target logits per tree node: a row-major `[size, vocabSize]` array, or a function returning the
 * row of one tree position (evaluated at most once per node).
 */
export type NodeLogits = ArrayLike<number> | ((node: number) => ArrayLike<number>);

/** What the target produced for one tree block. */
export interface VerificationInput {
  /** The tree buffers (retrieve rows). */
  buffers: TreeBuffers;
  /** Tokens of the tree block in tree order (root first), length `buffers.size`. */
  tokens: ArrayLike<number>;
  /** Target logits for every tree node. */
  logits: NodeLogits;
  /** Vocabulary size (row length of `logits`). */
  vocabSize: number;
}

/** The chosen path. */
export interface AcceptanceResult {
  /** Row of `buffers.retrieveIndices` that was chosen (0 when nothing was accepted). */
  bestPath: number;
  /** Accepted *draft* tokens (Medusa's `accept_length`); tokens committed = acceptLength + 1. */
  acceptLength: number;
  /** Tree positions committed, root first, length `acceptLength + 1`. */
  acceptedNodes: Int32Array;
  /** Tokens committed (root first), length `acceptLength + 1`. */
  acceptedTokens: Int32Array;
  /** Tree position whose logits predict the next step's root (`acceptedNodes` last entry). */
  lastNode: number;
}

/** Thresholds of typical acceptance. */
export interface TypicalOptions {
  /** Softmax temperature T > 0 of the target distribution. */
  temperature: number;
  /** ε, Medusa's `posterior_threshold` (default 0.09). */
  posteriorThreshold?: number;
  /** δ, Medusa's `posterior_alpha` (default 0.3). */
  posteriorAlpha?: number;
  /** Smoothing inside the entropy's logarithm, Medusa uses `log(p + 1e-5)` (default 1e-5). */
  entropyEps?: number;
}

/** Default ε of typical acceptance (Medusa `posterior_threshold`). */
export const DEFAULT_POSTERIOR_THRESHOLD: number = 0.09;
/** Default δ of typical acceptance (Medusa `posterior_alpha`). */
export const DEFAULT_POSTERIOR_ALPHA: number = 0.3;

/** How verification accepts candidates. */
export type AcceptanceRule = { kind: "greedy" } | ({ kind: "typical" } & TypicalOptions);

/** Result of {@linkcode typicalThreshold}. */
export interface TypicalThreshold {
  /** `p_T = softmax(logits / T)`. */
  probs: Float64Array;
  /** `H(p_T)` in nats (with the configured smoothing). */
  entropy: number;
  /** `min(ε, δ·exp(−H))`; a token x is accepted when `p_T(x) > threshold`. */
  threshold: number;
}

/**
 * The typical-acceptance threshold for one target distribution: `min(ε, δ·exp(−H(p_T)))`.
 *
 * @param logits the target's logits row.
 * @param options temperature, ε, δ, entropy smoothing.
 * @returns probabilities, entropy and threshold.
 */
export function typicalThreshold(
  logits: ArrayLike<number>,
  options: TypicalOptions,
): TypicalThreshold {
  const probs = softmax(logits, { temperature: options.temperature });
  const h = entropy(probs, options.entropyEps ?? 1e-5);
  const eps = options.posteriorThreshold ?? DEFAULT_POSTERIOR_THRESHOLD;
  const alpha = options.posteriorAlpha ?? DEFAULT_POSTERIOR_ALPHA;
  return { probs, entropy: h, threshold: Math.min(eps, alpha * Math.exp(-h)) };
}

function rowAccessor(input: VerificationInput): (node: number) => ArrayLike<number> {
  const { logits, vocabSize, buffers } = input;
  if (typeof logits === "function") return logits;
  if (logits.length < buffers.size * vocabSize) {
    throw new RangeError(
      `acceptance: logits has ${logits.length} values, expected size·vocabSize = ${buffers.size}·${vocabSize}`,
    );
  }
  const sub = (logits as { subarray?: (a: number, b: number) => ArrayLike<number> }).subarray;
  return (node) =>
    sub
      ? sub.call(logits, node * vocabSize, (node + 1) * vocabSize)
      : Array.prototype.slice.call(logits, node * vocabSize, (node + 1) * vocabSize);
}

/** Per-node verdict for the candidate at `child` given the target logits at its parent. */
type Judge = (parent: number, token: number) => { ok: boolean; logProb: number };

function choosePath(
  input: VerificationInput,
  judge: Judge,
  tieBreakByLikelihood: boolean,
): AcceptanceResult {
  const { buffers, tokens } = input;
  if (tokens.length !== buffers.size) {
    throw new RangeError(`acceptance: ${tokens.length} tree tokens, the tree has ${buffers.size}`);
  }
  const w = buffers.pathWidth;
  const verdict = new Map<number, { ok: boolean; logProb: number }>(); // keyed by child node
  let bestPath = 0;
  let bestLength = 0;
  let bestLikelihood = -Infinity;
  for (let p = 0; p < buffers.numPaths; p++) {
    const len = buffers.pathLengths[p];
    let run = 0;
    let likelihood = 0;
    for (let i = 1; i < len; i++) {
      const child = buffers.retrieveIndices[p * w + i];
      let v = verdict.get(child);
      if (v === undefined) {
        v = judge(buffers.retrieveIndices[p * w + i - 1], tokens[child]);
        verdict.set(child, v);
      }
      if (!v.ok) break;
      run++;
      likelihood += v.logProb;
    }
    if (
      run > bestLength ||
      (tieBreakByLikelihood && run === bestLength && run > 0 && likelihood > bestLikelihood)
    ) {
      bestPath = p;
      bestLength = run;
      bestLikelihood = likelihood;
    }
  }
  const acceptedNodes = buffers.retrieveIndices.slice(bestPath * w, bestPath * w + bestLength + 1);
  const acceptedTokens = Int32Array.from(acceptedNodes, (n) => tokens[n]);
  return {
    bestPath,
    acceptLength: bestLength,
    acceptedNodes,
    acceptedTokens,
    lastNode: acceptedNodes[bestLength],
  };
}

/**
 * Greedy acceptance: candidate `i + 1` of a path is accepted when it equals the argmax of the
 * target logits at position `i`; the longest leading run wins, the first path on ties (path 0 when
 * nothing is accepted). Padded positions are never accepted (Medusa pads with token 0 and reads the
 * last node's logits there, which can over-count; we stop at the real path end).
 *
 * @param input tree buffers, tree tokens and target logits.
 * @returns the chosen path.
 */
export function acceptGreedy(input: VerificationInput): AcceptanceResult {
  const row = rowAccessor(input);
  const argmaxCache = new Map<number, number>();
  return choosePath(input, (parent, token) => {
    let best = argmaxCache.get(parent);
    if (best === undefined) {
      best = argmax(row(parent));
      argmaxCache.set(parent, best);
    }
    return { ok: token === best, logProb: 0 };
  }, false);
}

/**
 * Typical acceptance (Medusa fast mode): candidate x is accepted when
 * `p_T(x) > min(ε, δ·exp(−H(p_T)))` for the target distribution at the previous position; the
 * longest leading run wins, ties broken by the larger sum of log-probabilities of the accepted
 * tokens (first path on exact ties; path 0 when nothing is accepted).
 *
 * @param input tree buffers, tree tokens and target logits.
 * @param options temperature, ε (0.09), δ (0.3).
 * @returns the chosen path.
 */
export function acceptTypical(input: VerificationInput, options: TypicalOptions): AcceptanceResult {
  const row = rowAccessor(input);
  const cache = new Map<number, TypicalThreshold>();
  return choosePath(input, (parent, token) => {
    let t = cache.get(parent);
    if (t === undefined) {
      t = typicalThreshold(row(parent), options);
      cache.set(parent, t);
    }
    const p = t.probs[token];
    return { ok: p > t.threshold, logProb: Math.log(p) };
  }, true);
}

/**
 * Dispatches to {@linkcode acceptGreedy} or {@linkcode acceptTypical}.
 *
 * @param input tree buffers, tree tokens and target logits.
 * @param rule greedy or typical (with its thresholds).
 * @returns the chosen path.
 */
export function acceptCandidates(input: VerificationInput, rule: AcceptanceRule): AcceptanceResult {
  return rule.kind === "greedy" ? acceptGreedy(input) : acceptTypical(input, rule);
}
