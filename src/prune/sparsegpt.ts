/**
 * SparseGPT (Frantar & Alistarh, ICML 2023), following the reference `SparseGPT.fasterprune`
 * (`IST-DASLab/sparsegpt`, `sparsegpt.py`) step by step:
 *
 * 1. `H` from the calibration statistics (running mean `(2/n) Σ XXᵀ`, see `stats.ts`).
 * 2. Dead inputs: every `j` with `H_jj == 0` gets `H_jj = 1` and `W[:, j] = 0`.
 * 3. Damping: `H += λI`, `λ = damp · mean(diag H)` (`damp` = percdamp, default 0.01).
 * 4. `L = chol(H)`, `H⁻¹ = cholesky_inverse(L)`, `U = chol(H⁻¹, upper)`.
 * 5. Column blocks `[i1, i2)` of width `blocksize` (default 128), left to right:
 *    - unstructured: scores `W1² / diag(U1)²` of the whole block (all rows pooled); the lowest
 *      are pruned, chosen once at the start of the block;
 *    - N:M: when the in-block column index is a multiple of `m`, score the next `m` columns from
 *      the **current** W1 and prune the `n` lowest of each row;
 *    - per column: `e = (w − q)/U_ii` (q = w with pruned entries zeroed), `loss += e²`,
 *      `W1[:, i:] -= e ⊗ U[i, i:]`;
 *    - lazy batch update `W[:, i2:] -= E · U[i1:i2, i2:]`.
 * 6. `info.loss` is the reference's logged error `Σ loss / 2`.
 *
 * Where this implementation differs, on purpose:
 * - **Exact counts (unstructured).** The reference prunes every block entry with score
 *   `≤ sorted[floor(p·rows·B)]`, i.e. `floor(p·rows·B) + 1` entries when there are no ties (and
 *   one entry per block even at p = 0). Here a block prunes exactly its budget of lowest scores,
 *   ties broken by flat (row-major) index within the block. With `budget: "matrix"` (default)
 *   block b's budget is `floor(p·rows·i2) − floor(p·rows·i1)`, so the whole matrix prunes
 *   exactly `floor(p·rows·cols)` (each block gets the floor or the ceiling of `p·rows·B`; when
 *   `p·rows·B` is an integer, e.g. p = 0.5 with even rows, this is the same as per-block floor);
 *   `budget: "block"` uses `floor(p·rows·B_b)` per block (B_b = the block's own width).
 * - **N:M ties** go to the lower column (`torch.topk` leaves them unspecified).
 * - **Precision.** `precision: "f64"` (default) computes everything in Float64. `"f32"` rounds
 *   H, L, H⁻¹, U and every stored weight update to fp32 (fp32 storage as in the reference, but
 *   each product/sum is formed in Float64, so not bit-identical with PyTorch fp32).
 * - **Damping escalation** (the reference simply fails): if a Cholesky breaks down or U is not
 *   finite, `damp` is multiplied by `dampGrowth` (default 10; from 0 the first step is 1e-4) up
 *   to `maxEscalations` times (default 6), recorded in `info.escalations` / `info.dampUsed`.
 *   Non-finite input (NaN/Inf in H or W) is rejected with a clear error rather than damped.
 *
 * With p = 0 (or n = 0) nothing is pruned, no update happens, and W comes back bit-identical
 * (except dead input columns, which are zeroed as in the reference).
 *
 * Implementation notes: kept columns have zero error (q = w), so only pruned columns update W;
 * the lazy update skips zero errors and is tiled over columns. Layers that share inputs (q/k/v,
 * gate/up) share H; pass one {@link factorHessian} result as `params.factor` to factor it once.
 *
 * What the result is, exactly (checked in `tests/prune_sparsegpt_test.ts` against a naive
 * solver): sequential OBS, i.e. pruning column c moves only the columns right of c to their
 * least-squares optimum given everything left of them. That equals the joint optimum
 * `min_{ŵ_P = 0} (ŵ − w)ᵀH(ŵ − w)` for the chosen mask only when every pruned column of a row lies
 * left of every kept one; in general it is larger. Loss identity: `info.loss =
 * ½·tr(ΔW (H + λI) ΔWᵀ)` with ΔW measured from W after the dead-column fix.
 *
 * @module
 */

import {
  choleskyInverse,
  choleskyLower,
  lowerToUpper,
  NotPositiveDefiniteError,
} from "../linalg/cholesky.ts";
import { roundToFloat32InPlace } from "../linalg/matrix.ts";
import { markSmallestInGroup, smallestIndices } from "../linalg/select.ts";
import { prunedCount, type SparsityPattern, validatePattern } from "./pattern.ts";
import {
  type PruneInfo,
  type PruneResult,
  type PrunerLayer,
  summarizePrune,
  validateLayer,
} from "./types.ts";

/** Arithmetic/storage precision of the SparseGPT computation. */
export type SparseGPTPrecision = "f32" | "f64";

/** Parameters of {@link sparsegptPrune}; all optional. */
export interface SparseGPTParams {
  /** percdamp: damping as a fraction of mean(diag H) (default 0.01). */
  damp?: number;
  /** Columns per block, for mask selection and lazy updates (default 128). */
  blocksize?: number;
  /** `"f64"` (default) or `"f32"` (fp32 storage emulation). */
  precision?: SparseGPTPrecision;
  /** Unstructured budget split: `"matrix"` (default, exact per matrix) or `"block"`. */
  budget?: "matrix" | "block";
  /** How many times damping may be escalated after a failed factorisation (default 6). */
  maxEscalations?: number;
  /** Factor applied to `damp` at each escalation (default 10). */
  dampGrowth?: number;
  /**
   * A factor already computed by {@link factorHessian} from this layer's H with the same damp,
   * precision and escalation settings (layers that share inputs, like q/k/v, share H). Saves the
   * O(cols³) factorisation; the result is identical to computing it here.
   */
  factor?: HessianFactor;
}

/** SparseGPT's info: the common counts plus the reference's diagnostics. */
export interface SparseGPTInfo extends PruneInfo {
  /** The reference's logged error `Σ_i (w_i − q_i)² / U_ii² / 2` (in units of the given H). */
  loss: number;
  /** Requested percdamp. */
  damp: number;
  /** percdamp actually used after escalations. */
  dampUsed: number;
  /** The λ actually added to diag(H). */
  dampAbsolute: number;
  /** Number of damping escalations needed (0 normally). */
  escalations: number;
  /** Number of dead input columns (H_jj == 0) whose weights were zeroed. */
  deadColumns: number;
  /** Block size used. */
  blocksize: number;
  /** Precision used. */
  precision: SparseGPTPrecision;
}

/** Options of {@link factorHessian}. */
export interface FactorOptions {
  /** percdamp (default 0.01). */
  damp?: number;
  /** Maximum escalations (default 6). */
  maxEscalations?: number;
  /** Growth factor per escalation (default 10). */
  dampGrowth?: number;
  /** Precision (default "f64"). */
  precision?: SparseGPTPrecision;
  /** Name for error messages. */
  where?: string;
}

/** Result of {@link factorHessian}. */
export interface HessianFactor {
  /** Upper-triangular U with `UᵀU = (H + λI)⁻¹` (dead diagonal entries set to 1 first). */
  U: Float64Array;
  /** 1 for every dead input column (H_jj == 0). */
  dead: Uint8Array;
  /** Number of dead columns. */
  deadColumns: number;
  /** percdamp actually used. */
  dampUsed: number;
  /** λ actually added. */
  dampAbsolute: number;
  /** Escalations performed. */
  escalations: number;
}

/**
 * Steps 2–4 of SparseGPT: dead-input fix, damping (escalated on failure), and the upper Cholesky
 * factor of the damped inverse Hessian.
 *
 * @param hessian Row-major `[cols, cols]` H (not modified).
 * @param cols Order of H.
 * @param options Damping, escalation and precision.
 * @returns U plus what was done to get it.
 * @throws {RangeError} If H is mis-sized or not finite.
 * @throws {Error} If no damping within the escalation limit makes H positive definite.
 */
export function factorHessian(
  hessian: ArrayLike<number>,
  cols: number,
  options: FactorOptions = {},
): HessianFactor {
  const where = options.where ?? "sparsegpt";
  const damp = options.damp ?? 0.01;
  const maxEscalations = options.maxEscalations ?? 6;
  const growth = options.dampGrowth ?? 10;
  const f32 = (options.precision ?? "f64") === "f32";
  if (hessian.length !== cols * cols) {
    throw new RangeError(
      `${where}: stats.hessian must be a row-major ${cols}×${cols} matrix ` +
        `(collect it with HessianAccumulator), got ${hessian.length} elements`,
    );
  }
  if (!(damp >= 0 && damp < Infinity)) {
    throw new RangeError(`${where}: params.damp = ${damp} must be a finite number ≥ 0`);
  }
  if (!(growth > 1 && growth < Infinity)) {
    throw new RangeError(`${where}: params.dampGrowth = ${growth} must be > 1`);
  }
  const h = Float64Array.from(hessian);
  for (let i = 0; i < h.length; i++) {
    if (!Number.isFinite(h[i])) {
      throw new RangeError(
        `${where}: stats.hessian[${Math.floor(i / cols)}, ${i % cols}] is ${h[i]}; ` +
          `calibration activations contained NaN/Inf (damping cannot fix this)`,
      );
    }
  }
  if (f32) roundToFloat32InPlace(h);
  const dead = new Uint8Array(cols);
  let deadColumns = 0;
  let diagSum = 0;
  for (let j = 0; j < cols; j++) {
    const jj = j * cols + j;
    if (h[jj] === 0) {
      h[jj] = 1;
      dead[j] = 1;
      deadColumns++;
    }
    diagSum += h[jj];
  }
  const meanDiag = diagSum / cols;
  let dampUsed = damp;
  let escalations = 0;
  for (;;) {
    const lambda = f32 ? Math.fround(dampUsed * meanDiag) : dampUsed * meanDiag;
    const hd = Float64Array.from(h);
    for (let j = 0; j < cols; j++) hd[j * cols + j] += lambda;
    if (f32) roundToFloat32InPlace(hd);
    let failure: string | undefined;
    try {
      const l = choleskyLower(hd, cols, { inPlace: true, what: "H + λI" });
      if (f32) roundToFloat32InPlace(l);
      const inv = choleskyInverse(l, cols);
      if (f32) roundToFloat32InPlace(inv);
      const l2 = choleskyLower(inv, cols, { inPlace: true, what: "(H + λI)⁻¹" });
      const u = lowerToUpper(l2, cols);
      if (f32) roundToFloat32InPlace(u);
      let finite = true;
      for (let i = 0; i < u.length; i++) {
        if (!Number.isFinite(u[i])) {
          finite = false;
          break;
        }
      }
      if (finite) {
        return { U: u, dead, deadColumns, dampUsed, dampAbsolute: lambda, escalations };
      }
      failure = "U has non-finite entries";
    } catch (err) {
      if (!(err instanceof NotPositiveDefiniteError)) throw err;
      failure = err.message;
    }
    if (escalations >= maxEscalations) {
      throw new Error(
        `${where}: H is not positive definite even with damping ${dampUsed} × mean(diag H) ` +
          `after ${escalations} escalations (${failure}); use more calibration samples or a ` +
          `larger params.damp / params.maxEscalations`,
      );
    }
    dampUsed = dampUsed > 0 ? dampUsed * growth : 1e-4;
    escalations++;
  }
}

/** Columns per tile of the lazy update (keeps the touched part of U in cache). */
const LAZY_TILE = 256;

/**
 * Prunes one layer with SparseGPT (OBS compensation), unstructured or N:M.
 *
 * @param layer Weights `[rows, cols]`, and `stats.hessian` (`[cols, cols]`).
 * @param pattern Unstructured (budget per block, pooled over rows) or N:M (chosen on the fly).
 * @param params damp (0.01), blocksize (128), precision ("f64"), budget ("matrix"),
 *   maxEscalations (6), dampGrowth (10).
 * @returns Compensated pruned weights, mask (1 = keep) and {@link SparseGPTInfo}.
 * @throws {RangeError} On bad shapes, parameters or non-finite inputs.
 * @throws {Error} If H cannot be made positive definite within the escalation limit.
 */
export function sparsegptPrune(
  layer: PrunerLayer,
  pattern: SparsityPattern,
  params: SparseGPTParams = {},
): PruneResult<SparseGPTInfo> {
  const where = `sparsegpt${layer.name ? ` (${layer.name})` : ""}`;
  validateLayer(layer, "sparsegpt");
  const { rows, cols } = layer;
  validatePattern(pattern, { cols, where });
  const blocksize = params.blocksize ?? 128;
  const precision = params.precision ?? "f64";
  const budget = params.budget ?? "matrix";
  if (!Number.isInteger(blocksize) || blocksize < 1) {
    throw new RangeError(`${where}: params.blocksize = ${blocksize} must be a positive integer`);
  }
  if (pattern.type === "nm" && blocksize % pattern.m !== 0) {
    throw new RangeError(
      `${where}: params.blocksize = ${blocksize} must be a multiple of m = ${pattern.m} ` +
        `for N:M pruning (the reference requires it); use e.g. 128`,
    );
  }
  if (precision !== "f32" && precision !== "f64") {
    throw new RangeError(`${where}: params.precision must be "f32" or "f64", got ${precision}`);
  }
  if (budget !== "matrix" && budget !== "block") {
    throw new RangeError(`${where}: params.budget must be "matrix" or "block", got ${budget}`);
  }
  const hessian = layer.stats.hessian;
  if (!hessian) {
    throw new RangeError(`${where}: stats.hessian is missing; collect it with HessianAccumulator`);
  }
  const f32 = precision === "f32";
  const factor = params.factor ?? factorHessian(hessian, cols, {
    damp: params.damp,
    maxEscalations: params.maxEscalations,
    dampGrowth: params.dampGrowth,
    precision,
    where,
  });
  if (factor.U.length !== cols * cols || factor.dead.length !== cols) {
    throw new RangeError(`${where}: params.factor was computed for another input dimension`);
  }
  const U = factor.U;

  const W = Float64Array.from(layer.W);
  if (factor.deadColumns > 0) {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let j = 0; j < cols; j++) if (factor.dead[j]) W[base + j] = 0;
    }
  }
  // diag(U)² per column, the denominator of the scores.
  const diagSq = new Float64Array(cols);
  for (let j = 0; j < cols; j++) diagSq[j] = U[j * cols + j] * U[j * cols + j];

  const mask = new Uint8Array(rows * cols).fill(1);
  const B = blocksize;
  const errs = new Float64Array(rows * B); // E, compacted per row: nonzero errors only
  const errCols = new Int32Array(rows * B); // their columns
  const errCount = new Int32Array(rows);
  const blockScores = pattern.type === "unstructured" ? new Float64Array(rows * B) : undefined;
  const groupScores = pattern.type === "nm" ? new Float64Array(pattern.m) : undefined;
  let loss = 0;

  for (let i1 = 0; i1 < cols; i1 += B) {
    const i2 = Math.min(i1 + B, cols);
    const count = i2 - i1;

    if (pattern.type === "unstructured" && blockScores) {
      const p = pattern.sparsity;
      const k = budget === "matrix"
        ? prunedCount(p, rows * i2) - prunedCount(p, rows * i1)
        : prunedCount(p, rows * count);
      if (k > 0) {
        const scores = blockScores.subarray(0, rows * count);
        for (let r = 0; r < rows; r++) {
          const base = r * cols + i1;
          const so = r * count;
          for (let c = 0; c < count; c++) {
            const w = W[base + c];
            scores[so + c] = (w * w) / diagSq[i1 + c];
          }
        }
        for (const idx of smallestIndices(scores, k)) {
          const r = (idx / count) | 0;
          mask[r * cols + i1 + (idx - r * count)] = 0;
        }
      }
    }

    // Column sweep inside the block, one row at a time (rows are independent given the mask).
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let nz = 0;
      const eo = r * B;
      for (let col = i1; col < i2; col++) {
        if (pattern.type === "nm" && groupScores && (col - i1) % pattern.m === 0) {
          for (let g = 0; g < pattern.m; g++) {
            const w = W[base + col + g];
            groupScores[g] = (w * w) / diagSq[col + g];
          }
          markSmallestInGroup(groupScores, 0, pattern.m, pattern.n, mask, base + col);
        }
        if (mask[base + col] !== 0) continue; // q = w: zero error, no update
        const e = W[base + col] / U[col * cols + col];
        loss += e * e;
        W[base + col] = 0;
        const uo = col * cols;
        if (f32) {
          for (let j = col + 1; j < i2; j++) {
            W[base + j] = Math.fround(W[base + j] - e * U[uo + j]);
          }
        } else {
          for (let j = col + 1; j < i2; j++) W[base + j] -= e * U[uo + j];
        }
        errs[eo + nz] = e;
        errCols[eo + nz] = col;
        nz++;
      }
      errCount[r] = nz;
    }

    // Lazy batch update W[:, i2:] -= E · U[i1:i2, i2:], skipping zero errors, tiled over columns.
    if (i2 < cols) {
      for (let t1 = i2; t1 < cols; t1 += LAZY_TILE) {
        const t2 = Math.min(t1 + LAZY_TILE, cols);
        for (let r = 0; r < rows; r++) {
          const nz = errCount[r];
          const base = r * cols;
          const eo = r * B;
          let q = 0;
          for (; q + 3 < nz; q += 4) {
            const e0 = errs[eo + q], e1 = errs[eo + q + 1];
            const e2 = errs[eo + q + 2], e3 = errs[eo + q + 3];
            const u0 = errCols[eo + q] * cols, u1 = errCols[eo + q + 1] * cols;
            const u2 = errCols[eo + q + 2] * cols, u3 = errCols[eo + q + 3] * cols;
            for (let j = t1; j < t2; j++) {
              W[base + j] -= e0 * U[u0 + j] + e1 * U[u1 + j] + e2 * U[u2 + j] + e3 * U[u3 + j];
            }
          }
          for (; q < nz; q++) {
            const e0 = errs[eo + q];
            const u0 = errCols[eo + q] * cols;
            for (let j = t1; j < t2; j++) W[base + j] -= e0 * U[u0 + j];
          }
        }
      }
      if (f32) {
        for (let r = 0; r < rows; r++) {
          const base = r * cols;
          for (let j = i2; j < cols; j++) W[base + j] = Math.fround(W[base + j]);
        }
      }
    }
  }

  const out = Float32Array.from(W);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) {
      throw new Error(
        `${where}: compensated weight [${Math.floor(i / cols)}, ${i % cols}] is ${out[i]}; ` +
          `H is too ill-conditioned, raise params.damp`,
      );
    }
  }
  loss /= 2;
  if (!Number.isFinite(loss)) {
    throw new Error(`${where}: reconstruction loss is ${loss}; raise params.damp`);
  }
  const info: SparseGPTInfo = {
    ...summarizePrune({ method: "sparsegpt", pattern, rows, cols, W: out, mask }),
    loss,
    damp: params.damp ?? 0.01,
    dampUsed: factor.dampUsed,
    dampAbsolute: factor.dampAbsolute,
    escalations: factor.escalations,
    deadColumns: factor.deadColumns,
    blocksize,
    precision,
  };
  return { W: out, mask, info };
}
