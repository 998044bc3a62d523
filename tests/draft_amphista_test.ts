// Amphista drafter: shapes, reduction to Medusa, ONNX vs reference vs TF.js parity, the recompute
// window equals a banded pass over the whole sequence, folder round trip, lossless greedy decoding
// through the real target, and a short training run that learns.
import assert from "node:assert/strict";
import {
  adapterPrefix,
  type AmphistaConfig,
  amphistaConfig,
  AmphistaDrafter,
  amphistaParameterCount,
  amphistaParameterShapes,
  amphistaReferenceForward,
  initAmphistaWeights,
  openAmphistaDrafter,
  randomAmphistaWeights,
  readAmphistaFolder,
  recomputeRows,
  validateAmphistaWeights,
  writeAmphistaFolder,
} from "../src/draft/amphista.ts";
import {
  medusaConfig,
  MedusaDrafter,
  medusaParameterShapes,
  medusaReferenceForward,
} from "../src/draft/medusa.ts";
import { targetLmHead } from "../src/draft/folder.ts";
import { OrtCausalLM } from "../src/model/causal_lm.ts";
import { OrtTreeTarget } from "../src/decode/target.ts";
import { autoregressiveGenerate, speculativeGenerate } from "../src/decode/speculative_loop.ts";
import { buildTreeBuffers, chainTree } from "../src/decode/tree.ts";
import { buildTreeFromAccuracies } from "../src/decode/tree_builder.ts";
import { initTfWasm } from "../src/train/tf_backend.ts";
import { tfAmphistaModule } from "../src/train/tf_amphista.ts";
import { evaluateHeadAccuracy, trainHeads } from "../src/train/heads_trainer.ts";
import type { DistillSet } from "../src/train/distill_data.ts";
import { gaussian, mulberry32 } from "../src/linalg/random.ts";
import { maxAbsDiff, tinyConfig, tinyWeights } from "./model_fixture.ts";

const D = 24, V = 50;
const RUNTIME = { provider: "wasm" as const, reason: "test", threads: 1 };
const tf = await initTfWasm();

function randomMatrix(n: number, seed: number, scale = 1): Float32Array {
  const g = gaussian(mulberry32(seed));
  return Float32Array.from({ length: n }, () => g() * scale);
}
function randomTokens(n: number, seed: number): Int32Array {
  const r = mulberry32(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * V));
}

const lmHead = randomMatrix(V * D, 11, 0.3);
const small = (o: Partial<AmphistaConfig> = {}) =>
  amphistaConfig(D, V, { num_heads: 3, ffn_size: 32, window: 3, ...o });
const VARIANTS: Array<[string, AmphistaConfig]> = [
  ["default (2 stages, fusion, encoder 1)", small({ adapter_cache: "recompute" })],
  ["no fusion", small({ adapter_cache: "recompute", token_fusion: false })],
  [
    "1 stage, 2 encoder layers, 2 blocks",
    small({ adapter_cache: "recompute", adapter_stages: 1, encoder_layers: 2, num_layers: 2 }),
  ],
  ["no adapters, fusion on", small({ adapter_stages: 0 })],
  [
    "no encoder, 2 layers per stage",
    small({ adapter_cache: "recompute", encoder_layers: 0, adapter_layers_per_stage: 2 }),
  ],
];

Deno.test("amphista: parameter shapes and counts", () => {
  const cfg = amphistaConfig(256, 4096);
  const d = 256, layer = 4 * d * d + 3 * d * 512 + 2 * d;
  assert.equal(
    amphistaParameterCount(cfg),
    2 * d * d + 2 * layer + 4 * (d * d + d) + 4 * d + layer,
  );
  assert.equal(recomputeRows(cfg), 2 * 15 + 1);
  // Everything off: exactly Medusa's tensors.
  const off = amphistaConfig(D, V, { adapter_stages: 0, token_fusion: false, encoder_layers: 0 });
  assert.deepEqual(amphistaParameterShapes(off), medusaParameterShapes(medusaConfig(D, V)));
  assert.equal(recomputeRows(off), 1);
  assert.throws(() => amphistaConfig(D, V, { attention_heads: 5 }), /attention_heads/);
  const w = randomAmphistaWeights(small(), { seed: 1 });
  w.delete(`${adapterPrefix(1)}.mlp.up_proj.weight`);
  assert.throws(() => validateAmphistaWeights(small(), w, "x"), /adapter\.1\.mlp\.up_proj/);
});

Deno.test("amphista: with adaptation, fusion and auto-embedding off it equals the Medusa drafter", async () => {
  const off = amphistaConfig(D, V, {
    num_heads: 3,
    num_layers: 2,
    adapter_stages: 0,
    token_fusion: false,
    encoder_layers: 0,
  });
  const medusa = medusaConfig(D, V, { num_heads: 3, num_layers: 2 });
  const weights = randomAmphistaWeights(off, { seed: 5 });
  const hidden = randomMatrix(4 * D, 6);
  const input = {
    hidden,
    tokens: Int32Array.of(1, 2, 3, 4),
    positions: Int32Array.of(0, 1, 2, 3),
    nextToken: 7,
  };
  const a = await AmphistaDrafter.create({ config: off, weights, lmHead, runtime: RUNTIME });
  const m = await MedusaDrafter.create({ config: medusa, weights, lmHead, runtime: RUNTIME });
  try {
    const la = await a.propose(input), lm = await m.propose(input);
    assert.equal(la.length, 3 * V);
    assert.ok(maxAbsDiff(la, lm) < 1e-5, `ONNX ${maxAbsDiff(la, lm)}`);
    const ref = amphistaReferenceForward(off, weights, { lmHead }, {
      hidden,
      nextTokens: Int32Array.of(2, 3, 4, 7),
    });
    const refM = medusaReferenceForward(medusa, weights, lmHead, hidden.slice(3 * D));
    assert.ok(maxAbsDiff(ref, refM) < 1e-9);
    assert.equal(a.parameterCount, m.parameterCount);
  } finally {
    await a.close();
    await m.close();
  }
});

for (const [name, cfg] of VARIANTS) {
  Deno.test(`amphista: ONNX graph = reference forward = TF.js forward (${name})`, async () => {
    const weights = randomAmphistaWeights(cfg, { seed: 9 });
    const S = 9;
    const hidden = randomMatrix(S * D, 12);
    const tokens = randomTokens(S, 13);
    const drafter = await AmphistaDrafter.create({
      config: cfg,
      weights,
      lmHead,
      runtime: RUNTIME,
    });
    const module = tfAmphistaModule(tf, cfg, lmHead);
    try {
      for (const t of [3, S - 2]) {
        // Rows 0..t with the tokens produced from them (tokens[1..t+1]).
        const ref = amphistaReferenceForward(cfg, weights, { lmHead }, {
          hidden: hidden.slice(0, (t + 1) * D),
          nextTokens: tokens.slice(1, t + 2),
        });
        const onnx = await drafter.run(hidden.slice(0, (t + 1) * D), tokens.slice(1, t + 2));
        assert.ok(
          maxAbsDiff(onnx, ref) < 1e-3,
          `ONNX vs reference at ${t}: ${maxAbsDiff(onnx, ref)}`,
        );
        const got = tf.tidy(() => {
          const params = new Map(module.shapes.map(([n, s]) => [n, tf.tensor(weights.get(n)!, s)]));
          const batch = {
            hidden: tf.tensor3d(hidden, [1, S, D]),
            tokens: tf.tensor2d(tokens, [1, S], "int32"),
          };
          return module.headLogits(params, batch, { from: t, to: t + 1 })
            .map((x) => x.dataSync() as Float32Array);
        });
        for (let k = 0; k < cfg.num_heads; k++) {
          const want = ref.subarray(k * V, (k + 1) * V);
          assert.ok(
            maxAbsDiff(got[k], want) < 1e-3,
            `TF head ${k} at ${t}: ${maxAbsDiff(got[k], want)}`,
          );
        }
      }
    } finally {
      module.dispose();
      await drafter.close();
    }
  });
}

for (const cache of ["recompute", "kv"] as const) {
  Deno.test(`amphista: the ${cache} history gives what a banded pass over the whole sequence gives`, async () => {
    const cfg = small({ adapter_cache: cache }); // window 3, 2 adapter layers
    const weights = randomAmphistaWeights(cfg, { seed: 21 });
    const S = 14;
    const hidden = randomMatrix(S * D, 22);
    const tokens = randomTokens(S + 1, 23);
    const drafter = await AmphistaDrafter.create({
      config: cfg,
      weights,
      lmHead,
      runtime: RUNTIME,
    });
    try {
      // Commit rows in uneven chunks, as the speculative loop does.
      let from = 0;
      for (const m of [4, 1, 3, 2, 4]) {
        const to = from + m;
        const out = await drafter.propose({
          hidden: hidden.slice(from * D, to * D),
          tokens: tokens.slice(from, to),
          positions: Int32Array.from({ length: m }, (_, i) => from + i),
          nextToken: tokens[to],
        });
        const full = amphistaReferenceForward(cfg, weights, { lmHead }, {
          hidden: hidden.slice(0, to * D),
          nextTokens: tokens.slice(1, to + 1),
        });
        assert.ok(maxAbsDiff(out, full) < 1e-3, `after ${to} rows: ${maxAbsDiff(out, full)}`);
        from = to;
      }
      // reset forgets the prompt: the same first chunk gives the same logits again.
      drafter.reset();
      const again = await drafter.propose({
        hidden: hidden.slice(0, 2 * D),
        tokens: tokens.slice(0, 2),
        positions: Int32Array.of(0, 1),
        nextToken: tokens[2],
      });
      const ref = amphistaReferenceForward(cfg, weights, { lmHead }, {
        hidden: hidden.slice(0, 2 * D),
        nextTokens: tokens.slice(1, 3),
      });
      assert.ok(maxAbsDiff(again, ref) < 1e-3);
    } finally {
      await drafter.close();
    }
  });
}

Deno.test("amphista: drafter folder round trip and open", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cfg = small({ encoder_layers: 2 });
    const weights = initAmphistaWeights(cfg, { seed: 2 });
    await writeAmphistaFolder(dir, {
      config: cfg,
      weights,
      baseModel: { path: "x", fingerprint: "0123456789abcdef" },
      training: { parameters: amphistaParameterCount(cfg) },
    });
    const f = await readAmphistaFolder(dir);
    assert.deepEqual(f.config, cfg);
    assert.equal(f.baseModel?.fingerprint, "0123456789abcdef");
    for (const [n, w] of weights) assert.deepEqual(f.weights.get(n), w);
    const d = await openAmphistaDrafter(f, {
      hiddenSize: D,
      vocabSize: V,
      lmHead,
      runtime: RUNTIME,
    });
    assert.equal(d.numHeads, 3);
    await d.close();
    await assert.rejects(
      () => openAmphistaDrafter(f, { hiddenSize: D + 1, vocabSize: V, lmHead, runtime: RUNTIME }),
      /hidden_size/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("amphista: greedy speculative decoding equals AR token for token on a real target", async () => {
  const mcfg = tinyConfig({ max_position_embeddings: 96 });
  const model = await OrtCausalLM.create(mcfg, tinyWeights(mcfg, 21), {
    backend: "wasm",
    threads: 1,
  });
  const hd = mcfg.hidden_size, hv = mcfg.vocab_size;
  const cfg = amphistaConfig(hd, hv, { num_heads: 3, ffn_size: 64, window: 4 });
  const drafter = await AmphistaDrafter.create({
    config: cfg,
    weights: randomAmphistaWeights(cfg, { seed: 4 }),
    lmHead: targetLmHead(model),
    runtime: RUNTIME,
  });
  const trees = [
    buildTreeBuffers(buildTreeFromAccuracies([[0.6, 0.2, 0.1], [0.5, 0.2], [0.4, 0.1]], 12)),
    buildTreeBuffers(chainTree(3)),
  ];
  try {
    for (const prompt of [Int32Array.of(3, 17, 42, 5), Int32Array.of(60, 1, 1, 8, 30, 12, 49)]) {
      const target = new OrtTreeTarget(model);
      const ar = await autoregressiveGenerate(target, prompt, { maxNewTokens: 24 });
      for (const tree of trees) {
        await drafter.reset();
        const sp = await speculativeGenerate(target, drafter, prompt, { tree, maxNewTokens: 24 });
        assert.deepEqual(sp.tokens, ar.tokens);
      }
    }
    assert.ok(drafter.stats.calls > 0);
  } finally {
    await drafter.close();
    await model.close();
  }
});

Deno.test("amphista: the shared heads trainer lowers the held-out loss", async () => {
  // Learnable data: hidden row t is a noisy embedding of token t + 2 (so head 0 can read it off)
  // and tokens follow t → t + 1 mod V (so the fused next token predicts every later one).
  const S = 16, P = 4;
  const make = (count: number, seed: number): DistillSet => {
    const r = mulberry32(seed), g = gaussian(mulberry32(seed + 1));
    const tokens = new Int32Array(count * S), hidden = new Float32Array(count * S * D);
    for (let s = 0; s < count; s++) {
      const start = Math.floor(r() * V);
      for (let t = 0; t < S; t++) tokens[s * S + t] = (start + t) % V;
      for (let t = 0; t < S; t++) {
        const future = (start + t + 2) % V;
        for (let i = 0; i < D; i++) {
          hidden[(s * S + t) * D + i] = lmHead[future * D + i] + 0.3 * g();
        }
      }
    }
    return { count, seqLength: S, promptLength: P, hiddenSize: D, tokens, hidden };
  };
  const train = make(32, 1), heldout = make(6, 2);
  const cfg = small();
  const module = tfAmphistaModule(tf, cfg, lmHead);
  const init = initAmphistaWeights(cfg, { seed: 0 });
  const before = evaluateHeadAccuracy(tf, module, init, heldout, { ranks: 5 });
  const r = await trainHeads({
    tf,
    module,
    init,
    train,
    heldout,
    settings: {
      steps: 60,
      batch: 4,
      lr: 1e-2,
      minLr: 1e-3,
      warmup: 2,
      weightDecay: 0,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      clip: 1,
      seed: 0,
      lossDecay: 0.8,
      evalEvery: 10,
      evalSequences: 6,
      checkpointEvery: 100,
    },
  });
  const acc = evaluateHeadAccuracy(tf, module, r.weights, heldout, { ranks: 5 });
  module.dispose();
  const val = r.curve.filter((p) => p.valLoss !== undefined).map((p) => p.valLoss!);
  assert.ok(val.at(-1)! < 0.7 * val[0], `held-out loss ${val[0]} → ${val.at(-1)}`);
  // Head 0 is easy from the start (h_t encodes x_{t+2}); heads 1 and 2 must learn the successor
  // rule, which only the fused next token and the other heads carry.
  assert.ok(acc.top1[0] >= 0.5, `head 0 top-1 ${acc.top1[0]}`);
  for (let k = 1; k < 3; k++) {
    assert.ok(
      acc.top1[k] > before.top1[k] + 0.1,
      `head ${k} top-1 ${before.top1[k]} → ${acc.top1[k]}`,
    );
  }
});
