// On real layers of the embedded model, with real calibration data through the real driver:
// SparseGPT < Wanda < magnitude in reconstruction error at 50%, exact sparsity, and calibration
// with the same seed gives bit-identical pruned weights.
import assert from "node:assert/strict";
import { EMBEDDED, prepareEmbeddedDefault } from "../src/data/prepare.ts";
import { splitTokens } from "../src/data/token_cache.ts";
import { loadModelFolder } from "../src/model/causal_lm.ts";
import { collectBlockStats, embedSequences, sequentialPrune } from "../src/prune/driver.ts";
import { sampleCalibration } from "../src/prune/executor.ts";
import { getPruner } from "../src/prune/registry.ts";
import { unstructured } from "../src/prune/pattern.ts";
import { reconstructionErrorFromHessian } from "../src/prune/reconstruction.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const modelDir = Deno.env.get("SPARSESPEC_TEST_MODEL") ?? `${root}/${EMBEDDED.modelDir}`;

Deno.test("real layers: SparseGPT < Wanda < magnitude reconstruction error at 50%", async () => {
  await prepareEmbeddedDefault({ root });
  const tokens = await splitTokens("train", { root, tokenizer: modelDir });
  const seqs = sampleCalibration(tokens, { samples: 8, seqlen: 128, seed: 0 });
  const model = await loadModelFolder(modelDir, { backend: "wasm", threads: 2 });
  try {
    let xs = embedSequences(model, seqs);
    xs = (await collectBlockStats(model, 0, xs)).outs; // inputs of block 1
    const { stats } = await collectBlockStats(model, 1, xs);
    for (
      const [name, input] of [
        ["model.layers.1.mlp.down_proj.weight", "downIn"],
      ] as const
    ) {
      const W = model.weights.get(name)!;
      const s = stats[input];
      const cols = s.colSqNorms.length, rows = W.length / cols;
      const err: Record<string, number> = {};
      for (const method of ["magnitude", "wanda", "sparsegpt"]) {
        const p = getPruner(method);
        const out = p.prune({ W, rows, cols, stats: s }, unstructured(0.5), p.defaults);
        let zeros = 0;
        for (const v of out.W) if (v === 0) zeros++;
        assert.equal(zeros, Math.floor(rows * cols * 0.5), `${method} ${name} sparsity`);
        err[method] = reconstructionErrorFromHessian({ W, What: out.W, rows, cols }, s.hessian);
      }
      assert.ok(err.sparsegpt < err.wanda, `${name}: ${JSON.stringify(err)}`);
      assert.ok(err.wanda < err.magnitude, `${name}: ${JSON.stringify(err)}`);
    }
  } finally {
    await model.close();
  }
});

Deno.test("sequential SparseGPT with the same calibration seed is bit-identical", async () => {
  await prepareEmbeddedDefault({ root });
  const tokens = await splitTokens("train", { root, tokenizer: modelDir });
  const model = await loadModelFolder(modelDir, { backend: "wasm", threads: 2 });
  try {
    const p = getPruner("sparsegpt");
    const run = async () => {
      const seqs = sampleCalibration(tokens, { samples: 4, seqlen: 64, seed: 7 });
      const { model: pruned, reports } = await sequentialPrune(model, seqs, {
        pruneLinear: (l) =>
          p.prune(
            { W: l.W, rows: l.rows, cols: l.cols, stats: l.stats },
            unstructured(0.5),
            p.defaults,
          ),
      });
      const w = new Map(pruned.weights);
      await pruned.close();
      return { w, reports };
    };
    const a = await run(), b = await run();
    for (const [name, wa] of a.w) assert.deepEqual(b.w.get(name), wa, name);
    assert.equal(a.reports.length, 7 * model.config.num_hidden_layers);
    for (const r of a.reports) assert.equal(r.sparsity, 0.5, r.name);
  } finally {
    await model.close();
  }
});
