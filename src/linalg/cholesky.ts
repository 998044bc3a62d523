/**
 * Cholesky factorisation, triangular solves and the inverse factors SparseGPT needs, over
 * row-major `Float64Array`s.
 *
 * - {@link choleskyLower}: `A = L Lᵀ` (like `torch.linalg.cholesky`).
 * - {@link solveLower}, {@link solveUpper}, {@link solveLowerTransposed}, {@link choleskySolve}.
 * - {@link choleskyInverse}: `A⁻¹` from `L` (like `torch.cholesky_inverse`).
 * - {@link upperCholeskyOfInverse}: `U` upper with `UᵀU = A⁻¹`, computed the way the SparseGPT
 *   reference does (`cholesky` → `cholesky_inverse` → `cholesky(upper=True)`).
 *
 * All work is in Float64; inner loops run over contiguous rows.
 *
 * @module
 */

/** Raised when a matrix handed to a Cholesky routine is not (numerically) positive definite. */
export class NotPositiveDefiniteError extends Error {
  /** Index of the pivot (0-based row) at which the factorisation broke down. */
  readonly pivot: number;
  /** The non-positive (or non-finite) value found where the pivot's square was expected. */
  readonly value: number;

  /**
   * Creates the error.
   *
   * @param pivot The failing row.
   * @param value The pivot value found.
   * @param what Which matrix was being factorised (for the message).
   */
  constructor(pivot: number, value: number, what = "matrix") {
    super(
      `Cholesky: ${what} is not positive definite (pivot ${pivot} = ${value}); ` +
        `add damping to the diagonal or check the input for NaN/Inf`,
    );
    this.name = "NotPositiveDefiniteError";
    this.pivot = pivot;
    this.value = value;
  }
}

function checkSquare(name: string, a: ArrayLike<number>, n: number): void {
  if (!Number.isInteger(n) || n < 0 || a.length !== n * n) {
    throw new RangeError(
      `${name}: expected a row-major ${n}×${n} matrix (${n * n} elements), got ${a.length}`,
    );
  }
}

/** Options shared by the Cholesky routines. */
export interface CholeskyOptions {
  /** Overwrite the input with the factor instead of allocating a new array (default false). */
  inPlace?: boolean;
  /** Name used in error messages (default "matrix"). */
  what?: string;
}

/**
 * Lower Cholesky factor `L` of a symmetric positive-definite matrix: `A = L Lᵀ`.
 *
 * Only the lower triangle of `a` is read. The returned factor has zeros above the diagonal.
 * Row-oriented (Cholesky–Banachiewicz): each entry is a dot product of two contiguous row
 * prefixes.
 *
 * @param a Row-major n×n symmetric matrix.
 * @param n Order.
 * @param options `inPlace` to reuse `a`'s storage; `what` for error messages.
 * @returns The lower factor, row-major n×n.
 * @throws {NotPositiveDefiniteError} If a pivot is ≤ 0 or not finite.
 */
export function choleskyLower(
  a: Float64Array,
  n: number,
  options: CholeskyOptions = {},
): Float64Array {
  checkSquare("choleskyLower", a, n);
  const l = options.inPlace ? a : Float64Array.from(a);
  // Rows are processed in blocks of CHOL_BLOCK: every finished row j is dotted with all rows of
  // the block while it is hot in cache, two block rows at a time (one load of row j feeds both).
  for (let i0 = 0; i0 < n; i0 += CHOL_BLOCK) {
    const i1 = Math.min(i0 + CHOL_BLOCK, n);
    // Two finished rows j, j+1 against two block rows i, i+1: four dot products share loads.
    let j = 0;
    for (; j + 1 < i0; j += 2) {
      const lj = j * n, lj1 = lj + n;
      const djj = l[lj + j], dj1 = l[lj1 + j + 1];
      let i = i0;
      for (; i + 1 < i1; i += 2) {
        const la = i * n, lb = la + n;
        let sa0 = 0, sa1 = 0, sb0 = 0, sb1 = 0;
        for (let k = 0; k < j; k++) {
          const x0 = l[lj + k], x1 = l[lj1 + k], a = l[la + k], b = l[lb + k];
          sa0 += a * x0;
          sa1 += a * x1;
          sb0 += b * x0;
          sb1 += b * x1;
        }
        const va = (l[la + j] - sa0) / djj;
        const vb = (l[lb + j] - sb0) / djj;
        l[la + j] = va;
        l[lb + j] = vb;
        const x = l[lj1 + j];
        l[la + j + 1] = (l[la + j + 1] - sa1 - va * x) / dj1;
        l[lb + j + 1] = (l[lb + j + 1] - sb1 - vb * x) / dj1;
      }
      for (; i < i1; i++) {
        const li = i * n;
        l[li + j] = (l[li + j] - dotPrefix(l, li, lj, j)) / djj;
        l[li + j + 1] = (l[li + j + 1] - dotPrefix(l, li, lj1, j + 1)) / dj1;
      }
    }
    for (; j < i0; j++) {
      const lj = j * n;
      const djj = l[lj + j];
      for (let i = i0; i < i1; i++) {
        const li = i * n;
        l[li + j] = (l[li + j] - dotPrefix(l, li, lj, j)) / djj;
      }
    }
    // Diagonal block.
    for (let i = i0; i < i1; i++) {
      const li = i * n;
      for (let j = i0; j <= i; j++) {
        const lj = j * n;
        const s = l[li + j] - dotPrefix(l, li, lj, j);
        if (j < i) {
          l[li + j] = s / l[lj + j];
        } else {
          if (!(s > 0 && s < Infinity)) {
            throw new NotPositiveDefiniteError(i, s, options.what);
          }
          l[li + i] = Math.sqrt(s);
        }
      }
      for (let j = i + 1; j < n; j++) l[li + j] = 0;
    }
  }
  return l;
}

/** Rows per block in the blocked factorisations. */
const CHOL_BLOCK = 32;

/** `Σ_{k<len} x[a+k]·x[b+k]`, four independent partial sums. */
function dotPrefix(x: Float64Array, a: number, b: number, len: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let k = 0;
  for (; k + 3 < len; k += 4) {
    s0 += x[a + k] * x[b + k];
    s1 += x[a + k + 1] * x[b + k + 1];
    s2 += x[a + k + 2] * x[b + k + 2];
    s3 += x[a + k + 3] * x[b + k + 3];
  }
  for (; k < len; k++) s0 += x[a + k] * x[b + k];
  return (s0 + s1) + (s2 + s3);
}

/** Shape of a right-hand side for the triangular solves. */
export interface SolveShape {
  /** Order of the triangular matrix. */
  n: number;
  /** Number of right-hand-side columns (default 1: a vector). */
  nrhs?: number;
}

/**
 * Solves `L X = B` for lower-triangular `L` (forward substitution).
 *
 * @param l Row-major n×n lower-triangular matrix (entries above the diagonal are ignored).
 * @param b Row-major n×nrhs right-hand side.
 * @param shape `n` and `nrhs`.
 * @returns X, row-major n×nrhs.
 */
export function solveLower(
  l: ArrayLike<number>,
  b: ArrayLike<number>,
  shape: SolveShape,
): Float64Array {
  const { n } = shape;
  const r = shape.nrhs ?? 1;
  checkSquare("solveLower", l, n);
  if (b.length !== n * r) throw new RangeError(`solveLower: b must have ${n * r} elements`);
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    const xi = i * r;
    for (let k = 0; k < i; k++) {
      const c = l[i * n + k];
      if (c === 0) continue;
      const xk = k * r;
      for (let j = 0; j < r; j++) x[xi + j] -= c * x[xk + j];
    }
    const d = l[i * n + i];
    for (let j = 0; j < r; j++) x[xi + j] /= d;
  }
  return x;
}

/**
 * Solves `U X = B` for upper-triangular `U` (back substitution).
 *
 * @param u Row-major n×n upper-triangular matrix (entries below the diagonal are ignored).
 * @param b Row-major n×nrhs right-hand side.
 * @param shape `n` and `nrhs`.
 * @returns X, row-major n×nrhs.
 */
export function solveUpper(
  u: ArrayLike<number>,
  b: ArrayLike<number>,
  shape: SolveShape,
): Float64Array {
  const { n } = shape;
  const r = shape.nrhs ?? 1;
  checkSquare("solveUpper", u, n);
  if (b.length !== n * r) throw new RangeError(`solveUpper: b must have ${n * r} elements`);
  const x = Float64Array.from(b);
  for (let i = n - 1; i >= 0; i--) {
    const xi = i * r;
    for (let k = i + 1; k < n; k++) {
      const c = u[i * n + k];
      if (c === 0) continue;
      const xk = k * r;
      for (let j = 0; j < r; j++) x[xi + j] -= c * x[xk + j];
    }
    const d = u[i * n + i];
    for (let j = 0; j < r; j++) x[xi + j] /= d;
  }
  return x;
}

/**
 * Solves `Lᵀ X = B` for lower-triangular `L` without forming the transpose (column-oriented back
 * substitution: each step subtracts a multiple of a finished row of X from the rows above).
 *
 * @param l Row-major n×n lower-triangular matrix.
 * @param b Row-major n×nrhs right-hand side.
 * @param shape `n` and `nrhs`.
 * @returns X, row-major n×nrhs.
 */
export function solveLowerTransposed(
  l: ArrayLike<number>,
  b: ArrayLike<number>,
  shape: SolveShape,
): Float64Array {
  const { n } = shape;
  const r = shape.nrhs ?? 1;
  checkSquare("solveLowerTransposed", l, n);
  if (b.length !== n * r) {
    throw new RangeError(`solveLowerTransposed: b must have ${n * r} elements`);
  }
  const x = Float64Array.from(b);
  for (let i = n - 1; i >= 0; i--) {
    const xi = i * r;
    const d = l[i * n + i];
    for (let j = 0; j < r; j++) x[xi + j] /= d;
    for (let k = 0; k < i; k++) {
      const c = l[i * n + k];
      if (c === 0) continue;
      const xk = k * r;
      for (let j = 0; j < r; j++) x[xk + j] -= c * x[xi + j];
    }
  }
  return x;
}

/**
 * Solves `A X = B` given the lower Cholesky factor of A (`A = L Lᵀ`).
 *
 * @param l Lower factor from {@link choleskyLower}.
 * @param b Row-major n×nrhs right-hand side.
 * @param shape `n` and `nrhs`.
 * @returns X, row-major n×nrhs.
 */
export function choleskySolve(
  l: ArrayLike<number>,
  b: ArrayLike<number>,
  shape: SolveShape,
): Float64Array {
  return solveLowerTransposed(l, solveLower(l, b, shape), shape);
}

/**
 * Inverse of the lower-triangular `L`, itself lower triangular. Row i of `L⁻¹` is
 * `(e_i − Σ_{k<i} L_ik · row_k(L⁻¹)) / L_ii`, and row k is nonzero only in columns ≤ k, so every
 * inner loop is a contiguous axpy. Rows are produced in blocks so that each finished row k is
 * applied to the whole block while it is in cache.
 *
 * @param l Row-major n×n lower-triangular matrix.
 * @param n Order.
 * @returns `L⁻¹`, row-major n×n.
 */
export function invertLower(l: ArrayLike<number>, n: number): Float64Array {
  checkSquare("invertLower", l, n);
  const inv = new Float64Array(n * n);
  for (let i0 = 0; i0 < n; i0 += CHOL_BLOCK) {
    const i1 = Math.min(i0 + CHOL_BLOCK, n);
    for (let i = i0; i < i1; i++) inv[i * n + i] = 1;
    // Contributions of finished rows k < i0, two rows k, k+1 against two block rows at a time
    // (row k+1 of L⁻¹ extends one column past row k).
    let k = 0;
    for (; k + 1 < i0; k += 2) {
      const rk = k * n, rk1 = rk + n;
      let i = i0;
      for (; i + 1 < i1; i += 2) {
        const ri = i * n, ri1 = ri + n;
        const c00 = l[ri + k], c01 = l[ri + k + 1], c10 = l[ri1 + k], c11 = l[ri1 + k + 1];
        for (let j = 0; j <= k; j++) {
          const a = inv[rk + j], b = inv[rk1 + j];
          inv[ri + j] -= c00 * a + c01 * b;
          inv[ri1 + j] -= c10 * a + c11 * b;
        }
        const b = inv[rk1 + k + 1];
        inv[ri + k + 1] -= c01 * b;
        inv[ri1 + k + 1] -= c11 * b;
      }
      for (; i < i1; i++) {
        const ri = i * n;
        const c0 = l[ri + k], c1 = l[ri + k + 1];
        for (let j = 0; j <= k; j++) inv[ri + j] -= c0 * inv[rk + j] + c1 * inv[rk1 + j];
        inv[ri + k + 1] -= c1 * inv[rk1 + k + 1];
      }
    }
    for (; k < i0; k++) {
      const rk = k * n;
      for (let i = i0; i < i1; i++) {
        const ri = i * n;
        const c = l[ri + k];
        if (c === 0) continue;
        for (let j = 0; j <= k; j++) inv[ri + j] -= c * inv[rk + j];
      }
    }
    // Inside the block.
    for (let i = i0; i < i1; i++) {
      const ri = i * n;
      for (let k = i0; k < i; k++) {
        const c = l[ri + k];
        if (c === 0) continue;
        const rk = k * n;
        for (let j = 0; j <= k; j++) inv[ri + j] -= c * inv[rk + j];
      }
      const d = 1 / l[ri + i];
      for (let j = 0; j <= i; j++) inv[ri + j] *= d;
    }
  }
  return inv;
}

/**
 * `A⁻¹` from the lower Cholesky factor of A, like `torch.cholesky_inverse(L)`:
 * `A⁻¹ = L⁻ᵀ L⁻¹`. With `M = (L⁻¹)ᵀ` (upper triangular), `A⁻¹_ij = Σ_{k ≥ max(i,j)} M_ik M_jk`,
 * a dot product of two contiguous row suffixes; the lower triangle is computed and mirrored, so
 * the result is exactly symmetric.
 *
 * @param l Lower factor from {@link choleskyLower}.
 * @param n Order.
 * @returns `A⁻¹`, row-major n×n, symmetric.
 */
export function choleskyInverse(l: ArrayLike<number>, n: number): Float64Array {
  const m = lowerToUpper(invertLower(l, n), n);
  const out = new Float64Array(n * n);
  // out_ij (j ≤ i) = Σ_{k ≥ i} m_ik m_jk. Pairs of rows (i, i+1) × (j, j+1) with j+1 < i share
  // the range k ≥ i+1 (m_{i+1,i} = 0), so one pass gives four sums; k = i is added for row i.
  for (let i = 0; i < n; i += 2) {
    if (i + 1 >= n) {
      for (let j = 0; j <= i; j++) setSym(out, n, i, j, suffixDot(m, n, i, j, i));
      break;
    }
    const ri = i * n, ri1 = ri + n;
    let j = 0;
    for (; j + 1 < i; j += 2) {
      const rj = j * n, rj1 = rj + n;
      let s00 = m[ri + i] * m[rj + i], s01 = m[ri + i] * m[rj1 + i];
      let s10 = 0, s11 = 0;
      for (let k = i + 1; k < n; k++) {
        const a = m[ri + k], b = m[ri1 + k], c = m[rj + k], d = m[rj1 + k];
        s00 += a * c;
        s01 += a * d;
        s10 += b * c;
        s11 += b * d;
      }
      setSym(out, n, i, j, s00);
      setSym(out, n, i, j + 1, s01);
      setSym(out, n, i + 1, j, s10);
      setSym(out, n, i + 1, j + 1, s11);
    }
    // i is even, so here j === i: the 2×2 diagonal block remains.
    setSym(out, n, i, i, suffixDot(m, n, i, i, i));
    setSym(out, n, i + 1, i, suffixDot(m, n, i + 1, i, i + 1));
    setSym(out, n, i + 1, i + 1, suffixDot(m, n, i + 1, i + 1, i + 1));
  }
  return out;
}

function setSym(out: Float64Array, n: number, i: number, j: number, v: number): void {
  out[i * n + j] = v;
  out[j * n + i] = v;
}

/** `Σ_{k ≥ from} m[a, k]·m[b, k]`. */
function suffixDot(m: Float64Array, n: number, a: number, b: number, from: number): number {
  const ra = a * n, rb = b * n;
  let s0 = 0, s1 = 0;
  let k = from;
  for (; k + 1 < n; k += 2) {
    s0 += m[ra + k] * m[rb + k];
    s1 += m[ra + k + 1] * m[rb + k + 1];
  }
  if (k < n) s0 += m[ra + k] * m[rb + k];
  return s0 + s1;
}

/**
 * Transposes a lower-triangular factor into the equivalent upper one (`U = Lᵀ`, so
 * `UᵀU = L Lᵀ`).
 *
 * @param l Row-major n×n lower-triangular matrix.
 * @param n Order.
 * @returns Row-major upper-triangular `Lᵀ`.
 */
export function lowerToUpper(l: ArrayLike<number>, n: number): Float64Array {
  checkSquare("lowerToUpper", l, n);
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) u[j * n + i] = l[i * n + j];
  }
  return u;
}

/**
 * Upper Cholesky factor of the inverse: `U` upper-triangular with `UᵀU = A⁻¹`.
 *
 * Computed exactly as the SparseGPT reference does: `L = chol(A)`, `A⁻¹ = cholesky_inverse(L)`,
 * `U = chol(A⁻¹, upper=True)`. Row i of U from column i onward is row i of the inverse of the
 * trailing block `A[i:, i:]`, divided by the square root of its diagonal entry.
 *
 * @param a Row-major n×n symmetric positive-definite matrix (not modified).
 * @param n Order.
 * @returns Row-major upper-triangular U.
 * @throws {NotPositiveDefiniteError} If A or its computed inverse is not positive definite.
 */
export function upperCholeskyOfInverse(a: Float64Array, n: number): Float64Array {
  const l = choleskyLower(a, n, { what: "H" });
  const inv = choleskyInverse(l, n);
  return lowerToUpper(choleskyLower(inv, n, { inPlace: true, what: "H⁻¹" }), n);
}
