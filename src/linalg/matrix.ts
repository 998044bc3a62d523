/**
 * Dense matrix helpers over row-major typed arrays with explicit shapes.
 *
 * Every matrix is a flat `Float64Array` (or, for inputs, `Float32Array`) in row-major order:
 * element (i, j) of an `rows × cols` matrix lives at `i * cols + j`. Loops are ordered so that the
 * innermost loop walks contiguous memory, and nothing is allocated per element.
 *
 * @module
 */

/** A read-only dense row-major array of numbers. */
export type DenseArray = Float32Array | Float64Array;

/** Shape of a matrix product `C[m, n] = A[m, k] · B[k, n]`. */
export interface ProductShape {
  /** Rows of A and C. */
  m: number;
  /** Columns of A, rows of B (the contracted dimension). */
  k: number;
  /** Columns of B and C. */
  n: number;
}

function checkLength(name: string, arr: ArrayLike<number>, expected: number): void {
  if (arr.length !== expected) {
    throw new RangeError(
      `${name}: length ${arr.length} does not match its shape (${expected} expected); ` +
        `pass a row-major array of exactly rows × cols elements`,
    );
  }
}

/**
 * Matrix product `C = A · B` (A is m×k, B is k×n), in Float64.
 *
 * Loop order i-k-j: the inner loop runs over a contiguous row of B and of C; four rows of B are
 * combined per pass to cut loads and stores of C.
 *
 * @param a Row-major m×k.
 * @param b Row-major k×n.
 * @param shape The dimensions.
 * @returns Row-major m×n product.
 */
export function matmul(a: DenseArray, b: DenseArray, shape: ProductShape): Float64Array {
  const { m, k, n } = shape;
  checkLength("matmul a", a, m * k);
  checkLength("matmul b", b, k * n);
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    const ai = i * k;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      const a0 = a[ai + p], a1 = a[ai + p + 1], a2 = a[ai + p + 2], a3 = a[ai + p + 3];
      const b0 = p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        c[ci + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
      }
    }
    for (; p < k; p++) {
      const av = a[ai + p];
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j];
    }
  }
  return c;
}

/**
 * Product with the second factor transposed: `C = A · Bᵀ` (A is m×k, B is n×k), in Float64.
 * Each element is a dot product of two contiguous rows.
 *
 * @param a Row-major m×k.
 * @param b Row-major n×k.
 * @param shape The dimensions (`k` is the shared row length).
 * @returns Row-major m×n product.
 */
export function matmulTransposeB(a: DenseArray, b: DenseArray, shape: ProductShape): Float64Array {
  const { m, k, n } = shape;
  checkLength("matmulTransposeB a", a, m * k);
  checkLength("matmulTransposeB b", b, n * k);
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ai = i * k;
    for (let j = 0; j < n; j++) {
      const bj = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += a[ai + p] * b[bj + p];
      c[i * n + j] = s;
    }
  }
  return c;
}

/**
 * Transpose of a rows×cols matrix.
 *
 * @param a Row-major rows×cols.
 * @param rows Number of rows of `a`.
 * @param cols Number of columns of `a`.
 * @returns Row-major cols×rows transpose, in Float64.
 */
export function transpose(a: DenseArray, rows: number, cols: number): Float64Array {
  checkLength("transpose", a, rows * cols);
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  }
  return t;
}

/**
 * The n×n identity.
 *
 * @param n Order.
 * @returns Row-major identity in Float64.
 */
export function identity(n: number): Float64Array {
  const e = new Float64Array(n * n);
  for (let i = 0; i < n; i++) e[i * n + i] = 1;
  return e;
}

/** Options for {@link addGramUpper}. */
export interface GramOptions {
  /** Number of rows (samples) of X. */
  rows: number;
  /** Number of columns (features) of X; H is cols×cols. */
  cols: number;
  /** Factor applied to the product before adding (default 1). */
  scale?: number;
}

/**
 * Adds `scale · XᵀX` to the **upper triangle** (j ≥ i) of the symmetric cols×cols matrix `h`,
 * where X is rows×cols row-major (one sample per row). The lower triangle is left untouched;
 * call {@link symmetrizeFromUpper} when done accumulating.
 *
 * Four samples are folded into each pass over H, so H is read and written a quarter as often.
 *
 * @param h Row-major cols×cols accumulator (modified in place).
 * @param x Row-major rows×cols samples.
 * @param options Shape and scale.
 */
export function addGramUpper(h: Float64Array, x: DenseArray, options: GramOptions): void {
  const { rows, cols } = options;
  const scale = options.scale ?? 1;
  checkLength("addGramUpper h", h, cols * cols);
  checkLength("addGramUpper x", x, rows * cols);
  let t = 0;
  for (; t + 3 < rows; t += 4) {
    const r0 = t * cols, r1 = r0 + cols, r2 = r1 + cols, r3 = r2 + cols;
    let i = 0;
    // Two rows of H per pass: each load of x[·, j] feeds both.
    for (; i + 1 < cols; i += 2) {
      const a0 = scale * x[r0 + i], a1 = scale * x[r1 + i];
      const a2 = scale * x[r2 + i], a3 = scale * x[r3 + i];
      const b0 = scale * x[r0 + i + 1], b1 = scale * x[r1 + i + 1];
      const b2 = scale * x[r2 + i + 1], b3 = scale * x[r3 + i + 1];
      const hi = i * cols, hb = hi + cols;
      h[hi + i] += a0 * x[r0 + i] + a1 * x[r1 + i] + a2 * x[r2 + i] + a3 * x[r3 + i];
      for (let j = i + 1; j < cols; j++) {
        const x0 = x[r0 + j], x1 = x[r1 + j], x2 = x[r2 + j], x3 = x[r3 + j];
        h[hi + j] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
        h[hb + j] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3;
      }
    }
    if (i < cols) {
      const a0 = scale * x[r0 + i], a1 = scale * x[r1 + i];
      const a2 = scale * x[r2 + i], a3 = scale * x[r3 + i];
      h[i * cols + i] += a0 * x[r0 + i] + a1 * x[r1 + i] + a2 * x[r2 + i] + a3 * x[r3 + i];
    }
  }
  for (; t < rows; t++) {
    const r0 = t * cols;
    for (let i = 0; i < cols; i++) {
      const a0 = scale * x[r0 + i];
      if (a0 === 0) continue;
      const hi = i * cols;
      for (let j = i; j < cols; j++) h[hi + j] += a0 * x[r0 + j];
    }
  }
}

/**
 * Copies the upper triangle of an n×n matrix onto its lower triangle, in place.
 *
 * @param h Row-major n×n matrix.
 * @param n Order.
 */
export function symmetrizeFromUpper(h: Float64Array, n: number): void {
  checkLength("symmetrizeFromUpper", h, n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) h[j * n + i] = h[i * n + j];
  }
}

/**
 * Largest absolute element-wise difference between two equally long arrays.
 *
 * @param a First array.
 * @param b Second array.
 * @returns `max |a_i − b_i|` (0 for empty arrays; NaN if any difference is NaN).
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLength("maxAbsDiff b", b, a.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d !== d) return NaN;
    if (d > worst) worst = d;
  }
  return worst;
}

/**
 * Frobenius norm `sqrt(Σ a_i²)` of a flat array.
 *
 * @param a The values.
 * @returns The norm.
 */
export function frobeniusNorm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/**
 * Rounds every element of a Float64Array to the nearest float32 value, in place (used to emulate
 * fp32 storage between computation stages).
 *
 * @param a The array to round.
 * @returns `a`, for chaining.
 */
export function roundToFloat32InPlace(a: Float64Array): Float64Array {
  for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i]);
  return a;
}
