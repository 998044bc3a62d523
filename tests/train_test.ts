// The TF.js trainer computes the same function as the ONNX graph and the plain-TypeScript
// reference, and its checkpoints resume exactly.
import assert from "node:assert/strict";
import { maxAbsDiff, tinyConfig, tinyWeights } from "./model_fixture.ts";
import { referenceForward } from "../src/model/reference_forward.ts";
import { OrtCausalLM } from "../src/model/causal_lm.ts";
import { initTfWasm } from "../src/train/tf_backend.ts";
import { forwardTables, llamaHidden, llamaLogits, makeTfLlama } from "../src/train/tf_llama.ts";
import { type LmTrainSettings, sampleBatch, trainLm } from "../src/train/lm_trainer.ts";
import { readHfModelFolder } from "../src/model/weights.ts";

Deno.test("TF.js trainer logits match onnxruntime-web (wasm) and the reference on a fixed batch", async () => {
  const tf = await initTfWasm();
  assert.equal(tf.getBackend(), "wasm");
  const cfg = tinyConfig(); // GQA 4/2 heads, untied head, rope_theta 500000
  const weights = tinyWeights(cfg, 11);
  const ids = [5, 17, 3, 66, 0, 12, 12, 40, 9, 31, 2, 58];
  const model = makeTfLlama(tf, cfg, weights);
  const tables = forwardTables(tf, cfg, ids.length);
  const logitsT = tf.tidy(() =>
    llamaLogits(tf, model, llamaHidden(tf, model, tf.tensor2d([ids], undefined, "int32"), tables))
  );
  const tfLogits = logitsT.dataSync() as Float32Array;
  tf.dispose([logitsT, tables.cos, tables.sin, tables.causal, ...model.params.values()]);

  const ref = referenceForward(cfg, weights, ids);
  const ort = await OrtCausalLM.create(cfg, weights, { backend: "wasm", threads: 1 });
  try {
    const out = await ort.logits(ids);
    const dOrt = maxAbsDiff(tfLogits, out.logits);
    const dRef = maxAbsDiff(tfLogits, ref.logits);
    assert.ok(dOrt <= 1e-3, `TF.js vs ORT max |Δlogit| = ${dOrt}`);
    assert.ok(dRef <= 1e-3, `TF.js vs reference max |Δlogit| = ${dRef}`);
  } finally {
    await ort.close();
  }
});

Deno.test("batch order depends only on (seed, step)", () => {
  const tokens = Int32Array.from({ length: 5000 }, (_, i) => (i * 31) % 997);
  const a = sampleBatch(tokens, { seed: 3, step: 17, batch: 4, seqLen: 32 });
  const b = sampleBatch(tokens, { seed: 3, step: 17, batch: 4, seqLen: 32 });
  const c = sampleBatch(tokens, { seed: 3, step: 18, batch: 4, seqLen: 32 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

Deno.test("training lowers the loss, and a stopped run resumes to bit-identical weights", async () => {
  const cfg = tinyConfig({
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 1,
    vocab_size: 40,
  });
  const settings: LmTrainSettings = {
    config: cfg,
    seqLen: 16,
    batch: 4,
    steps: 6,
    lr: 1e-2,
    minLr: 1e-3,
    warmup: 2,
    weightDecay: 0.1,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    clip: 1,
    seed: 5,
    evalEvery: 3,
    evalWindows: 4,
    checkpointEvery: 2,
    workers: 1,
  };
  // A learnable stream: a repeating pattern with some noise.
  const trainTokens = Int32Array.from({ length: 4000 }, (_, i) => (i % 7) * 5 % 40);
  const valTokens = trainTokens.slice(0, 200);
  const tmp = await Deno.makeTempDir();
  try {
    const straight = await trainLm({
      settings,
      trainTokens,
      valTokens,
      checkpointDir: `${tmp}/a-ckpt`,
      outDir: `${tmp}/a`,
    });
    const vals = straight.curve.filter((p) => p.valLoss !== undefined).map((p) => p.valLoss!);
    assert.ok(vals.at(-1)! < vals[0] - 0.5, `val loss ${vals[0]} → ${vals.at(-1)}`);
    await trainLm({
      settings,
      trainTokens,
      valTokens,
      checkpointDir: `${tmp}/b-ckpt`,
      outDir: `${tmp}/b`,
      stopAfter: 3,
    });
    const resumed = await trainLm({
      settings,
      trainTokens,
      valTokens,
      checkpointDir: `${tmp}/b-ckpt`,
      outDir: `${tmp}/b`,
    });
    for (const [name, w] of straight.weights) {
      assert.deepEqual(resumed.weights.get(name), w, `${name} differs after resume`);
    }
    // The export is a Hugging Face folder this project (and others) can read back.
    const folder = await readHfModelFolder(`${tmp}/b`);
    assert.equal(folder.config.hidden_size, 32);
    assert.deepEqual(
      folder.weights.get("model.norm.weight"),
      straight.weights.get("model.norm.weight"),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
