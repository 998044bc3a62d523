import assert from "node:assert/strict";
import { fillGaussian, gaussian, mulberry32 } from "../src/linalg/random.ts";
import { magnitudePrune } from "../src/prune/magnitude.ts";
import {
  checkNMMask,
  checkNMWeights,
  countPruned,
  countZeros,
  nm,
  type SparsityPattern,
  unstructured,
} from "../src/prune/pattern.ts";
import {
  reconstructionErrorFromHessian,
  reconstructionErrorFromInputs,
  reconstructionErrorFromStats,
} from "../src/prune/reconstruction.ts";
import { getPruner, prunerNames, PRUNERS } from "../src/prune/registry.ts";
import { sparsegptPrune } from "../src/prune/sparsegpt.ts";
import { ColumnNormAccumulator, HessianAccumulator } from "../src/prune/stats.ts";
import type { PrunerLayer } from "../src/prune/types.ts";
import { wandaPrune } from "../src/prune/wanda.ts";

interface Synthetic {
  layer: PrunerLayer;
  /** all calibration tokens, [tokens, cols] */
  x: Float32Array;
}

/**
 * A synthetic linear layer whose inputs look like an LLM's: low-rank correlated channels, uneven
 * channel scales and a few large-magnitude outlier features. Deterministic given the seed.
 */
function syntheticLayer(
  seed: number,
  opts: { rows: number; cols: number; seqs: number; tokens: number },
): Synthetic {
  const { rows, cols, seqs, tokens } = opts;
  const rand = mulberry32(seed);
  const normal = gaussian(rand);
  const latent = Math.max(2, cols >> 3);
  const mix = fillGaussian(new Float64Array(latent * cols), normal);
  const scale = new Float64Array(cols);
  for (let j = 0; j < cols; j++) scale[j] = Math.exp(0.5 * normal());
  for (const j of [3, Math.floor(cols / 2), cols - 5]) scale[j] *= 25; // outlier features
  const x = new Float32Array(seqs * tokens * cols);
  const z = new Float64Array(latent);
  for (let t = 0; t < seqs * tokens; t++) {
    fillGaussian(z, normal);
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let l = 0; l < latent; l++) s += z[l] * mix[l * cols + j];
      x[t * cols + j] = scale[j] * (s / Math.sqrt(latent) + 0.3 * normal());
    }
  }
  const W = fillGaussian(new Float32Array(rows * cols), normal, { std: 0.1 });
  const h = new HessianAccumulator(cols);
  const r = new ColumnNormAccumulator(cols);
  for (let s = 0; s < seqs; s++) {
    const batch = x.subarray(s * tokens * cols, (s + 1) * tokens * cols);
    h.addBatch(batch);
    r.addBatch(batch);
  }
  return {
    layer: { W, rows, cols, stats: { ...h.stats(), ...r.stats() }, name: "synthetic" },
    x,
  };
}

const METHODS = {
  magnitude: magnitudePrune,
  wanda: wandaPrune,
  sparsegpt: sparsegptPrune,
} as const;

// 37 rows (odd) and 200 columns (a partial last SparseGPT block of 72) stress the counting.
const SHAPED = syntheticLayer(1, { rows: 37, cols: 200, seqs: 8, tokens: 40 });

Deno.test("every pruned matrix has exactly the requested sparsity (unstructured 0.5, 0.3)", () => {
  const { layer } = SHAPED;
  const { rows, cols } = layer;
  for (const p of [0.5, 0.3]) {
    const pattern = unstructured(p);
    // magnitude and SparseGPT: floor(p·rows·cols) per matrix
    for (const method of ["magnitude", "sparsegpt"] as const) {
      const res = METHODS[method](layer, pattern);
      const expected = Math.floor(p * rows * cols);
      assert.equal(countPruned(res.mask), expected, `${method} p=${p} mask`);
      assert.equal(countZeros(res.W), expected, `${method} p=${p} zeros`);
      assert.equal(res.info.pruned, expected);
      assert.equal(res.info.zeros, expected);
      assert.equal(res.info.sparsity, expected / (rows * cols));
      for (let i = 0; i < res.W.length; i++) {
        if (res.mask[i] === 0) assert.equal(res.W[i], 0);
        else assert.notEqual(res.W[i], 0);
      }
    }
    // Wanda: floor(cols·p) in every row
    const res = wandaPrune(layer, pattern);
    for (let r = 0; r < rows; r++) {
      assert.equal(countZeros(res.W.subarray(r * cols, (r + 1) * cols)), Math.floor(cols * p));
    }
    assert.equal(res.info.zeros, rows * Math.floor(cols * p));
  }
});

Deno.test("SparseGPT budget 'block' uses floor(p·rows·B) per block; default is exact", () => {
  const { layer } = SHAPED;
  const pattern = unstructured(0.3);
  // 37·128·0.3 = 1420.8 → 1420; 37·72·0.3 = 799.2 → 799; matrix: 37·200·0.3 = 2220
  assert.equal(sparsegptPrune(layer, pattern, { budget: "block" }).info.pruned, 1420 + 799);
  assert.equal(sparsegptPrune(layer, pattern).info.pruned, 2220);
});

Deno.test("every pruned matrix has valid N:M groups (2:4, 4:8) for all three methods", () => {
  const { layer } = SHAPED;
  const shape = { rows: layer.rows, cols: layer.cols };
  for (const pattern of [nm(2, 4), nm(4, 8)]) {
    for (const [method, prune] of Object.entries(METHODS)) {
      const res = prune(layer, pattern);
      const label = `${method} ${pattern.n}:${pattern.m}`;
      assert.ok(checkNMMask(res.mask, shape, pattern).valid, `${label} mask`);
      assert.ok(checkNMWeights(res.W, shape, pattern).valid, `${label} weights`);
      assert.equal(res.info.zeros, (layer.rows * layer.cols) / 2, label);
      assert.equal(res.info.pattern, `${pattern.n}:${pattern.m}`);
    }
  }
});

Deno.test("magnitude and Wanda keep surviving weights bit-identical", () => {
  const { layer } = SHAPED;
  for (const prune of [magnitudePrune, wandaPrune]) {
    const res = prune(layer, unstructured(0.5));
    for (let i = 0; i < res.W.length; i++) {
      assert.equal(res.W[i], res.mask[i] ? layer.W[i] : 0);
    }
  }
});

Deno.test("magnitude prunes the smallest |W| per matrix; Wanda the smallest |W|·‖X_j‖ per row", () => {
  const { layer } = SHAPED;
  const { rows, cols, W } = layer;
  const mag = magnitudePrune(layer, unstructured(0.5));
  let maxPruned = 0, minKept = Infinity;
  for (let i = 0; i < W.length; i++) {
    if (mag.mask[i]) minKept = Math.min(minKept, Math.abs(W[i]));
    else maxPruned = Math.max(maxPruned, Math.abs(W[i]));
  }
  assert.ok(maxPruned <= minKept);
  const wanda = wandaPrune(layer, unstructured(0.5));
  const r = layer.stats.colSqNorms!;
  for (let row = 0; row < rows; row++) {
    let hiPruned = 0, loKept = Infinity;
    for (let j = 0; j < cols; j++) {
      const s = Math.abs(W[row * cols + j]) * Math.sqrt(r[j]);
      if (wanda.mask[row * cols + j]) loKept = Math.min(loKept, s);
      else hiPruned = Math.max(hiPruned, s);
    }
    assert.ok(hiPruned <= loKept, `row ${row}`);
  }
});

Deno.test("reconstruction error: from H, from stats and from X agree", () => {
  const { layer, x } = SHAPED;
  const res = sparsegptPrune(layer, unstructured(0.5));
  const pair = { W: layer.W, What: res.W, rows: layer.rows, cols: layer.cols };
  const direct = reconstructionErrorFromInputs(pair, x);
  const viaStats = reconstructionErrorFromStats(pair, layer.stats);
  assert.ok(direct > 0);
  assert.ok(Math.abs(direct - viaStats) / direct < 1e-9, `${direct} vs ${viaStats}`);
  const viaH = reconstructionErrorFromHessian(pair, layer.stats.hessian!);
  assert.ok(Math.abs(viaH * layer.stats.nsamples! / 2 - direct) / direct < 1e-9);
  assert.equal(reconstructionErrorFromInputs({ ...pair, What: layer.W }, x), 0);
});

Deno.test("reconstruction error at 50% on a correlated layer: SparseGPT < Wanda < magnitude", () => {
  for (const seed of [11, 12, 13]) {
    const { layer, x } = syntheticLayer(seed, { rows: 48, cols: 96, seqs: 16, tokens: 32 });
    for (const pattern of [unstructured(0.5), nm(2, 4)] as SparsityPattern[]) {
      const err: Record<string, number> = {};
      for (const [method, prune] of Object.entries(METHODS)) {
        const res = prune(layer, pattern);
        err[method] = reconstructionErrorFromInputs(
          { W: layer.W, What: res.W, rows: layer.rows, cols: layer.cols },
          x,
        );
      }
      const msg = `seed ${seed} ${pattern.type}: ${JSON.stringify(err)}`;
      assert.ok(err.sparsegpt < err.wanda, msg);
      assert.ok(err.wanda < err.magnitude, msg);
    }
  }
});

Deno.test("same inputs → bit-identical outputs, inputs untouched", () => {
  const make = () => syntheticLayer(5, { rows: 20, cols: 64, seqs: 4, tokens: 16 });
  const a = make();
  const b = make();
  assert.deepEqual(a.layer.stats.hessian, b.layer.stats.hessian);
  const wBefore = Float32Array.from(a.layer.W);
  const hBefore = Float64Array.from(a.layer.stats.hessian!);
  for (const pattern of [unstructured(0.5), nm(2, 4)] as SparsityPattern[]) {
    for (const prune of Object.values(METHODS)) {
      const r1 = prune(a.layer, pattern);
      const r2 = prune(b.layer, pattern);
      assert.deepEqual(r1.W, r2.W);
      assert.deepEqual(r1.mask, r2.mask);
      assert.deepEqual(r1.info, r2.info);
    }
  }
  assert.deepEqual(a.layer.W, wBefore);
  assert.deepEqual(a.layer.stats.hessian, hBefore);
});

Deno.test("pruners reject bad inputs with the field and the fix", () => {
  const { layer } = SHAPED;
  assert.throws(
    () => wandaPrune({ ...layer, stats: {} }, unstructured(0.5)),
    /stats\.colSqNorms must hold 200/,
  );
  assert.throws(
    () => sparsegptPrune({ ...layer, stats: {} }, unstructured(0.5)),
    /stats\.hessian is missing/,
  );
  assert.throws(
    () => magnitudePrune({ ...layer, W: new Float32Array(5) }, unstructured(0.5)),
    /layer\.W must be a Float32Array of rows·cols = 7400/,
  );
  const nanW = Float32Array.from(layer.W);
  nanW[205] = NaN;
  assert.throws(() => magnitudePrune({ ...layer, W: nanW }, unstructured(0.5)), /W\[1, 5\] is NaN/);
  assert.throws(() => magnitudePrune(layer, nm(2, 3)), /not a multiple of 3/);
  assert.throws(() => sparsegptPrune(layer, nm(2, 8), { blocksize: 12 }), /multiple of m = 8/);
});

Deno.test("registry maps names to pruners and their statistics", () => {
  assert.deepEqual(prunerNames(), ["magnitude", "wanda", "sparsegpt"]);
  assert.equal(getPruner("wanda").prune, wandaPrune);
  assert.deepEqual(getPruner("sparsegpt").needs, ["hessian"]);
  assert.deepEqual(PRUNERS.wanda.needs, ["colSqNorms"]);
  assert.equal(PRUNERS.sparsegpt.defaults.damp, 0.01);
  assert.equal(PRUNERS.sparsegpt.defaults.blocksize, 128);
  assert.throws(() => getPruner("sds", "suite.methods[3]"), /suite\.methods\[3\]: unknown .*"sds"/);
  assert.throws(() => getPruner("toString"), /unknown pruning method/);
  const res = getPruner("magnitude").prune(SHAPED.layer, unstructured(0.5));
  assert.equal(res.info.method, "magnitude");
});
