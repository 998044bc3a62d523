import assert from "node:assert/strict";
import { maxAbsDiff } from "../src/linalg/matrix.ts";
import { fillGaussian, gaussian, mulberry32 } from "../src/linalg/random.ts";
import { ColumnNormAccumulator, HessianAccumulator } from "../src/prune/stats.ts";

const D = 10;
const TOKENS = 7;
const SEQS = 5;

function sequences(seed: number): Float32Array[] {
  const normal = gaussian(mulberry32(seed));
  return Array.from(
    { length: SEQS },
    (_, s) => fillGaussian(new Float32Array(TOKENS * D), normal, { std: 1 + s }),
  );
}

/** Direct definition: H = (2/n) Σ_s X_sᵀ X_s, r_j = (1/n) Σ_s ‖X_s[:, j]‖². */
function direct(xs: Float32Array[]): { h: Float64Array; r: Float64Array } {
  const h = new Float64Array(D * D);
  const r = new Float64Array(D);
  for (const x of xs) {
    for (let t = 0; t < TOKENS; t++) {
      for (let i = 0; i < D; i++) {
        r[i] += x[t * D + i] ** 2 / xs.length;
        for (let j = 0; j < D; j++) h[i * D + j] += (2 / xs.length) * x[t * D + i] * x[t * D + j];
      }
    }
  }
  return { h, r };
}

Deno.test("HessianAccumulator: running mean over sequences equals (2/n)·Σ XᵀX", () => {
  const xs = sequences(1);
  const ref = direct(xs);
  const acc = new HessianAccumulator(D);
  for (const x of xs) acc.addBatch(x);
  assert.equal(acc.nsamples, SEQS);
  const st = acc.stats();
  assert.equal(st.nsamples, SEQS);
  assert.ok(maxAbsDiff(st.hessian!, ref.h) < 1e-11);
  // symmetric
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < D; j++) assert.equal(st.hessian![i * D + j], st.hessian![j * D + i]);
  }
  // n counts sequences, not tokens: one batch holding all 5 sequences gives the same H
  const all = new Float32Array(SEQS * TOKENS * D);
  xs.forEach((x, s) => all.set(x, s * TOKENS * D));
  const acc2 = new HessianAccumulator(D);
  acc2.addBatch(all, { sequences: SEQS });
  assert.ok(maxAbsDiff(acc2.stats().hessian!, ref.h) < 1e-11);
  // ... and batches of 2 + 3 sequences too
  const acc3 = new HessianAccumulator(D);
  acc3.addBatch(all.subarray(0, 2 * TOKENS * D), { sequences: 2 });
  acc3.addBatch(all.subarray(2 * TOKENS * D), { sequences: 3 });
  assert.ok(maxAbsDiff(acc3.stats().hessian!, ref.h) < 1e-11);
});

Deno.test("ColumnNormAccumulator: running mean of squared column norms, = diag(H)/2", () => {
  const xs = sequences(2);
  const ref = direct(xs);
  const acc = new ColumnNormAccumulator(D);
  const hacc = new HessianAccumulator(D);
  for (const x of xs) {
    acc.addBatch(x);
    hacc.addBatch(x);
  }
  const r = acc.stats().colSqNorms!;
  assert.ok(maxAbsDiff(r, ref.r) < 1e-11);
  const h = hacc.stats().hessian!;
  for (let j = 0; j < D; j++) assert.ok(Math.abs(h[j * D + j] / 2 - r[j]) < 1e-11);
});

Deno.test("f32 storage rounds the statistic to fp32 after every batch", () => {
  const xs = sequences(3);
  const a = new HessianAccumulator(D, { precision: "f32" });
  const c = new ColumnNormAccumulator(D, { precision: "f32" });
  for (const x of xs) {
    a.addBatch(x);
    c.addBatch(x);
  }
  for (const v of a.stats().hessian!) assert.equal(Math.fround(v), v);
  for (const v of c.stats().colSqNorms!) assert.equal(Math.fround(v), v);
  const ref = direct(xs);
  let scale = 0;
  for (const v of ref.h) scale = Math.max(scale, Math.abs(v));
  assert.ok(maxAbsDiff(a.stats().hessian!, ref.h) / scale < 1e-6);
});

Deno.test("accumulators reject bad batches with the fix", () => {
  const a = new HessianAccumulator(D);
  assert.throws(() => a.addBatch(new Float32Array(D + 1)), /not tokens × d_in with d_in = 10/);
  const bad = new Float32Array(D);
  bad[3] = NaN;
  assert.throws(() => a.addBatch(bad), /feature 3\] is NaN/);
  assert.throws(() => a.addBatch(new Float32Array(D), { sequences: 0 }), /positive integer/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => a.addBatch(new Float64Array(D) as any), /Float32Array/);
  assert.throws(() => new ColumnNormAccumulator(0), /positive integer/);
  assert.equal(a.nsamples, 0);
});

Deno.test("same inputs give bit-identical statistics", () => {
  const run = () => {
    const a = new HessianAccumulator(D);
    for (const x of sequences(9)) a.addBatch(x);
    return a.stats().hessian!;
  };
  assert.deepEqual(run(), run());
});
