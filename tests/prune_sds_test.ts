import assert from "node:assert/strict";
import { choleskyLower, choleskySolve } from "../src/linalg/cholesky.ts";
import { matmul } from "../src/linalg/matrix.ts";
import { fillGaussian, gaussian, mulberry32, randomSpd } from "../src/linalg/random.ts";
import { magnitudePrune } from "../src/prune/magnitude.ts";
import {
  checkNMMask,
  checkNMWeights,
  countPruned,
  matrixMaskFromScores,
  nm,
  nmMaskFromScores,
  rowMaskFromScores,
  unstructured,
} from "../src/prune/pattern.ts";
import {
  reconstructionErrorFromHessian,
  reconstructionErrorFromInputs,
} from "../src/prune/reconstruction.ts";
import {
  adjustLayer,
  magnitudeMaskSelector,
  redenseLayer,
  resolveSdsParams,
  SDS_DEFAULTS,
  type SdsParams,
  weightHistogram,
} from "../src/prune/sds.ts";
import {
  largestEigenvalue,
  multiplySymmetric,
  SymmetricProduct,
} from "../src/prune/sds_kernels.ts";
import { sparsegptPrune } from "../src/prune/sparsegpt.ts";
import { HessianAccumulator } from "../src/prune/stats.ts";

// ---------------------------------------------------------------------------------------------
// A synthetic layer with correlated inputs: x = z·M, z ~ N(0, I), M = diag(decay^r)·(I + 0.3·G/√n)
// with G Gaussian: features are mixed (correlated) and their scales shrink geometrically, so
// H = (2/n)ΣXᵀX is full rank but ill-conditioned, like real activations (κ ≈ 10⁵ for decay 0.93,
// ≈ 10² for 0.98). Seeded, so every run sees the same numbers.

interface Layer {
  rows: number;
  cols: number;
  Wd: Float32Array;
  x: Float32Array; // [tokens, cols]
  H: Float64Array;
  tokens: number;
  nsamples: number;
  tokensPerSample: number;
}

function syntheticLayer(rows: number, cols: number, seed: number, decay: number): Layer {
  const tokens = 1024;
  const normal = gaussian(mulberry32(seed));
  const mix = fillGaussian(new Float64Array(cols * cols), normal);
  for (let r = 0; r < cols; r++) {
    for (let c = 0; c < cols; c++) {
      mix[r * cols + c] = Math.pow(decay, r) *
        ((r === c ? 1 : 0) + 0.3 * mix[r * cols + c] / Math.sqrt(cols));
    }
  }
  const z = fillGaussian(new Float64Array(tokens * cols), normal);
  const x = Float32Array.from(matmul(z, mix, { m: tokens, k: cols, n: cols }));
  const nsamples = 8;
  const tokensPerSample = tokens / nsamples;
  const acc = new HessianAccumulator(cols);
  for (let s = 0; s < nsamples; s++) {
    acc.addBatch(x.subarray(s * tokensPerSample * cols, (s + 1) * tokensPerSample * cols));
  }
  const Wd = fillGaussian(new Float32Array(rows * cols), normal, { std: 0.05 });
  return { rows, cols, Wd, x, H: acc.H, tokens, nsamples, tokensPerSample };
}

function relError(layer: Layer, W: Float32Array): number {
  const { rows, cols, Wd, H } = layer;
  const dense = reconstructionErrorFromHessian(
    { W: Wd, What: new Float32Array(rows * cols), rows, cols },
    H,
  );
  return reconstructionErrorFromHessian({ W: Wd, What: W, rows, cols }, H) / dense;
}

function sparsegpt24(layer: Layer): Float32Array {
  const { rows, cols, Wd, H } = layer;
  return sparsegptPrune({ W: Wd, rows, cols, stats: { hessian: H } }, nm(2, 4)).W;
}

const LAYER = syntheticLayer(48, 64, 7, 0.93);
const WELL = syntheticLayer(32, 64, 11, 0.98);
const STEP1 = sparsegpt24(LAYER);

function redense(layer: Layer, Wsparse: Float32Array, params: Partial<SdsParams> = {}) {
  return redenseLayer({
    Wdense: layer.Wd,
    Wsparse,
    rows: layer.rows,
    cols: layer.cols,
    H: layer.H,
    tokensPerSample: layer.tokensPerSample,
    nsamples: layer.nsamples,
    params,
  });
}

// ---------------------------------------------------------------------------------------------
// Kernels

Deno.test("multiplySymmetric and the SIMD SymmetricProduct equal a plain product", () => {
  for (const [rows, cols] of [[7, 9], [8, 5], [1, 3], [13, 16], [5, 130]]) {
    const s = randomSpd(cols, { seed: rows + cols });
    const p = fillGaussian(new Float64Array(rows * cols), gaussian(mulberry32(rows)));
    for (let i = 0; i < p.length; i += 3) p[i] = 0; // some zeros, to exercise the skipping
    const want = matmul(p, s, { m: rows, k: cols, n: cols });
    let scale = 0;
    for (const w of want) scale = Math.max(scale, Math.abs(w));
    const dense = new Float64Array(rows * cols).fill(NaN);
    multiplySymmetric(p, s, dense, rows, cols);
    const simd = new Float64Array(rows * cols).fill(NaN);
    const product = new SymmetricProduct(rows, cols, s);
    product.multiply(p, simd);
    for (let i = 0; i < want.length; i++) {
      assert.ok(Math.abs(dense[i] - want[i]) <= 1e-12 * (1 + Math.abs(want[i])), `f64 ${i}`);
      // f32 inputs and sums: relative error ~1e-7·√cols of the output scale
      assert.ok(Math.abs(simd[i] - want[i]) <= 1e-5 * scale, `simd ${i}: ${simd[i]} vs ${want[i]}`);
    }
    // reusable: a second product with other inputs is just as right
    const q = p.map((x) => -2 * x);
    product.multiply(q, simd);
    for (let i = 0; i < want.length; i++) {
      assert.ok(Math.abs(simd[i] + 2 * want[i]) <= 2e-5 * scale);
    }
  }
});

Deno.test("largestEigenvalue finds the top eigenvalue of a diagonal-plus-rank-one matrix", () => {
  // diag(1..n) + 5·uuᵀ with unit u: the top eigenvalue is the root of a secular equation;
  // check against the Rayleigh bound and a direct characterisation via (A − λI) singular.
  const n = 6;
  const a = new Float64Array(n * n);
  const u = 1 / Math.sqrt(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) a[i * n + j] = 5 * u * u + (i === j ? i + 1 : 0);
  }
  const lambda = largestEigenvalue(a, n);
  // Secular equation 1 = 5 Σ u²/(λ − d_i).
  let f = 0;
  for (let i = 0; i < n; i++) f += 5 * u * u / (lambda - (i + 1));
  assert.ok(Math.abs(f - 1) < 1e-6, `secular residual ${f - 1}`);
  assert.equal(largestEigenvalue(new Float64Array(9), 3), 0);
});

Deno.test("the step-3b magnitude masks equal magnitude pruning's, ties included", () => {
  const rows = 6, cols = 8;
  const w = new Float64Array(rows * cols);
  const rand = mulberry32(3);
  // Values from a small set so that many ties occur, with random signs.
  for (let i = 0; i < w.length; i++) w[i] = (Math.floor(rand() * 4) - 1.5) * 0.25;
  const abs = Float64Array.from(w, Math.abs);
  const mask = new Uint8Array(rows * cols);
  magnitudeMaskSelector(unstructured(0.4), rows, cols, "layer")(w, mask);
  assert.deepEqual(mask, matrixMaskFromScores(abs, Math.floor(0.4 * rows * cols)));
  magnitudeMaskSelector(unstructured(0.4), rows, cols, "row")(w, mask);
  assert.deepEqual(mask, rowMaskFromScores(abs, { rows, cols }, Math.floor(0.4 * cols)));
  magnitudeMaskSelector(nm(2, 4), rows, cols, "layer")(w, mask);
  assert.deepEqual(mask, nmMaskFromScores(abs, { rows, cols }, nm(2, 4)));
  // And the matrix rule equals magnitudePrune's mask on fp32 weights.
  const w32 = Float32Array.from(w);
  magnitudeMaskSelector(unstructured(0.5), rows, cols, "layer")(w32, mask);
  assert.deepEqual(mask, magnitudePrune({ W: w32, rows, cols, stats: {} }, unstructured(0.5)).mask);
});

// ---------------------------------------------------------------------------------------------
// Step 2: re-dense

Deno.test("(a) re-dense from SparseGPT 2:4 reconstructs the dense outputs far better", () => {
  const sparseErr = relError(LAYER, STEP1);
  assert.ok(sparseErr > 1e-3, `the 2:4 layer should lose something (${sparseErr})`);
  const { W, info } = redense(LAYER, STEP1);
  const err = relError(LAYER, W);
  assert.ok(err < sparseErr / 10, `re-dense ${err} vs sparse ${sparseErr}`);
  // info agrees with an independent computation
  assert.ok(Math.abs(info.relErrorStart - sparseErr) <= 1e-5 * sparseErr);
  assert.ok(Math.abs(info.relErrorEnd - err) <= 1e-5 * err);
  assert.equal(info.relErrorHistory[0], info.relErrorStart);
  assert.equal(info.relErrorHistory.at(-1), info.relErrorEnd);
  assert.equal(info.params.optimizer, SDS_DEFAULTS.optimizer);
  // and it is dense again: pruned entries re-grew
  let zeros = 0;
  for (const w of W) if (w === 0) zeros++;
  assert.ok(zeros < W.length / 100, `${zeros} exact zeros left`);
});

Deno.test("(b) with λ1 = λ2 = 0 and enough iterations re-dense reaches W_dense", () => {
  // H is full rank, so the unique least-squares optimum is W_dense itself.
  const step1 = sparsegpt24(WELL);
  for (
    const params of [{ optimizer: "sgd", lr: 1.9, iters: 2000 }, {
      optimizer: "adam",
      lr: 0.02,
      iters: 2000,
      schedule: "cosine",
    }] as const
  ) {
    const { W, info } = redense(WELL, step1, { ...params, lambda1: 0, lambda2: 0 });
    assert.ok(
      info.relErrorEnd < 1e-6 * info.relErrorStart,
      `${params.optimizer}: ${info.relErrorEnd}`,
    );
    let worst = 0;
    for (let i = 0; i < W.length; i++) worst = Math.max(worst, Math.abs(W[i] - WELL.Wd[i]));
    assert.ok(worst < 0.05 * 0.05, `${params.optimizer}: max |W − W_dense| = ${worst}`);
  }
});

Deno.test("re-dense objective scales: 'sum' and 'mean' are the literal sums and means over X", () => {
  const { rows, cols, Wd, x, tokens } = LAYER;
  const lambda1 = 0.3, lambda2 = 0.7;
  for (const reduction of ["sum", "mean", "relative"] as const) {
    const { W, info } = redense(LAYER, STEP1, { reduction, lambda1, lambda2, iters: 3 });
    const recon = reconstructionErrorFromInputs({ W: Wd, What: W, rows, cols }, x);
    const dense = reconstructionErrorFromInputs(
      { W: Wd, What: new Float32Array(rows * cols), rows, cols },
      x,
    );
    let l1 = 0, l2 = 0, l1d = 0, l2d = 0;
    for (let i = 0; i < W.length; i++) {
      l1 += Math.abs(W[i]);
      l2 += W[i] * W[i];
      l1d += Math.abs(Wd[i]);
      l2d += Wd[i] * Wd[i];
    }
    const n = rows * cols;
    const want = reduction === "sum"
      ? recon + lambda1 * l1 + lambda2 * l2
      : reduction === "mean"
      ? recon / (rows * tokens) + lambda1 * l1 / n + lambda2 * l2 / n
      : recon / dense + lambda1 * l1 / l1d + lambda2 * l2 / l2d;
    assert.ok(
      Math.abs(info.objectiveEnd - want) <= 1e-5 * Math.abs(want),
      `${reduction}: objective ${info.objectiveEnd} vs ${want}`,
    );
  }
});

Deno.test("(c) λ1 > 0 puts more weights near zero than λ1 = 0", () => {
  const base = redense(LAYER, STEP1, { lambda1: 0, lambda2: 0 });
  for (const l1 of ["subgradient", "proximal"] as const) {
    const reg = redense(LAYER, STEP1, { lambda1: 0.05, lambda2: 0, l1 });
    assert.ok(
      reg.info.nearZeroEnd > base.info.nearZeroEnd + 0.05,
      `${l1}: near zero ${reg.info.nearZeroEnd} vs ${base.info.nearZeroEnd}`,
    );
    assert.ok(reg.info.l1Ratio < base.info.l1Ratio, `${l1}: L1 ratio`);
    // still a much better reconstruction than the sparse start
    assert.ok(reg.info.relErrorEnd < reg.info.relErrorStart / 2);
  }
  // The proximal rule produces exact zeros; the subgradient rule (sign(0) = 0) hardly any.
  const prox = redense(LAYER, STEP1, { lambda1: 0.05, l1: "proximal" }).W;
  let zeros = 0;
  for (const w of prox) if (w === 0) zeros++;
  assert.ok(zeros > prox.length / 10, `proximal zeros ${zeros}`);
});

Deno.test("λ2 > 0 shrinks the re-dense weights", () => {
  const base = redense(LAYER, STEP1, { lambda2: 0 });
  const reg = redense(LAYER, STEP1, { lambda2: 0.05 });
  assert.ok(
    reg.info.l2Ratio < base.info.l2Ratio - 0.01,
    `${reg.info.l2Ratio} vs ${base.info.l2Ratio}`,
  );
});

// ---------------------------------------------------------------------------------------------
// Step 3b: weight adjustment

function countRowZeros(mask: Uint8Array, cols: number, r: number): number {
  let z = 0;
  for (let c = 0; c < cols; c++) if (mask[r * cols + c] === 0) z++;
  return z;
}

Deno.test("(d) adjustLayer gives the exact pattern and beats magnitude-masking the re-dense weights", () => {
  const { rows, cols, Wd, H } = LAYER;
  const rd = redense(LAYER, STEP1).W;
  const cases = [
    { pattern: nm(2, 4), maskGranularity: "layer" },
    { pattern: nm(4, 8), maskGranularity: "layer" },
    { pattern: unstructured(0.5), maskGranularity: "layer" },
    { pattern: unstructured(0.37), maskGranularity: "layer" },
    { pattern: unstructured(0.5), maskGranularity: "row" },
  ] as const;
  for (const { pattern, maskGranularity } of cases) {
    const label = `${JSON.stringify(pattern)} ${maskGranularity}`;
    // Magnitude-mask the re-dense weights with the same comparison groups.
    const startMask = new Uint8Array(rows * cols);
    magnitudeMaskSelector(pattern, rows, cols, maskGranularity)(rd, startMask);
    const start = Float32Array.from(rd, (w, i) => startMask[i] ? w : 0);
    const { W, mask, info } = adjustLayer({
      Wdense: Wd,
      W: start,
      rows,
      cols,
      H,
      pattern,
      params: { maskGranularity },
    });
    for (let i = 0; i < W.length; i++) if (mask[i] === 0) assert.equal(W[i], 0, label);
    if (pattern.type === "nm") {
      assert.ok(checkNMMask(mask, { rows, cols }, pattern).valid, label);
      assert.ok(checkNMWeights(W, { rows, cols }, pattern).valid, label);
    } else if (maskGranularity === "layer") {
      assert.equal(countPruned(mask), Math.floor(pattern.sparsity * rows * cols), label);
    } else {
      for (let r = 0; r < rows; r++) {
        assert.equal(countRowZeros(mask, cols, r), Math.floor(pattern.sparsity * cols), label);
      }
    }
    assert.equal(info.pruned, countPruned(mask));
    const before = relError(LAYER, start);
    const after = relError(LAYER, W);
    assert.ok(after <= before, `${label}: ${after} > ${before}`);
    assert.ok(
      after < 0.9 * before,
      `${label}: adjustment should help clearly (${after} vs ${before})`,
    );
    assert.ok(Math.abs(info.relErrorEnd - after) <= 1e-5 * after, label);
  }
});

Deno.test("adjustLayer after SparseGPT 2:4 beats SparseGPT alone; 'hard' keeps the mask", () => {
  const { rows, cols, Wd, H } = LAYER;
  const pattern = nm(2, 4);
  const soft = adjustLayer({ Wdense: Wd, W: STEP1, rows, cols, H, pattern });
  const hard = adjustLayer({
    Wdense: Wd,
    W: STEP1,
    rows,
    cols,
    H,
    pattern,
    params: { maskRule: "hard" },
  });
  const base = relError(LAYER, STEP1);
  assert.ok(relError(LAYER, soft.W) < base, "soft");
  assert.ok(relError(LAYER, hard.W) < base, "hard");
  // Hard: pruned entries get no gradient, so the SparseGPT mask survives unchanged.
  assert.equal(hard.info.maskChanges, 0);
  for (let i = 0; i < STEP1.length; i++) assert.equal(hard.mask[i] === 0, STEP1[i] === 0);
  assert.ok(soft.info.maskChanges > 0, "soft re-selection should move some weights");
});

/** Exact fixed-mask least squares: per row, `H_KK w_K = (H w_d)_K` on the kept set K. */
function fixedMaskOptimum(layer: Layer, mask: Uint8Array): Float32Array {
  const { rows, cols, Wd, H } = layer;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const keep: number[] = [];
    for (let c = 0; c < cols; c++) if (mask[r * cols + c]) keep.push(c);
    const k = keep.length;
    const a = new Float64Array(k * k), b = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) a[i * k + j] = H[keep[i] * cols + keep[j]];
      let t = 0;
      for (let c = 0; c < cols; c++) t += H[keep[i] * cols + c] * Wd[r * cols + c];
      b[i] = t;
    }
    const w = choleskySolve(choleskyLower(a, k), b, { n: k, nrhs: 1 });
    keep.forEach((c, i) => out[r * cols + c] = w[i]);
  }
  return out;
}

Deno.test("with a frozen mask, the CG refit reaches the exact fixed-mask least-squares optimum", () => {
  const { rows, cols, Wd } = WELL;
  const start = sparsegpt24(WELL);
  const { W, mask, info } = adjustLayer({
    Wdense: Wd,
    W: start,
    rows,
    cols,
    H: WELL.H,
    pattern: nm(2, 4),
    params: { maskFreeze: 0, refit: "cg", adjustIters: 120 },
  });
  assert.equal(info.reselectIters, 0);
  // CG stops once every row has converged (32 unknowns per row here).
  assert.ok(info.refitIters > 0 && info.refitIters < 120, `${info.refitIters} CG iterations`);
  assert.equal(info.maskChanges, 0);
  const exact = fixedMaskOptimum(WELL, mask);
  const got = relError(WELL, W), best = relError(WELL, exact);
  assert.ok(got <= best * (1 + 1e-4), `CG ${got} vs exact ${best}`);
  let worst = 0;
  for (let i = 0; i < W.length; i++) worst = Math.max(worst, Math.abs(W[i] - exact[i]));
  assert.ok(worst < 1e-4, `max |W − W*| = ${worst}`);
  // The optimiser route converges towards the same point, more slowly.
  const slow = adjustLayer({
    Wdense: Wd,
    W: start,
    rows,
    cols,
    H: WELL.H,
    pattern: nm(2, 4),
    params: { maskFreeze: 0, refit: "optimizer", adjustIters: 120 },
  });
  assert.ok(relError(WELL, slow.W) >= got, "Adam should not beat the exact optimum");
  assert.ok(relError(WELL, slow.W) < relError(WELL, start), "but it still improves");
});

Deno.test("the literal reading (mask re-selected to the end, no refit) keeps the pattern too", () => {
  const { rows, cols, Wd, H } = LAYER;
  const { W, mask, info } = adjustLayer({
    Wdense: Wd,
    W: STEP1,
    rows,
    cols,
    H,
    pattern: nm(2, 4),
    params: { maskFreeze: 1, maskRule: "soft" },
  });
  assert.equal(info.refitIters, 0);
  assert.equal(info.reselectIters, SDS_DEFAULTS.iters);
  assert.ok(checkNMMask(mask, { rows, cols }, nm(2, 4)).valid);
  assert.ok(checkNMWeights(W, { rows, cols }, nm(2, 4)).valid);
  assert.ok(info.maskChanges > 0);
  assert.ok(relError(LAYER, W) < relError(LAYER, STEP1));
});

// ---------------------------------------------------------------------------------------------
// Determinism, purity, validation

Deno.test("(e) same inputs give bit-identical outputs; inputs are not modified", () => {
  const { rows, cols, Wd, H } = LAYER;
  const wdCopy = Float32Array.from(Wd), s1Copy = Float32Array.from(STEP1);
  const hCopy = Float64Array.from(H);
  const params = { lambda1: 0.01, lambda2: 0.01, iters: 50 };
  const a = redense(LAYER, STEP1, params), b = redense(LAYER, STEP1, params);
  assert.deepEqual(new Uint8Array(a.W.buffer), new Uint8Array(b.W.buffer));
  assert.deepEqual(a.info, b.info);
  const adj = () =>
    adjustLayer({ Wdense: Wd, W: a.W, rows, cols, H, pattern: nm(2, 4), params: { iters: 50 } });
  const c = adj(), d = adj();
  assert.deepEqual(new Uint8Array(c.W.buffer), new Uint8Array(d.W.buffer));
  assert.deepEqual(c.mask, d.mask);
  assert.deepEqual(c.info, d.info);
  assert.deepEqual(Wd, wdCopy);
  assert.deepEqual(STEP1, s1Copy);
  assert.deepEqual(H, hCopy);
  // JSON-ready info
  assert.deepEqual(JSON.parse(JSON.stringify(c.info)), c.info);
});

Deno.test("resolveSdsParams fills defaults, accepts a spec block, and records layer fields only", () => {
  const resolved = resolveSdsParams({});
  for (const [k, v] of Object.entries(resolved)) {
    assert.equal(v, SDS_DEFAULTS[k as keyof SdsParams], k);
  }
  assert.ok(!("base" in resolved) && !("earlyExit" in resolved));
  // A spec-style block: pipeline fields and explicit undefined are fine.
  const fromSpec = resolveSdsParams({
    base: "wanda",
    lambda1: 0.1,
    reduction: "mean",
    adjust: false,
    iters: undefined,
  });
  assert.equal(fromSpec.lambda1, 0.1);
  assert.equal(fromSpec.reduction, "mean");
  assert.equal(fromSpec.iters, SDS_DEFAULTS.iters);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => resolveSdsParams({ keepBest: "yes" as any }), /params\.keepBest/);
  assert.throws(
    () => resolveSdsParams({ maskFreeze: 2 }),
    /params\.maskFreeze = 2 must be in \[0, 1\]/,
  );
});

Deno.test("bad input names the field and the fix", () => {
  const { rows, cols, Wd, H } = LAYER;
  assert.throws(
    () =>
      redenseLayer({ Wdense: Wd, Wsparse: STEP1, rows, cols, H, params: { reduction: "mean" } }),
    /tokensPerSample/,
  );
  assert.throws(
    () => redenseLayer({ Wdense: Wd, Wsparse: STEP1, rows, cols, H, params: { reduction: "sum" } }),
    /nsamples/,
  );
  assert.throws(
    () => redenseLayer({ Wdense: Wd, Wsparse: STEP1.subarray(1), rows, cols, H }),
    /Wsparse must be a Float32Array/,
  );
  assert.throws(
    () => redenseLayer({ Wdense: Wd, Wsparse: STEP1, rows, cols, H: H.subarray(1) }),
    /H must be a row-major 64×64/,
  );
  assert.throws(
    () => redenseLayer({ Wdense: Wd, Wsparse: STEP1, rows, cols, H, params: { lr: -1 } }),
    /params\.lr/,
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => resolveSdsParams({ optimizer: "lbfgs" as any }),
    /params\.optimizer = "lbfgs"; use one of "adam", "sgd"/,
  );
  assert.throws(
    () => adjustLayer({ Wdense: Wd, W: STEP1, rows, cols, H, pattern: nm(2, 3) }),
    /multiple of 3/,
  );
  // Gradient descent beyond its stability limit (lr < 2) diverges, and says so.
  assert.throws(
    () =>
      redenseLayer({
        Wdense: Wd,
        Wsparse: STEP1,
        rows,
        cols,
        H,
        params: { optimizer: "sgd", lr: 3, iters: 3000 },
      }),
    /diverged — lower params\.lr/,
  );
});

// ---------------------------------------------------------------------------------------------
// Histogram

Deno.test("(f) weightHistogram counts every weight once", () => {
  const w = Float32Array.from([-1, -0.5, 0, 0, 0.25, 0.5, 1]);
  const h = weightHistogram(w, { bins: 4 });
  assert.deepEqual(h.edges, [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(h.counts, [1, 1, 3, 2]);
  assert.equal(h.zeros, 2);
  assert.equal(h.clipped, 0);
  const clipped = weightHistogram(w, { bins: 2, range: [-0.5, 0.5] });
  assert.deepEqual(clipped.counts, [2, 5]);
  assert.equal(clipped.clipped, 2);
  for (const W of [LAYER.Wd, STEP1]) {
    const hist = weightHistogram(W, { bins: 33 });
    assert.equal(hist.counts.reduce((s, c) => s + c, 0), W.length);
    assert.equal(hist.edges.length, 34);
  }
  assert.throws(() => weightHistogram(w, { bins: 0 }), /bins/);
  assert.throws(() => weightHistogram(w, { range: [1, 1] }), /range/);
});
