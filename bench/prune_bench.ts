/**
 * Per-layer pruning speed: SparseGPT and Wanda (magnitude for reference) on the linear-layer
 * shapes of the embedded model (hidden 256, MLP 704) and one 1024×1024 layer, with calibration
 * statistics accumulated from random activations (2048 tokens). Run with
 * `bin/deno bench -A bench/prune_bench.ts`.
 *
 * @module
 */

import { fillGaussian, gaussian, mulberry32 } from "../src/linalg/random.ts";
import { magnitudePrune } from "../src/prune/magnitude.ts";
import { nm, type SparsityPattern, unstructured } from "../src/prune/pattern.ts";
import { factorHessian, sparsegptPrune } from "../src/prune/sparsegpt.ts";
import { ColumnNormAccumulator, HessianAccumulator } from "../src/prune/stats.ts";
import type { PrunerLayer } from "../src/prune/types.ts";
import { wandaPrune } from "../src/prune/wanda.ts";

const TOKENS = 2048;
const SEQUENCES = 16;

/** [rows = d_out, cols = d_in, what] */
const SHAPES: [number, number, string][] = [
  [256, 256, "q/k/v/o"],
  [704, 256, "gate/up"],
  [256, 704, "down"],
  [1024, 1024, "1024²"],
];

function makeLayer(rows: number, cols: number, seed: number) {
  const normal = gaussian(mulberry32(seed));
  const x = fillGaussian(new Float32Array(TOKENS * cols), normal);
  const hAcc = new HessianAccumulator(cols);
  const rAcc = new ColumnNormAccumulator(cols);
  const per = (TOKENS / SEQUENCES) * cols;
  for (let s = 0; s < SEQUENCES; s++) {
    const batch = x.subarray(s * per, (s + 1) * per);
    hAcc.addBatch(batch);
    rAcc.addBatch(batch);
  }
  const W = fillGaussian(new Float32Array(rows * cols), normal, { std: 0.05 });
  const layer: PrunerLayer = { W, rows, cols, stats: { ...hAcc.stats(), ...rAcc.stats() } };
  return { layer, batch: x.subarray(0, per) };
}

const PATTERNS: [string, SparsityPattern][] = [["50%", unstructured(0.5)], ["2:4", nm(2, 4)]];

for (const [rows, cols, what] of SHAPES) {
  const { layer, batch } = makeLayer(rows, cols, rows * 7 + cols);
  const shape = `${rows}×${cols} (${what})`;
  const big = rows * cols > 500_000;
  const heavy = { n: big ? 3 : 10, warmup: 1 };
  const group = shape;
  for (const [label, pattern] of PATTERNS) {
    Deno.bench({
      name: `sparsegpt ${label} ${shape}`,
      group,
      baseline: label === "50%",
      ...heavy,
      fn: () => {
        sparsegptPrune(layer, pattern);
      },
    });
  }
  const factor = factorHessian(layer.stats.hessian!, cols);
  Deno.bench({
    name: `sparsegpt 50% sweep only (shared factor) ${shape}`,
    group,
    ...heavy,
    fn: () => {
      sparsegptPrune(layer, unstructured(0.5), { factor });
    },
  });
  Deno.bench({
    name: `sparsegpt factor H (chol, cholesky_inverse, chol) d_in=${cols}`,
    group,
    ...heavy,
    fn: () => {
      factorHessian(layer.stats.hessian!, cols);
    },
  });
  for (const [label, pattern] of PATTERNS) {
    Deno.bench({
      name: `wanda ${label} ${shape}`,
      group,
      n: big ? 5 : 20,
      warmup: 1,
      fn: () => {
        wandaPrune(layer, pattern);
      },
    });
  }
  Deno.bench({
    name: `magnitude 50% ${shape}`,
    group,
    n: big ? 5 : 20,
    warmup: 1,
    fn: () => {
      magnitudePrune(layer, unstructured(0.5));
    },
  });
  const tokensPerBatch = TOKENS / SEQUENCES;
  Deno.bench({
    name: `H accumulate, ${tokensPerBatch} tokens, d_in=${cols}`,
    group,
    n: 10,
    warmup: 1,
    fn: () => {
      new HessianAccumulator(cols).addBatch(batch);
    },
  });
}
