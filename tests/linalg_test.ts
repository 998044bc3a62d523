import assert from "node:assert/strict";
import {
  choleskyInverse,
  choleskyLower,
  choleskySolve,
  invertLower,
  lowerToUpper,
  NotPositiveDefiniteError,
  solveLower,
  solveLowerTransposed,
  solveUpper,
  upperCholeskyOfInverse,
} from "../src/linalg/cholesky.ts";
import {
  addGramUpper,
  identity,
  matmul,
  matmulTransposeB,
  maxAbsDiff,
  symmetrizeFromUpper,
  transpose,
} from "../src/linalg/matrix.ts";
import { fillGaussian, gaussian, mulberry32, randomSpd } from "../src/linalg/random.ts";
import { markSmallestInGroup, smallestIndices, stableArgsort } from "../src/linalg/select.ts";

function randn(len: number, seed: number): Float64Array {
  return fillGaussian(new Float64Array(len), gaussian(mulberry32(seed)));
}

function naiveMatmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

/** Relative residual ‖A − B‖_max / ‖A‖_max. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]));
  return maxAbsDiff(a, b) / scale;
}

Deno.test("mulberry32 is deterministic, in [0,1), and roughly uniform", () => {
  const a = mulberry32(123);
  const b = mulberry32(123);
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const x = a();
    assert.equal(x, b());
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.01);
  assert.notEqual(mulberry32(1)(), mulberry32(2)());
  const z = randn(20000, 7);
  let m = 0, v = 0;
  for (const x of z) m += x;
  m /= z.length;
  for (const x of z) v += (x - m) ** 2;
  v /= z.length;
  assert.ok(Math.abs(m) < 0.03, `mean ${m}`);
  assert.ok(Math.abs(v - 1) < 0.05, `var ${v}`);
});

Deno.test("matmul, matmulTransposeB and transpose match a naive product", () => {
  for (const [m, k, n] of [[1, 1, 1], [3, 5, 2], [7, 9, 13], [16, 33, 8]]) {
    const a = randn(m * k, m + k);
    const b = randn(k * n, k + n + 1);
    const ref = naiveMatmul(a, b, m, k, n);
    assert.ok(maxAbsDiff(matmul(a, b, { m, k, n }), ref) < 1e-12);
    const bt = transpose(b, k, n);
    assert.ok(maxAbsDiff(matmulTransposeB(a, bt, { m, k, n }), ref) < 1e-12);
    assert.deepEqual(transpose(bt, n, k), b);
  }
  assert.throws(() => matmul(new Float64Array(3), new Float64Array(3), { m: 2, k: 2, n: 2 }));
});

Deno.test("addGramUpper + symmetrize equals scale·XᵀX", () => {
  const rows = 11, cols = 7;
  const x = randn(rows * cols, 3);
  const h = new Float64Array(cols * cols);
  addGramUpper(h, x, { rows, cols, scale: 0.5 });
  symmetrizeFromUpper(h, cols);
  const ref = naiveMatmul(transpose(x, rows, cols), x, cols, rows, cols).map((v) => v * 0.5);
  assert.ok(maxAbsDiff(h, ref) < 1e-12);
});

Deno.test("Cholesky of random SPD matrices: L lower, L·Lᵀ = A", () => {
  for (const n of [1, 2, 5, 17, 64, 97, 150]) {
    const a = randomSpd(n, { seed: n, ridge: 0.01 });
    const l = choleskyLower(a, n);
    for (let i = 0; i < n; i++) {
      assert.ok(l[i * n + i] > 0);
      for (let j = i + 1; j < n; j++) assert.equal(l[i * n + j], 0);
    }
    const llt = matmulTransposeB(l, l, { m: n, k: n, n });
    assert.ok(relErr(a, llt) < 1e-13, `n=${n} residual ${relErr(a, llt)}`);
  }
});

Deno.test("Cholesky in place overwrites the input with the factor", () => {
  const n = 9;
  const a = randomSpd(n, { seed: 4 });
  const ref = choleskyLower(a, n);
  const copy = Float64Array.from(a);
  const out = choleskyLower(copy, n, { inPlace: true });
  assert.equal(out, copy);
  assert.deepEqual(out, ref);
});

Deno.test("Cholesky rejects indefinite, singular and NaN matrices with the pivot", () => {
  // [[1, 2], [2, 1]] has eigenvalues 3 and −1: the second pivot is 1 − 4 = −3.
  assert.throws(
    () => choleskyLower(Float64Array.of(1, 2, 2, 1), 2),
    (e: unknown) => e instanceof NotPositiveDefiniteError && e.pivot === 1 && e.value === -3,
  );
  assert.throws(() => choleskyLower(Float64Array.of(0, 0, 0, 1), 2), NotPositiveDefiniteError);
  assert.throws(() => choleskyLower(Float64Array.of(NaN, 0, 0, 1), 2), NotPositiveDefiniteError);
  // Rank-deficient Gram (3 samples in 8 dimensions): numerically singular.
  const singular = randomSpd(8, { seed: 1, samples: 3 });
  assert.throws(() => choleskyLower(singular, 8), NotPositiveDefiniteError);
});

Deno.test("triangular solves and choleskySolve have small residuals", () => {
  const n = 40, r = 3;
  const a = randomSpd(n, { seed: 11, ridge: 0.05 });
  const l = choleskyLower(a, n);
  const u = lowerToUpper(l, n);
  const b = randn(n * r, 12);
  const shape = { n, nrhs: r };
  const x1 = solveLower(l, b, shape);
  assert.ok(relErr(b, matmul(l, x1, { m: n, k: n, n: r })) < 1e-12);
  const x2 = solveUpper(u, b, shape);
  assert.ok(relErr(b, matmul(u, x2, { m: n, k: n, n: r })) < 1e-12);
  const x3 = solveLowerTransposed(l, b, shape);
  assert.ok(relErr(b, matmul(u, x3, { m: n, k: n, n: r })) < 1e-12);
  assert.ok(maxAbsDiff(x2, x3) < 1e-12);
  const x4 = choleskySolve(l, b, shape);
  assert.ok(relErr(b, matmul(a, x4, { m: n, k: n, n: r })) < 1e-10);
  // vector right-hand side (nrhs defaults to 1)
  const v = solveLower(l, b.subarray(0, n), { n });
  assert.ok(relErr(b.subarray(0, n), matmul(l, v, { m: n, k: n, n: 1 })) < 1e-12);
});

Deno.test("invertLower and choleskyInverse: products are the identity", () => {
  for (const n of [1, 3, 30, 97, 100]) {
    const a = randomSpd(n, { seed: 100 + n, ridge: 0.05 });
    const l = choleskyLower(a, n);
    const linv = invertLower(l, n);
    assert.ok(maxAbsDiff(matmul(linv, l, { m: n, k: n, n }), identity(n)) < 1e-12);
    const ainv = choleskyInverse(l, n);
    // exactly symmetric
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) assert.equal(ainv[i * n + j], ainv[j * n + i]);
    }
    assert.ok(maxAbsDiff(matmul(ainv, a, { m: n, k: n, n }), identity(n)) < 1e-10, `n=${n}`);
    assert.ok(maxAbsDiff(matmul(a, ainv, { m: n, k: n, n }), identity(n)) < 1e-10, `n=${n}`);
  }
});

Deno.test("upperCholeskyOfInverse: U upper, UᵀU = A⁻¹, rows are the trailing inverses", () => {
  const n = 12;
  const a = randomSpd(n, { seed: 5, ridge: 0.1 });
  const u = upperCholeskyOfInverse(a, n);
  for (let i = 0; i < n; i++) {
    assert.ok(u[i * n + i] > 0);
    for (let j = 0; j < i; j++) assert.equal(u[i * n + j], 0);
  }
  const utu = matmul(transpose(u, n, n), u, { m: n, k: n, n });
  const ainv = choleskyInverse(choleskyLower(a, n), n);
  assert.ok(relErr(ainv, utu) < 1e-12);
  // Row i of U from column i on = row 0 of inv(A[i:, i:]) / sqrt(its (0,0) entry): the identity
  // SparseGPT relies on (checked here against an independent inversion of each trailing block).
  for (let i = 0; i < n; i++) {
    const m = n - i;
    const sub = new Float64Array(m * m);
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < m; c++) sub[r * m + c] = a[(i + r) * n + (i + c)];
    }
    const subInv = choleskySolve(choleskyLower(sub, m), identity(m), { n: m, nrhs: m });
    const d = Math.sqrt(subInv[0]);
    for (let c = 0; c < m; c++) {
      assert.ok(Math.abs(u[i * n + i + c] - subInv[c] / d) < 1e-10, `row ${i} col ${i + c}`);
    }
  }
});

Deno.test("stableArgsort is stable and sorted", () => {
  const v = [3, 1, 2, 1, 3, 0, 2, 1];
  assert.deepEqual([...stableArgsort(v)], [5, 1, 3, 7, 2, 6, 0, 4]);
  assert.throws(() => stableArgsort([1, NaN]), /NaN/);
});

Deno.test("smallestIndices equals the first k of a stable argsort (random, with ties)", () => {
  const rand = mulberry32(99);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rand() * 300);
    // few distinct values → many ties
    const distinct = 1 + Math.floor(rand() * 10);
    const v = Array.from({ length: n }, () => Math.floor(rand() * distinct) / distinct);
    const k = Math.floor(rand() * (n + 1));
    const expected = [...stableArgsort(v).slice(0, k)].sort((a, b) => a - b);
    assert.deepEqual([...smallestIndices(v, k)], expected, `n=${n} k=${k}`);
  }
  assert.deepEqual([...smallestIndices([5, 4], 0)], []);
  assert.deepEqual([...smallestIndices([5, 4], 5)], [0, 1]);
  // large input, all equal: ties by index
  const big = new Float64Array(100000);
  assert.deepEqual([...smallestIndices(big, 3)], [0, 1, 2]);
});

Deno.test("markSmallestInGroup zeroes the n smallest of a group, lowest index on ties", () => {
  const mask = new Uint8Array(8).fill(7);
  markSmallestInGroup([9, 1, 1, 0, 5, 5, 5, 5], 0, 4, 2, mask);
  markSmallestInGroup([9, 1, 1, 0, 5, 5, 5, 5], 4, 4, 2, mask);
  assert.deepEqual([...mask], [1, 0, 1, 0, 0, 0, 1, 1]);
  const m2 = new Uint8Array(4);
  markSmallestInGroup([Infinity, Infinity, 1, Infinity], 0, 4, 3, m2);
  assert.deepEqual([...m2], [0, 0, 0, 1]);
});
