/**
 * Per-layer cost of SDS's layer-level steps with the default parameters (200 iterations each):
 * re-dense (step 2) and weight adjustment (step 3b, 2:4), on the linear-layer shapes of the
 * embedded model (hidden 256, MLP 688), plus the per-iteration product kernel alone (SIMD vs
 * plain TypeScript), also at 1024×1024 (one step-2 iteration is about one product plus a few
 * element-wise passes, so a 200-iteration step costs about 200–250 products). H comes from
 * random correlated activations (2048 tokens). Run with `bin/deno bench -A bench/sds_bench.ts`.
 *
 * The numbers are wall-clock: on a machine shared with other work they grow with the load.
 *
 * @module
 */

import { fillGaussian, gaussian, mulberry32 } from "../src/linalg/random.ts";
import { magnitudePrune } from "../src/prune/magnitude.ts";
import { nm } from "../src/prune/pattern.ts";
import { adjustLayer, redenseLayer } from "../src/prune/sds.ts";
import { multiplySymmetric, SymmetricProduct } from "../src/prune/sds_kernels.ts";
import { HessianAccumulator } from "../src/prune/stats.ts";

const TOKENS = 2048;

/** [rows = d_out, cols = d_in, what] */
const SHAPES: [number, number, string][] = [
  [256, 256, "q/k/v/o"],
  [688, 256, "gate/up"],
  [256, 688, "down"],
];

function makeLayer(rows: number, cols: number, seed: number) {
  const normal = gaussian(mulberry32(seed));
  // Correlated inputs: every feature mixes in a shared component.
  const x = fillGaussian(new Float32Array(TOKENS * cols), normal);
  for (let t = 0; t < TOKENS; t++) {
    const shared = x[t * cols];
    for (let j = 1; j < cols; j++) x[t * cols + j] += 0.5 * shared;
  }
  const acc = new HessianAccumulator(cols);
  acc.addBatch(x);
  const Wdense = fillGaussian(new Float32Array(rows * cols), normal, { std: 0.02 });
  const Wsparse = magnitudePrune({ W: Wdense, rows, cols, stats: {} }, nm(2, 4)).W;
  return { rows, cols, Wdense, Wsparse, H: acc.H };
}

for (const [rows, cols, what] of SHAPES) {
  const layer = makeLayer(rows, cols, rows * 7 + cols);
  const group = `${rows}×${cols} (${what})`;
  const redensed = redenseLayer(layer).W;
  const second = magnitudePrune({ W: redensed, rows, cols, stats: {} }, nm(2, 4)).W;
  Deno.bench({
    name: `redense 200 it ${group}`,
    group,
    baseline: true,
    n: 2,
    warmup: 0,
    fn: () => {
      redenseLayer(layer);
    },
  });
  Deno.bench({
    name: `adjust 2:4 200 it ${group}`,
    group,
    n: 2,
    warmup: 0,
    fn: () => {
      adjustLayer({ ...layer, W: second, pattern: nm(2, 4) });
    },
  });
  const product = new SymmetricProduct(rows, cols, layer.H);
  const d = Float64Array.from(layer.Wdense);
  const out = new Float64Array(rows * cols);
  Deno.bench({
    name: `one product, SIMD f32 ${group}`,
    group,
    n: 20,
    fn: () => product.multiply(d, out),
  });
  Deno.bench({
    name: `one product, TypeScript f64 ${group}`,
    group,
    n: 5,
    fn: () => multiplySymmetric(d, layer.H, out, rows, cols),
  });
}

{
  const n = 1024;
  const layer = makeLayer(n, n, 1024);
  const product = new SymmetricProduct(n, n, layer.H);
  const d = Float64Array.from(layer.Wdense);
  const out = new Float64Array(n * n);
  Deno.bench({
    name: "one product, SIMD f32 1024×1024",
    group: "1024×1024",
    baseline: true,
    n: 5,
    fn: () => product.multiply(d, out),
  });
  Deno.bench({
    name: "one product, TypeScript f64 1024×1024",
    group: "1024×1024",
    n: 2,
    warmup: 0,
    fn: () => multiplySymmetric(d, layer.H, out, n, n),
  });
}
