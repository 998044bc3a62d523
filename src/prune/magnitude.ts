/**
 * Magnitude pruning, as the reference baselines do it (SparseGPT `--gmp`, Wanda
 * `prune_magnitude`): score `|W_ij|`, no calibration data, no weight update.
 *
 * - Unstructured: **one threshold per matrix**. Exactly `floor(p · rows · cols)` weights with the
 *   smallest `|W|` are zeroed, ties broken by flat row-major index (lower first).
 *   Deviation, stated: the reference zeroes every weight with `|W| ≤ sorted[floor(p·numel)]`,
 *   which is one more weight than `floor(p·numel)` (plus any ties at the threshold), and at
 *   p = 0 still zeroes the smallest weight. Here the count is exact.
 * - N:M: in every row and every aligned group of `m` input columns, zero the `n` smallest
 *   (ties: lower column first; `torch.topk` leaves tie order unspecified).
 *
 * @module
 */

import {
  applyMask,
  matrixMaskFromScores,
  nmMaskFromScores,
  prunedCount,
  type SparsityPattern,
  validatePattern,
} from "./pattern.ts";
import {
  type PruneInfo,
  type PruneResult,
  type PrunerLayer,
  summarizePrune,
  validateLayer,
} from "./types.ts";

/** Magnitude pruning has no parameters. */
export type MagnitudeParams = Record<string, never>;

/**
 * Prunes one layer by weight magnitude.
 *
 * @param layer Weights and shape (statistics are ignored).
 * @param pattern Unstructured (one threshold per matrix) or N:M (per group).
 * @param _params None.
 * @returns Pruned weights, mask (1 = keep) and counts.
 */
export function magnitudePrune(
  layer: PrunerLayer,
  pattern: SparsityPattern,
  _params: MagnitudeParams = {},
): PruneResult<PruneInfo> {
  validateLayer(layer, "magnitude");
  const { W, rows, cols } = layer;
  validatePattern(pattern, { cols, where: `magnitude${layer.name ? ` (${layer.name})` : ""}` });
  const scores = new Float64Array(W.length);
  for (let i = 0; i < W.length; i++) scores[i] = Math.abs(W[i]);
  const mask = pattern.type === "nm"
    ? nmMaskFromScores(scores, { rows, cols }, pattern)
    : matrixMaskFromScores(scores, prunedCount(pattern.sparsity, rows * cols));
  const out = applyMask(W, mask);
  return {
    W: out,
    mask,
    info: summarizePrune({ method: "magnitude", pattern, rows, cols, W: out, mask }),
  };
}
