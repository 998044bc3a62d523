import assert from "node:assert/strict";
import { initTfWasm } from "../src/train/tf_backend.ts";
import { tfMedusaModule } from "../src/train/tf_heads.ts";
import {
  evaluateHeadAccuracy,
  headLossWeights,
  type HeadsTrainSettings,
  sampleSequenceBatch,
  trainHeads,
  trainingRows,
} from "../src/train/heads_trainer.ts";
import {
  type DistillSet,
  generateDistillData,
  greedyContinuation,
  samplePrompts,
} from "../src/train/distill_data.ts";
import {
  initMedusaWeights,
  medusaConfig,
  medusaReferenceForward,
  randomMedusaWeights,
} from "../src/draft/medusa.ts";
import { gaussian, mulberry32 } from "../src/linalg/random.ts";
import { OrtCausalLM } from "../src/model/causal_lm.ts";
import { maxAbsDiff, tinyConfig, tinyWeights } from "./model_fixture.ts";

const tf = await initTfWasm();
const D = 12, V = 20, S = 14, P = 3;
const normal = gaussian(mulberry32(5));
const lmHead = Float32Array.from({ length: V * D }, () => normal() * 0.5);

/**
 * Synthetic distillation sequences whose future is readable from the hidden state: hidden row t
 * encodes tokens t+2 and t+3 through the LM head's rows (plus noise), so heads 0 and 1 can learn.
 */
function syntheticSet(count: number, seed: number): DistillSet {
  const rnd = mulberry32(seed), g = gaussian(mulberry32(seed + 1));
  const tokens = new Int32Array(count * S), hidden = new Float32Array(count * S * D);
  for (let i = 0; i < tokens.length; i++) tokens[i] = Math.floor(rnd() * V);
  for (let s = 0; s < count; s++) {
    for (let t = 0; t < S; t++) {
      for (let j = 0; j < D; j++) {
        const a = t + 2 < S ? lmHead[tokens[s * S + t + 2] * D + j] : 0;
        const b = t + 3 < S ? lmHead[tokens[s * S + t + 3] * D + j] : 0;
        hidden[(s * S + t) * D + j] = 2 * a + b + 0.1 * g();
      }
    }
  }
  return { count, seqLength: S, promptLength: P, hiddenSize: D, tokens, hidden };
}

const train = syntheticSet(16, 1), heldout = syntheticSet(4, 2);
const cfg = medusaConfig(D, V, { num_heads: 2, num_layers: 1 });
const settings: HeadsTrainSettings = {
  steps: 60,
  batch: 4,
  lr: 3e-2,
  minLr: 1e-3,
  warmup: 2,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  clip: 1,
  seed: 3,
  lossDecay: 0.8,
  evalEvery: 10,
  evalSequences: 4,
  checkpointEvery: 3,
};

Deno.test("heads trainer: loss weights, batch order, trained rows", () => {
  assert.deepEqual(headLossWeights(3, 0.8).map((w) => +w.toFixed(6)), [1, 0.8, 0.64]);
  const a = sampleSequenceBatch({ seed: 1, step: 5, batch: 6, count: 10 });
  assert.deepEqual(a, sampleSequenceBatch({ seed: 1, step: 5, batch: 6, count: 10 }));
  assert.notDeepEqual(a, sampleSequenceBatch({ seed: 1, step: 6, batch: 6, count: 10 }));
  assert.ok(a.every((i) => i >= 0 && i < 10));
  assert.deepEqual(trainingRows({ promptLength: 3, seqLength: 14 }), { from: 2, to: 12 });
  assert.throws(() => trainingRows({ promptLength: 12, seqLength: 13 }), /no position/);
});

Deno.test("heads trainer: the TF.js heads compute the reference forward", () => {
  for (const c of [cfg, medusaConfig(D, V, { num_heads: 2, num_layers: 2, lm_head: "own" })]) {
    const w = randomMedusaWeights(c, { seed: 4, lmHead });
    const module = tfMedusaModule(tf, c, lmHead);
    const rows = { from: 2, to: 7 };
    const got = tf.tidy(() => {
      const params = new Map(module.shapes.map(([n, s]) => [n, tf.tensor(w.get(n)!, s)]));
      const batch = {
        hidden: tf.tensor3d(train.hidden.slice(0, 2 * S * D), [2, S, D]),
        tokens: tf.tensor2d(train.tokens.slice(0, 2 * S), [2, S], "int32"),
      };
      return module.headLogits(params, batch, rows).map((t) => t.dataSync() as Float32Array);
    });
    module.dispose();
    const x = new Float32Array(10 * D);
    for (let b = 0; b < 2; b++) {
      x.set(train.hidden.subarray((b * S + 2) * D, (b * S + 7) * D), b * 5 * D);
    }
    const ref = medusaReferenceForward(c, w, lmHead, x);
    for (let k = 0; k < 2; k++) {
      const want = ref.subarray(k * 10 * V, (k + 1) * 10 * V);
      assert.ok(maxAbsDiff(got[k], want) < 1e-4, `head ${k}: ${maxAbsDiff(got[k], want)}`);
    }
  }
});

Deno.test("heads trainer: held-out loss falls and accuracy rises on learnable data", async () => {
  const module = tfMedusaModule(tf, cfg, lmHead);
  const init = initMedusaWeights(cfg, { seed: 0, lmHead });
  const before = evaluateHeadAccuracy(tf, module, init, heldout, { ranks: 5 });
  const r = await trainHeads({ tf, module, init, settings, train, heldout });
  const after = evaluateHeadAccuracy(tf, module, r.weights, heldout, { ranks: 5 });
  module.dispose();
  assert.ok(r.finished);
  const val = r.curve.filter((p) => p.valLoss !== undefined).map((p) => p.valLoss!);
  assert.ok(val.length >= 4);
  assert.ok(val.at(-1)! < 0.8 * val[0], `held-out loss ${val[0]} → ${val.at(-1)}`);
  const trainLoss = r.curve.filter((p) => p.loss !== undefined).map((p) => p.loss!);
  assert.ok(
    trainLoss.slice(-5).reduce((a, b) => a + b) < trainLoss.slice(0, 5).reduce((a, b) => a + b),
  );
  assert.ok(after.top1[0] >= before.top1[0] + 0.1, `top-1 ${before.top1[0]} → ${after.top1[0]}`);
  assert.ok(after.top1[1] > before.top1[1], `head 1 top-1 ${before.top1[1]} → ${after.top1[1]}`);
  // Accuracy table consistency.
  for (let k = 0; k < 2; k++) {
    assert.equal(after.topk[k].length, 5);
    assert.ok(Math.abs(after.perRank[k].reduce((a, b) => a + b) - after.topk[k][4]) < 1e-12);
    assert.equal(after.top5[k], after.topk[k][4]);
    // Positions: head k has labels for t + 2 + k < S, t in [P − 1, S − 2).
    assert.equal(after.positions[k], heldout.count * (S - 2 - (P - 1) - k));
  }
});

Deno.test("heads trainer: a resumed run is bit-identical to an uninterrupted one", async () => {
  const s = { ...settings, steps: 8, evalEvery: 4 };
  const dir = await Deno.makeTempDir();
  try {
    const module = tfMedusaModule(tf, cfg, lmHead);
    const init = initMedusaWeights(cfg, { seed: 0, lmHead });
    const straight = await trainHeads({ tf, module, init, settings: s, train, heldout });
    const first = await trainHeads({
      tf,
      module,
      init,
      settings: s,
      train,
      heldout,
      checkpointDir: dir,
      identity: "x",
      stopAfter: 5,
    });
    assert.equal(first.finished, false);
    assert.equal(first.steps, 5);
    const resumed = await trainHeads({
      tf,
      module,
      init: new Map(), // must come from the checkpoint
      settings: s,
      train,
      heldout,
      checkpointDir: dir,
      identity: "x",
    });
    module.dispose();
    assert.ok(resumed.finished);
    for (const [n, w] of straight.weights) assert.deepEqual(resumed.weights.get(n), w, n);
    const strip = (c: typeof straight.curve) => c.map(({ seconds: _s, ...p }) => p);
    assert.deepEqual(strip(resumed.curve), strip(straight.curve));
    await assert.rejects(
      trainHeads({
        tf,
        module,
        init,
        settings: s,
        train,
        heldout,
        checkpointDir: dir,
        identity: "y",
      }),
      /other settings/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("distillation data: greedy continuations with the KV cache, hidden rows of a full forward", async () => {
  const c = tinyConfig();
  const model = await OrtCausalLM.create(c, tinyWeights(c, 3), { backend: "wasm", threads: 1 });
  try {
    const prompt = Int32Array.of(5, 9, 2, 40);
    const g = await greedyContinuation(model, prompt, 6);
    assert.deepEqual([...g.tokens.subarray(0, 4)], [...prompt]);
    const full = await model.logits(g.tokens);
    assert.ok(maxAbsDiff(g.hidden, full.hidden) < 1e-4);
    // Each generated token is the argmax of the full forward at the previous position.
    for (let t = 4; t < 10; t++) {
      const row = full.logits.subarray((t - 1) * c.vocab_size, t * c.vocab_size);
      let best = 0;
      for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
      assert.equal(g.tokens[t], best);
    }
    const stream = Int32Array.from({ length: 200 }, (_, i) => (i * 7) % c.vocab_size);
    const a = samplePrompts(stream, { count: 3, promptLength: 5, seed: 1 });
    assert.deepEqual(a, samplePrompts(stream, { count: 3, promptLength: 5, seed: 1 }));
    const data = await generateDistillData(model, stream, {
      trainSequences: 2,
      heldoutSequences: 1,
      promptLength: 5,
      continuation: 4,
      seed: 1,
    });
    assert.equal(data.train.count, 2);
    assert.equal(data.heldout.count, 1);
    assert.equal(data.train.hidden.length, 2 * 9 * c.hidden_size);
    assert.deepEqual([...data.heldout.tokens.subarray(0, 5)], [...a.subarray(10, 15)]);
  } finally {
    await model.close();
  }
});
