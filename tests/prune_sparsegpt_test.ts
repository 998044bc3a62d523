import assert from "node:assert/strict";
import { maxAbsDiff } from "../src/linalg/matrix.ts";
import { fillGaussian, gaussian, mulberry32, randomSpd } from "../src/linalg/random.ts";
import {
  checkNMWeights,
  countZeros,
  nm,
  type SparsityPattern,
  unstructured,
} from "../src/prune/pattern.ts";
import { reconstructionErrorFromHessian } from "../src/prune/reconstruction.ts";
import { factorHessian, sparsegptPrune } from "../src/prune/sparsegpt.ts";
import { HessianAccumulator } from "../src/prune/stats.ts";
import type { PrunerLayer } from "../src/prune/types.ts";

// ---------------------------------------------------------------------------------------------
// Independent brute-force references (Gaussian elimination, no Cholesky, no blocking).

/** Solves A x = b (n×n, row-major) by Gaussian elimination with partial pivoting. */
function gaussSolve(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    if (p !== c) {
      for (let j = 0; j < n; j++) [m[c * n + j], m[p * n + j]] = [m[p * n + j], m[c * n + j]];
      [x[c], x[p]] = [x[p], x[c]];
    }
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / m[c * n + c];
      for (let j = c; j < n; j++) m[r * n + j] -= f * m[c * n + j];
      x[r] -= f * x[c];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let j = r + 1; j < n; j++) s -= m[r * n + j] * x[j];
    x[r] = s / m[r * n + r];
  }
  return x;
}

/** Sub-matrix H[rs, cs] of an n×n matrix. */
function sub(h: ArrayLike<number>, n: number, rs: number[], cs: number[]): Float64Array {
  const out = new Float64Array(rs.length * cs.length);
  rs.forEach((r, i) => cs.forEach((c, j) => out[i * cs.length + j] = h[r * n + c]));
  return out;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

/** H + damp·mean(diag H)·I, as SparseGPT dampens. */
function damped(h: ArrayLike<number>, n: number, damp: number): Float64Array {
  const out = Float64Array.from(h);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += h[i * n + i] / n;
  for (let i = 0; i < n; i++) out[i * n + i] += damp * mean;
  return out;
}

/**
 * Sequential OBS exactly as SparseGPT defines it, computed naively: columns left to right;
 * pruning column c of a row sets it to 0 and moves the columns right of c (R) to their
 * conditional optimum, v_R += v_c · H_RR⁻¹ H_Rc, each by a fresh linear solve. Saliency
 * v_c² / σ_c with σ_c = [H[c:, c:]⁻¹]_00 = 1 / (H_cc − H_cR H_RR⁻¹ H_Rc). The mask is chosen per
 * block (unstructured, budget floor(p·rows·i2) − floor(p·rows·i1), ties by flat index) or per
 * group of m from the current weights (N:M), as in the reference.
 */
function bruteSparseGPT(
  w: ArrayLike<number>,
  rows: number,
  cols: number,
  h: Float64Array,
  pattern: SparsityPattern,
  blocksize: number,
): { W: Float64Array; loss: number } {
  const v = Float64Array.from(w);
  const g: Float64Array[] = [];
  const sigma = new Float64Array(cols);
  for (let c = 0; c < cols; c++) {
    const r = range(c + 1, cols);
    g[c] = r.length
      ? gaussSolve(sub(h, cols, r, r), sub(h, cols, r, [c]), r.length)
      : new Float64Array();
    let s = h[c * cols + c];
    r.forEach((j, i) => s -= h[c * cols + j] * g[c][i]);
    sigma[c] = 1 / s;
  }
  const pruned = new Uint8Array(rows * cols);
  const byScoreThenIndex = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];
  let loss = 0;
  for (let i1 = 0; i1 < cols; i1 += blocksize) {
    const i2 = Math.min(i1 + blocksize, cols);
    const count = i2 - i1;
    if (pattern.type === "unstructured") {
      const k = Math.floor(pattern.sparsity * rows * i2) - Math.floor(pattern.sparsity * rows * i1);
      const entries: [number, number][] = [];
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < count; c++) {
          entries.push([v[r * cols + i1 + c] ** 2 / sigma[i1 + c], r * count + c]);
        }
      }
      entries.sort(byScoreThenIndex).slice(0, k).forEach(([, idx]) => {
        pruned[Math.floor(idx / count) * cols + i1 + (idx % count)] = 1;
      });
    }
    for (let c = i1; c < i2; c++) {
      for (let r = 0; r < rows; r++) {
        if (pattern.type === "nm" && (c - i1) % pattern.m === 0) {
          const group: [number, number][] = range(c, c + pattern.m).map((j) => [
            v[r * cols + j] ** 2 / sigma[j],
            j,
          ]);
          group.sort(byScoreThenIndex).slice(0, pattern.n).forEach(([, j]) => {
            pruned[r * cols + j] = 1;
          });
        }
        if (!pruned[r * cols + c]) continue;
        const e = v[r * cols + c];
        loss += e * e / sigma[c];
        v[r * cols + c] = 0;
        for (let i = 0; i < g[c].length; i++) v[r * cols + c + 1 + i] += e * g[c][i];
      }
    }
  }
  return { W: v, loss: loss / 2 };
}

function randomLayer(seed: number, rows: number, cols: number, samples: number): PrunerLayer {
  const W = fillGaussian(new Float32Array(rows * cols), gaussian(mulberry32(seed)));
  // H: Gram matrix of `samples` random points (full rank when samples ≥ cols).
  const h = randomSpd(cols, { seed: seed + 1, samples });
  return { W, rows, cols, stats: { hessian: h, nsamples: samples } };
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]));
  return maxAbsDiff(a, b) / s;
}

// ---------------------------------------------------------------------------------------------

Deno.test("one pruned weight (first column): SparseGPT = closed-form OBS update", () => {
  // 1 row × 6 columns; w_0 is tiny, so the single pruned weight (floor(6/6) = 1) is column 0.
  const cols = 6;
  const layer = randomLayer(3, 1, cols, 20);
  layer.W[0] = 1e-3;
  const hd = damped(layer.stats.hessian!, cols, 0.01);
  const res = sparsegptPrune(layer, unstructured(1 / 6));
  assert.deepEqual([...res.mask], [0, 1, 1, 1, 1, 1]);
  // OBS: δ = −(w_q / [H⁻¹]_qq) · H⁻¹[:, q] with the full inverse, q = 0.
  const e0 = new Float64Array(cols);
  e0[0] = 1;
  const hinvCol = gaussSolve(hd, e0, cols);
  const expected = Array.from(layer.W, (w, j) => w - (layer.W[0] / hinvCol[0]) * hinvCol[j]);
  assert.ok(Math.abs(expected[0]) < 1e-15);
  for (let j = 0; j < cols; j++) {
    assert.ok(Math.abs(res.W[j] - expected[j]) < 1e-6, `col ${j}: ${res.W[j]} vs ${expected[j]}`);
  }
  // the OBS error w_q² / [H⁻¹]_qq is the optimal ½(δᵀHδ)·2, and info.loss = half of it
  assert.ok(Math.abs(res.info.loss - 0.5 * layer.W[0] ** 2 / hinvCol[0]) < 1e-12);
});

Deno.test("pruned columns all left of kept ones: SparseGPT = least-squares optimum", () => {
  // The sequential sweep never revisits columns left of the one being pruned, so it is the
  // joint optimum min_{ŵ_P = 0} (ŵ − w)ᵀ H (ŵ − w) only when every pruned column precedes every
  // kept one. Make columns 0..2 tiny so the 50% mask (9 of 18) is exactly them.
  const rows = 3, cols = 6;
  const layer = randomLayer(7, rows, cols, 15);
  for (let r = 0; r < rows; r++) for (let c = 0; c < 3; c++) layer.W[r * cols + c] *= 1e-3;
  const hd = damped(layer.stats.hessian!, cols, 0.01);
  const res = sparsegptPrune(layer, unstructured(0.5));
  const P = [0, 1, 2], K = [3, 4, 5];
  for (let r = 0; r < rows; r++) {
    assert.deepEqual([...res.mask.subarray(r * cols, r * cols + cols)], [0, 0, 0, 1, 1, 1]);
    // ŵ_K = w_K + H_KK⁻¹ H_KP w_P
    const wP = P.map((c) => layer.W[r * cols + c]);
    const hkp = sub(hd, cols, K, P);
    const rhs = K.map((_, i) => P.reduce((s, _p, j) => s + hkp[i * 3 + j] * wP[j], 0));
    const dK = gaussSolve(sub(hd, cols, K, K), rhs, 3);
    K.forEach((c, i) => {
      const expected = layer.W[r * cols + c] + dK[i];
      assert.ok(Math.abs(res.W[r * cols + c] - expected) < 1e-6, `row ${r} col ${c}`);
    });
  }
});

Deno.test("general masks: SparseGPT = naive sequential OBS (unstructured and N:M, any blocksize)", () => {
  const rows = 4, cols = 16;
  const layer = randomLayer(21, rows, cols, 24);
  const cases: [SparsityPattern, number][] = [
    [unstructured(0.5), 128],
    [unstructured(0.5), 4],
    [unstructured(0.5), 6], // partial last block
    [unstructured(0.3), 5],
    [unstructured(0.7), 16],
    [nm(2, 4), 128],
    [nm(2, 4), 4],
    [nm(4, 8), 8],
    [nm(1, 4), 12],
  ];
  const hd = damped(layer.stats.hessian!, cols, 0.01);
  for (const [pattern, blocksize] of cases) {
    const label = `${JSON.stringify(pattern)} B=${blocksize}`;
    const res = sparsegptPrune(layer, pattern, { blocksize });
    const brute = bruteSparseGPT(layer.W, rows, cols, hd, pattern, blocksize);
    assert.ok(maxAbsDiff(res.W, brute.W) < 2e-6, `${label}: ${maxAbsDiff(res.W, brute.W)}`);
    for (let i = 0; i < res.W.length; i++) assert.equal(res.W[i] === 0, brute.W[i] === 0, label);
    assert.ok(Math.abs(res.info.loss - brute.loss) / brute.loss < 1e-9, label);
    // sequential OBS is never better than the joint optimum for the same mask
    const pair = { W: layer.W, What: res.W, rows, cols };
    let optimum = 0;
    for (let r = 0; r < rows; r++) {
      const P = range(0, cols).filter((c) => res.mask[r * cols + c] === 0);
      const K = range(0, cols).filter((c) => res.mask[r * cols + c] === 1);
      const wP = P.map((c) => layer.W[r * cols + c]);
      const hkp = sub(hd, cols, K, P);
      const rhs = K.map((_, i) => P.reduce((s, _p, j) => s + hkp[i * P.length + j] * wP[j], 0));
      const dK = gaussSolve(sub(hd, cols, K, K), rhs, K.length);
      const delta = new Float64Array(cols);
      P.forEach((c, j) => delta[c] = wP[j]); // δ = w − ŵ, ŵ_P = 0
      K.forEach((c, i) => delta[c] = -dK[i]); // ŵ_K = w_K + H_KK⁻¹ H_KP w_P
      for (let a = 0; a < cols; a++) {
        for (let b = 0; b < cols; b++) optimum += delta[a] * hd[a * cols + b] * delta[b];
      }
    }
    const achieved = reconstructionErrorFromHessian(pair, hd);
    assert.ok(achieved >= optimum * (1 - 1e-9), `${label}: ${achieved} < optimum ${optimum}`);
    if (label.includes("0.5") && blocksize === 128) {
      assert.ok(achieved > optimum * 1.001, "non-prefix mask: sequential is not the optimum");
    }
  }
});

Deno.test("info.loss = ½·tr(ΔW H_damped ΔWᵀ) on a larger layer (checks the lazy batch update)", () => {
  const rows = 24, cols = 320;
  const layer = randomLayer(5, rows, cols, 400);
  const hd = damped(layer.stats.hessian!, cols, 0.01);
  for (
    const [pattern, blocksize] of [
      [unstructured(0.5), 128],
      [unstructured(0.5), 32],
      [nm(2, 4), 64],
      [nm(4, 8), 128],
    ] as [SparsityPattern, number][]
  ) {
    const res = sparsegptPrune(layer, pattern, { blocksize });
    const tr = reconstructionErrorFromHessian({ W: layer.W, What: res.W, rows, cols }, hd);
    assert.ok(
      Math.abs(tr / 2 - res.info.loss) / res.info.loss < 1e-6,
      `${tr / 2} vs ${res.info.loss}`,
    );
  }
});

Deno.test("N:M result does not depend on the block size (lazy updates are exact)", () => {
  const rows = 10, cols = 96;
  const layer = randomLayer(8, rows, cols, 150);
  const ref = sparsegptPrune(layer, nm(2, 4), { blocksize: 128 });
  for (const blocksize of [4, 8, 12, 32, 48]) {
    const res = sparsegptPrune(layer, nm(2, 4), { blocksize });
    assert.deepEqual(res.mask, ref.mask, `B=${blocksize}`);
    assert.ok(maxAbsDiff(res.W, ref.W) < 1e-5, `B=${blocksize}: ${maxAbsDiff(res.W, ref.W)}`);
  }
});

Deno.test("sparsity 0 (and 0:4) returns W bit-identical", () => {
  const layer = randomLayer(2, 9, 40, 60);
  for (const pattern of [unstructured(0), nm(0, 4)]) {
    const res = sparsegptPrune(layer, pattern, { blocksize: 16 });
    assert.deepEqual(res.W, layer.W);
    assert.equal(res.info.pruned, 0);
    assert.equal(res.info.loss, 0);
  }
});

Deno.test("dead inputs: H_jj = 0 → column zeroed, no NaN, counted", () => {
  const cols = 24, rows = 6, tokens = 64;
  const normal = gaussian(mulberry32(17));
  const x = fillGaussian(new Float32Array(tokens * cols), normal);
  for (let t = 0; t < tokens; t++) x[t * cols + 5] = x[t * cols + 13] = 0; // two dead channels
  const acc = new HessianAccumulator(cols);
  acc.addBatch(x);
  const W = fillGaussian(new Float32Array(rows * cols), normal);
  const layer: PrunerLayer = { W, rows, cols, stats: acc.stats() };
  // p = 0: only the dead columns change (zeroed), everything else stays bit-identical
  const r0 = sparsegptPrune(layer, unstructured(0));
  assert.equal(r0.info.deadColumns, 2);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const expected = c === 5 || c === 13 ? 0 : W[r * cols + c];
      assert.equal(r0.W[r * cols + c], expected);
    }
  }
  assert.equal(r0.info.zeros, 2 * rows);
  assert.equal(r0.info.pruned, 0);
  // p = 0.5: dead weights score 0 and are pruned first; everything finite, exact count
  const r1 = sparsegptPrune(layer, unstructured(0.5));
  assert.ok(r1.W.every(Number.isFinite));
  assert.equal(r1.info.pruned, rows * cols / 2);
  assert.equal(r1.info.zeros, rows * cols / 2);
  for (let r = 0; r < rows; r++) {
    assert.equal(r1.mask[r * cols + 5], 0);
    assert.equal(r1.mask[r * cols + 13], 0);
  }
  // 2:4 as well
  const r2 = sparsegptPrune(layer, nm(2, 4));
  assert.ok(checkNMWeights(r2.W, { rows, cols }, nm(2, 4)).valid);
  assert.ok(Number.isFinite(r2.info.loss));
});

Deno.test("damping escalates when H is indefinite, and is recorded", () => {
  // blockdiag([[1, 1.05], [1.05, 1]], I₄): eigenvalues 2.05, −0.05, 1, …; mean diag 1.
  // damp 0.01 leaves −0.04 (fails); ×10 → 0.1 makes it positive definite: one escalation.
  const n = 6;
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) h[i * n + i] = 1;
  h[1] = h[n] = 1.05;
  const W = fillGaussian(new Float32Array(3 * n), gaussian(mulberry32(1)));
  const layer: PrunerLayer = { W, rows: 3, cols: n, stats: { hessian: h } };
  const res = sparsegptPrune(layer, unstructured(0.5));
  assert.equal(res.info.escalations, 1);
  assert.ok(Math.abs(res.info.dampUsed - 0.1) < 1e-12);
  assert.ok(Math.abs(res.info.dampAbsolute - 0.1) < 1e-12);
  assert.equal(res.info.damp, 0.01);
  assert.ok(res.W.every(Number.isFinite));
  assert.equal(countZeros(res.W), 9);

  // [[1, 10], [10, 1]] needs λ > 9: 0.01 → 0.1 → 1 → 10, three escalations
  const h2 = Float64Array.of(1, 10, 10, 1);
  const l2: PrunerLayer = {
    W: Float32Array.of(1, 2, 3, 4),
    rows: 2,
    cols: 2,
    stats: { hessian: h2 },
  };
  assert.equal(sparsegptPrune(l2, unstructured(0.5)).info.escalations, 3);
  assert.equal(factorHessian(h2, 2).escalations, 3);
  // ... and a clear error when the limit is too low
  assert.throws(
    () => sparsegptPrune(l2, unstructured(0.5), { maxEscalations: 2 }),
    /not positive definite even with damping .* after 2 escalations/,
  );
  // damp 0 escalates from 1e-4
  const singular = Float64Array.of(1, 1, 1, 1);
  const f = factorHessian(singular, 2, { damp: 0 });
  assert.equal(f.escalations, 1);
  assert.equal(f.dampUsed, 1e-4);
});

Deno.test("non-finite H or W is rejected, never turned into NaN weights", () => {
  const layer = randomLayer(4, 3, 8, 20);
  const h = Float64Array.from(layer.stats.hessian!);
  h[9] = NaN;
  assert.throws(
    () => sparsegptPrune({ ...layer, stats: { hessian: h } }, unstructured(0.5)),
    /stats\.hessian\[1, 1\] is NaN.*damping cannot fix/,
  );
  assert.throws(
    () => sparsegptPrune({ ...layer, stats: { hessian: new Float64Array(10) } }, unstructured(0.5)),
    /8×8/,
  );
});

Deno.test("precision f32 stays close to f64 and keeps exact counts", () => {
  const layer = randomLayer(9, 16, 128, 300);
  const hd = damped(layer.stats.hessian!, 128, 0.01);
  for (const pattern of [unstructured(0.5), nm(2, 4)] as SparsityPattern[]) {
    const a = sparsegptPrune(layer, pattern, { precision: "f64", blocksize: 32 });
    const b = sparsegptPrune(layer, pattern, { precision: "f32", blocksize: 32 });
    assert.equal(b.info.precision, "f32");
    assert.equal(b.info.pruned, a.info.pruned);
    const ea = reconstructionErrorFromHessian({ W: layer.W, What: a.W, rows: 16, cols: 128 }, hd);
    const eb = reconstructionErrorFromHessian({ W: layer.W, What: b.W, rows: 16, cols: 128 }, hd);
    assert.ok(Math.abs(ea - eb) / ea < 1e-3, `${ea} vs ${eb}`);
    if (pattern.type === "nm") assert.ok(relDiff(a.W, b.W) < 1e-3);
  }
});

Deno.test("a shared factor (layers with the same inputs) gives the identical result", () => {
  const layer = randomLayer(12, 8, 64, 100);
  const factor = factorHessian(layer.stats.hessian!, 64);
  for (const pattern of [unstructured(0.5), nm(2, 4)] as SparsityPattern[]) {
    const a = sparsegptPrune(layer, pattern);
    const b = sparsegptPrune(layer, pattern, { factor });
    assert.deepEqual(b.W, a.W);
    assert.deepEqual(b.info, a.info);
  }
  const other = factorHessian(randomSpd(32, { seed: 1 }), 32);
  assert.throws(
    () => sparsegptPrune(layer, unstructured(0.5), { factor: other }),
    /factor was computed for another input dimension/,
  );
});
