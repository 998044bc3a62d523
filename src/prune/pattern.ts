/**
 * Sparsity patterns and mask helpers.
 *
 * Conventions (as in the SparseGPT and Wanda reference code):
 * - Weights are `[rows = d_out, cols = d_in]`, row-major; `y = W x`.
 * - **Unstructured** at ratio `sparsity`: the number of pruned weights in a comparison group of
 *   `count` weights is `floor(count · sparsity)` (the reference's `int(numel * sparsity)`).
 * - **N:M**: `n` is the number **zeroed** in every group of `m` consecutive input columns of a
 *   row, groups starting at multiples of `m` ("2:4" zeroes 2 of every 4; "4:8" zeroes 4 of 8).
 *   `cols` must be a multiple of `m`.
 * - Masks are `Uint8Array`s aligned with W: **1 = weight kept, 0 = weight pruned**.
 *
 * @module
 */

import { markSmallestInGroup, smallestIndices } from "../linalg/select.ts";

/** Unstructured sparsity: a fraction `sparsity` ∈ [0, 1] of each comparison group is pruned. */
export interface UnstructuredPattern {
  /** Discriminant. */
  type: "unstructured";
  /** Fraction of weights to prune, in [0, 1]. */
  sparsity: number;
}

/** N:M semi-structured sparsity: `n` of every `m` consecutive input-column weights are zeroed. */
export interface NMPattern {
  /** Discriminant. */
  type: "nm";
  /** Number of weights **zeroed** per group (2 in "2:4"). */
  n: number;
  /** Group size along the input dimension (4 in "2:4"). */
  m: number;
}

/** A sparsity pattern. */
export type SparsityPattern = UnstructuredPattern | NMPattern;

/**
 * An unstructured pattern.
 *
 * @param sparsity Fraction to prune, in [0, 1].
 * @returns The validated pattern.
 */
export function unstructured(sparsity: number): UnstructuredPattern {
  const p: UnstructuredPattern = { type: "unstructured", sparsity };
  validatePattern(p);
  return p;
}

/**
 * An N:M pattern (`n` zeroed of every `m`).
 *
 * @param n Zeroed per group.
 * @param m Group size.
 * @returns The validated pattern.
 */
export function nm(n: number, m: number): NMPattern {
  const p: NMPattern = { type: "nm", n, m };
  validatePattern(p);
  return p;
}

/**
 * Parses a pattern from text: `"2:4"`, `"4:8"` (N:M, N zeroed), `"0.5"`, `"50%"` or
 * `"unstructured:0.5"`.
 *
 * @param text The pattern text.
 * @returns The validated pattern.
 * @throws {RangeError} With the accepted forms, if the text is not one of them.
 */
export function parsePattern(text: string): SparsityPattern {
  const s = text.trim();
  const nmMatch = /^(\d+):(\d+)$/.exec(s);
  if (nmMatch) return nm(Number(nmMatch[1]), Number(nmMatch[2]));
  const body = s.startsWith("unstructured:") ? s.slice("unstructured:".length) : s;
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(body);
  if (pct) return unstructured(Number(pct[1]) / 100);
  if (/^\d*\.?\d+(?:e-?\d+)?$/i.test(body)) return unstructured(Number(body));
  throw new RangeError(
    `pattern "${text}" is not understood; use "N:M" (e.g. "2:4", N zeroed of M), ` +
      `a fraction ("0.5"), a percentage ("50%") or "unstructured:0.5"`,
  );
}

/**
 * A short, stable label: `"2:4"` for N:M, `"50%"` for unstructured (up to 6 decimals).
 *
 * @param pattern The pattern.
 * @returns The label.
 */
export function patternLabel(pattern: SparsityPattern): string {
  if (pattern.type === "nm") return `${pattern.n}:${pattern.m}`;
  return `${Number((pattern.sparsity * 100).toFixed(6))}%`;
}

/**
 * The nominal fraction of weights a pattern prunes (`n/m` for N:M).
 *
 * @param pattern The pattern.
 * @returns The fraction.
 */
export function patternSparsity(pattern: SparsityPattern): number {
  return pattern.type === "nm" ? pattern.n / pattern.m : pattern.sparsity;
}

/** Context for {@link validatePattern}. */
export interface PatternContext {
  /** Number of input columns of the matrix the pattern will be applied to (checks N:M fit). */
  cols?: number;
  /** Where the pattern came from, for error messages (e.g. a JSON path). */
  where?: string;
}

/**
 * Checks a pattern (and, given `cols`, that N:M groups tile the rows exactly).
 *
 * @param pattern The pattern.
 * @param context Optional matrix width and error location.
 * @throws {RangeError} Naming the field and the fix.
 */
export function validatePattern(pattern: SparsityPattern, context: PatternContext = {}): void {
  const at = context.where ? `${context.where}: ` : "";
  if (pattern.type === "unstructured") {
    const p = pattern.sparsity;
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
      throw new RangeError(`${at}sparsity ${p} must be a number in [0, 1]`);
    }
    return;
  }
  if (pattern.type === "nm") {
    const { n, m } = pattern;
    if (!Number.isInteger(m) || m < 1) {
      throw new RangeError(`${at}N:M pattern needs an integer group size m ≥ 1, got ${m}`);
    }
    if (!Number.isInteger(n) || n < 0 || n > m) {
      throw new RangeError(`${at}N:M pattern needs an integer n in [0, m=${m}], got ${n}`);
    }
    if (context.cols !== undefined && context.cols % m !== 0) {
      throw new RangeError(
        `${at}N:M groups of m=${m} must tile the input dimension, but cols=${context.cols} ` +
          `is not a multiple of ${m}; choose m dividing ${context.cols}`,
      );
    }
    return;
  }
  throw new RangeError(
    `${at}unknown pattern type ${JSON.stringify((pattern as { type?: unknown }).type)}; ` +
      `use "unstructured" or "nm"`,
  );
}

/**
 * The number of weights pruned from a comparison group of `count` weights at ratio `sparsity`:
 * `floor(count · sparsity)`, the reference code's `int(numel * sparsity)`.
 *
 * @param sparsity Fraction in [0, 1].
 * @param count Group size.
 * @returns The count to prune.
 */
export function prunedCount(sparsity: number, count: number): number {
  return Math.min(count, Math.floor(count * sparsity));
}

/**
 * Number of pruned positions (zeros) in a mask.
 *
 * @param mask 1 = kept, 0 = pruned.
 * @returns How many are 0.
 */
export function countPruned(mask: Uint8Array): number {
  let z = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] === 0) z++;
  return z;
}

/**
 * Number of exact zeros in a weight array.
 *
 * @param w The weights.
 * @returns How many entries are `0` (or `-0`).
 */
export function countZeros(w: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < w.length; i++) if (w[i] === 0) z++;
  return z;
}

/** Matrix shape. */
export interface MatrixShape {
  /** Output dimension (d_out). */
  rows: number;
  /** Input dimension (d_in). */
  cols: number;
}

/**
 * Mask pruning the `k` lowest scores of the whole matrix, ties broken by flat index (lower
 * first). Used by magnitude pruning (one threshold per matrix).
 *
 * @param scores Row-major scores, one per weight.
 * @param k Number to prune.
 * @returns Mask (1 = keep).
 */
export function matrixMaskFromScores(scores: ArrayLike<number>, k: number): Uint8Array {
  const mask = new Uint8Array(scores.length).fill(1);
  for (const i of smallestIndices(scores, k)) mask[i] = 0;
  return mask;
}

/**
 * Mask pruning the `perRow` lowest scores of each row, ties broken by column index (the
 * equivalent of a stable per-row sort). Used by Wanda unstructured.
 *
 * @param scores Row-major scores.
 * @param shape Matrix shape.
 * @param perRow Number to prune in every row.
 * @returns Mask (1 = keep).
 */
export function rowMaskFromScores(
  scores: Float64Array,
  shape: MatrixShape,
  perRow: number,
): Uint8Array {
  const { rows, cols } = shape;
  const mask = new Uint8Array(rows * cols).fill(1);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    for (const c of smallestIndices(scores.subarray(off, off + cols), perRow)) mask[off + c] = 0;
  }
  return mask;
}

/**
 * N:M mask: in every row and every group of `m` columns starting at a multiple of `m`, prune the
 * `n` lowest scores (ties broken by lower column index).
 *
 * @param scores Row-major scores.
 * @param shape Matrix shape (`cols` must be a multiple of `m`).
 * @param pattern The N:M pattern.
 * @returns Mask (1 = keep).
 */
export function nmMaskFromScores(
  scores: ArrayLike<number>,
  shape: MatrixShape,
  pattern: NMPattern,
): Uint8Array {
  const { rows, cols } = shape;
  validatePattern(pattern, { cols });
  const mask = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += pattern.m) {
      markSmallestInGroup(scores, r * cols + g, pattern.m, pattern.n, mask);
    }
  }
  return mask;
}

/** Outcome of an N:M check. */
export interface NMCheck {
  /** True when every group passes. */
  valid: boolean;
  /** Number of groups that fail. */
  badGroups: number;
  /** Row and first column of the first failing group, if any. */
  first?: { row: number; col: number };
}

/**
 * Checks that a mask prunes **exactly** `n` of every aligned group of `m` input columns.
 *
 * @param mask Mask (1 = keep), row-major.
 * @param shape Matrix shape.
 * @param pattern The N:M pattern.
 * @returns The check outcome.
 */
export function checkNMMask(mask: Uint8Array, shape: MatrixShape, pattern: NMPattern): NMCheck {
  return checkGroups(shape, pattern, (i) => mask[i] === 0, (zeros) => zeros === pattern.n);
}

/**
 * Checks that weights satisfy an N:M pattern: every aligned group of `m` input columns holds at
 * most `m − n` nonzeros (it may hold more zeros than `n`, e.g. from dead input columns).
 *
 * @param w Weights, row-major.
 * @param shape Matrix shape.
 * @param pattern The N:M pattern.
 * @returns The check outcome.
 */
export function checkNMWeights(
  w: ArrayLike<number>,
  shape: MatrixShape,
  pattern: NMPattern,
): NMCheck {
  return checkGroups(shape, pattern, (i) => w[i] === 0, (zeros) => zeros >= pattern.n);
}

function checkGroups(
  shape: MatrixShape,
  pattern: NMPattern,
  isZero: (i: number) => boolean,
  ok: (zeros: number) => boolean,
): NMCheck {
  const { rows, cols } = shape;
  validatePattern(pattern, { cols });
  let badGroups = 0;
  let first: { row: number; col: number } | undefined;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols; g += pattern.m) {
      let zeros = 0;
      for (let c = 0; c < pattern.m; c++) if (isZero(r * cols + g + c)) zeros++;
      if (!ok(zeros)) {
        badGroups++;
        first ??= { row: r, col: g };
      }
    }
  }
  return { valid: badGroups === 0, badGroups, first };
}

/**
 * Returns a copy of `w` with pruned positions (mask 0) set to 0.
 *
 * @param w Weights.
 * @param mask Mask (1 = keep).
 * @returns The masked copy.
 */
export function applyMask(w: Float32Array, mask: Uint8Array): Float32Array {
  if (w.length !== mask.length) {
    throw new RangeError(`applyMask: mask length ${mask.length} ≠ weight length ${w.length}`);
  }
  const out = Float32Array.from(w);
  for (let i = 0; i < out.length; i++) if (mask[i] === 0) out[i] = 0;
  return out;
}
