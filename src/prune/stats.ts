/**
 * Calibration statistic accumulators, fed with a linear layer's inputs one batch at a time.
 *
 * Activation batches are row-major `[tokens, d_in]` `Float32Array`s (one token per row), and a
 * batch holds `sequences` calibration sequences (default 1; the reference hooks see one sequence
 * per forward pass). Both accumulators keep a **running mean over sequences**, exactly like the
 * reference `add_batch` methods:
 *
 * - {@link HessianAccumulator} (SparseGPT `add_batch`): `H *= n/(n+b); n += b;
 *   H += (2/n) · XᵀX`, so after `n` sequences `H = (2/n) Σ_s X_sᵀX_s` (`n` counts sequences,
 *   not tokens).
 * - {@link ColumnNormAccumulator} (Wanda `WrappedGPT.add_batch`): `r *= n/(n+b); n += b;
 *   r_j += ‖X_{:,j}‖² / n`.
 *
 * Precision: the reference keeps both in fp32. Here the sums are computed in Float64; with
 * `precision: "f64"` (default) the running statistic stays Float64, with `precision: "f32"` it is
 * rounded to fp32 after every batch (fp32 storage, as the reference; the arithmetic within a
 * batch is still Float64, so results are close to but not bit-identical with PyTorch's).
 *
 * @module
 */

import { addGramUpper, roundToFloat32InPlace, symmetrizeFromUpper } from "../linalg/matrix.ts";
import type { CalibrationStats } from "./types.ts";

/** Storage precision of an accumulated statistic. */
export type StatsPrecision = "f32" | "f64";

/** Options for a batch handed to an accumulator. */
export interface BatchOptions {
  /** Number of tokens (rows) in the batch; default `x.length / dIn`. */
  tokens?: number;
  /** Number of calibration sequences in the batch (the running-mean weight); default 1. */
  sequences?: number;
}

/** Options for creating an accumulator. */
export interface AccumulatorOptions {
  /** Storage precision (default `"f64"`). */
  precision?: StatsPrecision;
}

function batchTokens(
  who: string,
  x: Float32Array,
  dIn: number,
  options: BatchOptions,
): { tokens: number; sequences: number } {
  if (!(x instanceof Float32Array)) {
    throw new TypeError(`${who}.addBatch: x must be a Float32Array [tokens, d_in] row-major`);
  }
  const tokens = options.tokens ?? x.length / dIn;
  if (!Number.isInteger(tokens) || tokens * dIn !== x.length) {
    throw new RangeError(
      `${who}.addBatch: x has ${x.length} elements, not tokens × d_in with d_in = ${dIn}; ` +
        `pass row-major [tokens, ${dIn}] activations`,
    );
  }
  const sequences = options.sequences ?? 1;
  if (!Number.isInteger(sequences) || sequences < 1) {
    throw new RangeError(`${who}.addBatch: sequences must be a positive integer, got ${sequences}`);
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new RangeError(
        `${who}.addBatch: activation [token ${Math.floor(i / dIn)}, feature ${i % dIn}] is ` +
          `${x[i]}; calibration inputs must be finite (check the model in fp32)`,
      );
    }
  }
  return { tokens, sequences };
}

/**
 * Accumulates SparseGPT's layer Hessian `H = (2/n) Σ_s X_sᵀ X_s` (d_in × d_in) as a running mean
 * over calibration sequences.
 */
export class HessianAccumulator {
  /** Input dimension. */
  readonly dIn: number;
  /** Storage precision. */
  readonly precision: StatsPrecision;
  /** Row-major `[dIn, dIn]` running H (symmetric). Read it through {@link stats}. */
  readonly H: Float64Array;
  #nsamples = 0;

  /**
   * Creates an empty accumulator (nsamples = 0).
   *
   * @param dIn Input dimension of the layer.
   * @param options Storage precision.
   */
  constructor(dIn: number, options: AccumulatorOptions = {}) {
    if (!Number.isInteger(dIn) || dIn < 1) {
      throw new RangeError(`HessianAccumulator: dIn must be a positive integer, got ${dIn}`);
    }
    this.dIn = dIn;
    this.precision = options.precision ?? "f64";
    this.H = new Float64Array(dIn * dIn);
  }

  /** Number of sequences accumulated so far. */
  get nsamples(): number {
    return this.#nsamples;
  }

  /**
   * Adds one batch of layer inputs.
   *
   * @param x Row-major `[tokens, dIn]` activations.
   * @param options Token count and number of sequences in the batch.
   */
  addBatch(x: Float32Array, options: BatchOptions = {}): void {
    const { tokens, sequences } = batchTokens("HessianAccumulator", x, this.dIn, options);
    const h = this.H;
    const keep = this.#nsamples / (this.#nsamples + sequences);
    for (let i = 0; i < h.length; i++) h[i] *= keep;
    this.#nsamples += sequences;
    addGramUpper(h, x, { rows: tokens, cols: this.dIn, scale: 2 / this.#nsamples });
    symmetrizeFromUpper(h, this.dIn);
    if (this.precision === "f32") roundToFloat32InPlace(h);
  }

  /**
   * The statistics for a pruner: a copy of H and the sequence count.
   *
   * @returns `{ hessian, nsamples }`.
   */
  stats(): CalibrationStats {
    return { hessian: Float64Array.from(this.H), nsamples: this.#nsamples };
  }
}

/**
 * Accumulates Wanda's per-input-column statistic: the running mean over sequences of
 * `‖X_{s,:,j}‖²` (the reference's `scaler_row`). Scores use `sqrt` of it.
 */
export class ColumnNormAccumulator {
  /** Input dimension. */
  readonly dIn: number;
  /** Storage precision. */
  readonly precision: StatsPrecision;
  /** Running mean of squared column norms, length `dIn`. Read it through {@link stats}. */
  readonly colSqNorms: Float64Array;
  #nsamples = 0;
  #scratch: Float64Array;

  /**
   * Creates an empty accumulator (nsamples = 0).
   *
   * @param dIn Input dimension of the layer.
   * @param options Storage precision.
   */
  constructor(dIn: number, options: AccumulatorOptions = {}) {
    if (!Number.isInteger(dIn) || dIn < 1) {
      throw new RangeError(`ColumnNormAccumulator: dIn must be a positive integer, got ${dIn}`);
    }
    this.dIn = dIn;
    this.precision = options.precision ?? "f64";
    this.colSqNorms = new Float64Array(dIn);
    this.#scratch = new Float64Array(dIn);
  }

  /** Number of sequences accumulated so far. */
  get nsamples(): number {
    return this.#nsamples;
  }

  /**
   * Adds one batch of layer inputs.
   *
   * @param x Row-major `[tokens, dIn]` activations.
   * @param options Token count and number of sequences in the batch.
   */
  addBatch(x: Float32Array, options: BatchOptions = {}): void {
    const { tokens, sequences } = batchTokens("ColumnNormAccumulator", x, this.dIn, options);
    const d = this.dIn;
    const sq = this.#scratch.fill(0);
    for (let t = 0; t < tokens; t++) {
      const off = t * d;
      for (let j = 0; j < d; j++) {
        const v = x[off + j];
        sq[j] += v * v;
      }
    }
    const r = this.colSqNorms;
    const keep = this.#nsamples / (this.#nsamples + sequences);
    this.#nsamples += sequences;
    const n = this.#nsamples;
    for (let j = 0; j < d; j++) r[j] = r[j] * keep + sq[j] / n;
    if (this.precision === "f32") roundToFloat32InPlace(r);
  }

  /**
   * The statistics for a pruner: a copy of the squared norms and the sequence count.
   *
   * @returns `{ colSqNorms, nsamples }`.
   */
  stats(): CalibrationStats {
    return { colSqNorms: Float64Array.from(this.colSqNorms), nsamples: this.#nsamples };
  }
}
