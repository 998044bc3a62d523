/**
 * The pruner contract shared by every method.
 *
 * A pruner is a pure function `(layer, pattern, params) → {W, mask, info}`: it reads the weights
 * of one linear layer and the calibration statistics collected from that layer's inputs, and
 * returns new weights plus the mask it chose. It never touches files, sessions or clocks and
 * never modifies its inputs; with the same inputs it returns bit-identical outputs.
 *
 * @module
 */

import { countPruned, countZeros, patternLabel, type SparsityPattern } from "./pattern.ts";

/**
 * Calibration statistics of one linear layer's inputs (collected by the accumulators in
 * `stats.ts`). Which fields a method needs is declared in the registry.
 */
export interface CalibrationStats {
  /**
   * SparseGPT's `H = (2/n) Σ_s X_s X_sᵀ` over `n` calibration sequences, row-major
   * `[cols, cols]`, symmetric.
   */
  hessian?: Float64Array | Float32Array;
  /**
   * Wanda's running mean over sequences of the squared input-column norms `‖X_{s,j}‖²`,
   * length `cols`. `sqrt` of it is proportional to `‖X_j‖₂`.
   */
  colSqNorms?: Float64Array | Float32Array;
  /** Number of calibration sequences the statistics average over. */
  nsamples?: number;
}

/** One linear layer handed to a pruner. */
export interface PrunerLayer {
  /** Weights `[rows, cols]` row-major (`y = W x`); not modified. */
  W: Float32Array;
  /** Output dimension (d_out). */
  rows: number;
  /** Input dimension (d_in); N:M groups run along it. */
  cols: number;
  /** Calibration statistics (may be empty for magnitude pruning). */
  stats: CalibrationStats;
  /** Optional name for error messages (e.g. `"layers.3.mlp.down_proj"`). */
  name?: string;
}

/** What every pruner reports; JSON-ready (numbers and strings only, never NaN). */
export interface PruneInfo {
  /** Method name as in the registry. */
  method: string;
  /** Pattern label (`"50%"`, `"2:4"`). */
  pattern: string;
  /** Output dimension. */
  rows: number;
  /** Input dimension. */
  cols: number;
  /** Number of positions the method chose to prune (zeros of the mask). */
  pruned: number;
  /**
   * Number of exact zeros in the returned weights. At least `pruned`; larger when weights were
   * already zero or (SparseGPT) input columns were dead.
   */
  zeros: number;
  /** Achieved sparsity `zeros / (rows · cols)`. */
  sparsity: number;
}

/** The result of pruning one layer. */
export interface PruneResult<I extends PruneInfo = PruneInfo> {
  /** New weights `[rows, cols]`, row-major; zero wherever `mask` is 0. */
  W: Float32Array;
  /** Mask aligned with W: 1 = kept, 0 = pruned. */
  mask: Uint8Array;
  /** Counts and method-specific diagnostics. */
  info: I;
}

/**
 * A pruning method: pure function of one layer, a pattern and method parameters.
 *
 * @typeParam P Method parameters (all optional, with documented defaults).
 * @typeParam I Method-specific info.
 */
export type Pruner<P = Record<string, never>, I extends PruneInfo = PruneInfo> = (
  layer: PrunerLayer,
  pattern: SparsityPattern,
  params?: P,
) => PruneResult<I>;

/**
 * Checks the layer's shape and weights, naming the field and the fix on failure.
 *
 * @param layer The layer.
 * @param method Method name for messages.
 * @throws {RangeError} On a shape mismatch or non-finite weights.
 */
export function validateLayer(layer: PrunerLayer, method: string): void {
  const where = `${method}${layer.name ? ` (${layer.name})` : ""}`;
  const { rows, cols, W } = layer;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new RangeError(`${where}: rows and cols must be positive integers, got ${rows}×${cols}`);
  }
  if (!(W instanceof Float32Array) || W.length !== rows * cols) {
    throw new RangeError(
      `${where}: layer.W must be a Float32Array of rows·cols = ${rows * cols} elements ` +
        `(row-major [d_out, d_in]), got ${W?.length}`,
    );
  }
  for (let i = 0; i < W.length; i++) {
    if (!Number.isFinite(W[i])) {
      throw new RangeError(
        `${where}: layer.W[${Math.floor(i / cols)}, ${i % cols}] is ${W[i]}; ` +
          `weights must be finite`,
      );
    }
  }
}

/** Inputs of {@link summarizePrune}. */
export interface SummaryInput {
  /** Method name. */
  method: string;
  /** The pattern applied. */
  pattern: SparsityPattern;
  /** Output dimension. */
  rows: number;
  /** Input dimension. */
  cols: number;
  /** Returned weights. */
  W: Float32Array;
  /** Returned mask (1 = keep). */
  mask: Uint8Array;
}

/**
 * Builds the common {@link PruneInfo} counts from a pruner's output.
 *
 * @param input Method, pattern, shape, weights and mask.
 * @returns The info.
 */
export function summarizePrune(input: SummaryInput): PruneInfo {
  const zeros = countZeros(input.W);
  return {
    method: input.method,
    pattern: patternLabel(input.pattern),
    rows: input.rows,
    cols: input.cols,
    pruned: countPruned(input.mask),
    zeros,
    sparsity: zeros / (input.rows * input.cols),
  };
}
