/**
 * Layer reconstruction error `‖W X − Ŵ X‖²_F`, the quantity all pruners approximately minimise.
 *
 * Two routes that agree (up to rounding):
 * - {@link reconstructionErrorFromInputs}: directly from the calibration inputs
 *   (`X` given row-major `[tokens, cols]`, one token per row): `Σ_t ‖(W − Ŵ) x_t‖²`.
 * - {@link reconstructionErrorFromHessian}: from any symmetric `H`:
 *   `tr((W − Ŵ) H (W − Ŵ)ᵀ) = Σ_r δ_rᵀ H δ_r`. With the accumulated SparseGPT statistic
 *   `H = (2/n) XXᵀ` (n sequences) this is `(2/n)‖WX − ŴX‖²_F`;
 *   {@link reconstructionErrorFromStats} undoes that scaling.
 *
 * All sums are in Float64.
 *
 * @module
 */

import type { DenseArray } from "../linalg/matrix.ts";

/** Two weight matrices of the same shape. */
export interface WeightPair {
  /** Original weights `[rows, cols]`. */
  W: DenseArray;
  /** Modified (pruned) weights `[rows, cols]`. */
  What: DenseArray;
  /** Output dimension. */
  rows: number;
  /** Input dimension. */
  cols: number;
}

function checkPair(who: string, p: WeightPair): void {
  const n = p.rows * p.cols;
  if (p.W.length !== n || p.What.length !== n) {
    throw new RangeError(
      `${who}: W (${p.W.length}) and What (${p.What.length}) must both hold rows·cols = ${n}`,
    );
  }
}

/**
 * `tr((W − Ŵ) H (W − Ŵ)ᵀ)` for a symmetric `H` (`[cols, cols]`, row-major).
 *
 * @param pair The two weight matrices.
 * @param hessian Row-major symmetric `[cols, cols]`.
 * @returns The trace (≥ 0 for positive semi-definite H).
 */
export function reconstructionErrorFromHessian(pair: WeightPair, hessian: DenseArray): number {
  checkPair("reconstructionErrorFromHessian", pair);
  const { W, What, rows, cols } = pair;
  if (hessian.length !== cols * cols) {
    throw new RangeError(`reconstructionErrorFromHessian: H must be ${cols}×${cols}`);
  }
  const delta = new Float64Array(cols);
  const nzIdx = new Int32Array(cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let nnz = 0;
    for (let j = 0; j < cols; j++) {
      const d = W[base + j] - What[base + j];
      delta[j] = d;
      if (d !== 0) nzIdx[nnz++] = j;
    }
    // δᵀHδ over the nonzero entries of δ only (pruning often leaves many unchanged).
    let s = 0;
    for (let a = 0; a < nnz; a++) {
      const i = nzIdx[a];
      const hi = i * cols;
      let t = 0;
      for (let b = 0; b < nnz; b++) {
        const j = nzIdx[b];
        t += hessian[hi + j] * delta[j];
      }
      s += delta[i] * t;
    }
    total += s;
  }
  return total;
}

/**
 * `‖W X − Ŵ X‖²_F` from the accumulated SparseGPT statistic `H = (2/n) XXᵀ`:
 * `tr((W − Ŵ) H (W − Ŵ)ᵀ) · n / 2`.
 *
 * @param pair The two weight matrices.
 * @param stats `hessian` and `nsamples` as produced by `HessianAccumulator.stats()`.
 * @returns The squared Frobenius reconstruction error over all calibration tokens.
 */
export function reconstructionErrorFromStats(
  pair: WeightPair,
  stats: { hessian?: DenseArray; nsamples?: number },
): number {
  if (!stats.hessian || !stats.nsamples) {
    throw new RangeError(
      "reconstructionErrorFromStats: stats.hessian and stats.nsamples (> 0) are required",
    );
  }
  return reconstructionErrorFromHessian(pair, stats.hessian) * stats.nsamples / 2;
}

/**
 * `‖W X − Ŵ X‖²_F = Σ_t ‖(W − Ŵ) x_t‖²` directly from the inputs.
 *
 * @param pair The two weight matrices.
 * @param x Row-major `[tokens, cols]` layer inputs (one token per row).
 * @returns The squared Frobenius reconstruction error.
 */
export function reconstructionErrorFromInputs(pair: WeightPair, x: DenseArray): number {
  checkPair("reconstructionErrorFromInputs", pair);
  const { W, What, rows, cols } = pair;
  const tokens = x.length / cols;
  if (!Number.isInteger(tokens)) {
    throw new RangeError(
      `reconstructionErrorFromInputs: x has ${x.length} elements, not a multiple of cols=${cols}`,
    );
  }
  // D = W − Ŵ, then each output element (D x_t)_r as a contiguous dot product.
  const d = new Float64Array(rows * cols);
  for (let i = 0; i < d.length; i++) d[i] = W[i] - What[i];
  let total = 0;
  for (let t = 0; t < tokens; t++) {
    const xo = t * cols;
    for (let r = 0; r < rows; r++) {
      const ro = r * cols;
      let s = 0;
      for (let j = 0; j < cols; j++) s += d[ro + j] * x[xo + j];
      total += s * s;
    }
  }
  return total;
}
