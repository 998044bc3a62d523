/**
 * Wanda (Sun et al., ICLR 2024), as `locuslab/wanda` `prune_wanda` does it: score
 * `S_ij = |W_ij| · sqrt(r_j)`, where `r_j` is the running mean over calibration sequences of the
 * squared norm of input feature j (`ColumnNormAccumulator`); no weight update.
 *
 * - Unstructured: per output row, zero exactly `floor(cols · p)` lowest scores (stable sort, so
 *   ties go to the lower column index). Every row has the same sparsity.
 * - N:M: per row, in every aligned group of `m` input columns, zero the `n` lowest scores (ties:
 *   lower column first; `torch.topk` leaves tie order unspecified).
 *
 * Scores are computed in Float64 from the fp32 weights (the reference multiplies in fp32), which
 * can only change the order of scores that differ in the last fp32 bit.
 *
 * @module
 */

import {
  applyMask,
  nmMaskFromScores,
  prunedCount,
  rowMaskFromScores,
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

/** Wanda has no parameters beyond the pattern (the `--use_variant` mode is not implemented). */
export type WandaParams = Record<string, never>;

/**
 * Prunes one layer with Wanda.
 *
 * @param layer Weights, shape and `stats.colSqNorms` (length `cols`).
 * @param pattern Unstructured (per row) or N:M (per group).
 * @param _params None.
 * @returns Pruned weights, mask (1 = keep) and counts.
 * @throws {RangeError} If `stats.colSqNorms` is missing, mis-sized, negative or not finite.
 */
export function wandaPrune(
  layer: PrunerLayer,
  pattern: SparsityPattern,
  _params: WandaParams = {},
): PruneResult<PruneInfo> {
  validateLayer(layer, "wanda");
  const { W, rows, cols } = layer;
  const where = `wanda${layer.name ? ` (${layer.name})` : ""}`;
  validatePattern(pattern, { cols, where });
  const r = layer.stats.colSqNorms;
  if (!r || r.length !== cols) {
    throw new RangeError(
      `${where}: stats.colSqNorms must hold ${cols} squared input-column norms ` +
        `(collect them with ColumnNormAccumulator), got ${r ? r.length : "none"}`,
    );
  }
  const scale = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    if (!(r[j] >= 0 && r[j] < Infinity)) {
      throw new RangeError(`${where}: stats.colSqNorms[${j}] = ${r[j]} must be finite and ≥ 0`);
    }
    scale[j] = Math.sqrt(r[j]);
  }
  const scores = new Float64Array(W.length);
  for (let i = 0; i < rows; i++) {
    const off = i * cols;
    for (let j = 0; j < cols; j++) scores[off + j] = Math.abs(W[off + j]) * scale[j];
  }
  const mask = pattern.type === "nm"
    ? nmMaskFromScores(scores, { rows, cols }, pattern)
    : rowMaskFromScores(scores, { rows, cols }, prunedCount(pattern.sparsity, cols));
  const out = applyMask(W, mask);
  return {
    W: out,
    mask,
    info: summarizePrune({ method: "wanda", pattern, rows, cols, W: out, mask }),
  };
}
