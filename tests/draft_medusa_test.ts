import assert from "node:assert/strict";
import {
  buildMedusaGraph,
  initMedusaWeights,
  type MedusaConfig,
  medusaConfig,
  MedusaDrafter,
  medusaParameterCount,
  medusaParameterShapes,
  medusaReferenceForward,
  randomMedusaWeights,
  resBlockBiasName,
  resBlockWeightName,
  validateMedusaWeights,
} from "../src/draft/medusa.ts";
import {
  firstHeads,
  openDrafter,
  readDrafterFolder,
  targetLmHead,
  weightsFingerprint,
  writeDrafterFolder,
} from "../src/draft/folder.ts";
import { gaussian, mulberry32 } from "../src/linalg/random.ts";
import { maxAbsDiff } from "./model_fixture.ts";

const D = 24, V = 50;
const RUNTIME = { provider: "wasm" as const, reason: "test", threads: 1 };

function randomMatrix(n: number, seed: number, scale = 1): Float32Array {
  const g = gaussian(mulberry32(seed));
  return Float32Array.from({ length: n }, () => g() * scale);
}

const lmHead = randomMatrix(V * D, 11, 0.3);
const hidden = randomMatrix(5 * D, 12);

Deno.test("medusa: parameter count is K·L·(d² + d) with a shared head, plus K·V·d with own heads", () => {
  const shared = medusaConfig(256, 4096);
  assert.equal(medusaParameterCount(shared), 4 * (256 * 256 + 256));
  const own = medusaConfig(D, V, { num_heads: 3, num_layers: 2, lm_head: "own" });
  assert.equal(medusaParameterCount(own), 3 * (2 * (D * D + D) + V * D));
  assert.equal(medusaParameterShapes(own).length, 3 * 5);
});

Deno.test("medusa: Medusa init zeroes W, keeps a uniform bias, copies the LM head for own heads", () => {
  const cfg = medusaConfig(D, V, { num_heads: 2, lm_head: "own" });
  const w = initMedusaWeights(cfg, { seed: 3, lmHead });
  assert.ok(w.get(resBlockWeightName(1, 0))!.every((x) => x === 0));
  const b = w.get(resBlockBiasName(1, 0))!;
  assert.ok(b.some((x) => x !== 0));
  assert.ok(b.every((x) => Math.abs(x) <= 1 / Math.sqrt(D)));
  assert.deepEqual(w.get("medusa_head.1.1.weight"), lmHead);
  // With W = 0 each head is lm_head(x + SiLU(b)).
  const out = medusaReferenceForward(cfg, w, undefined, hidden.subarray(0, D));
  const x = Float32Array.from(hidden.subarray(0, D), (v, i) => {
    const bi = w.get(resBlockBiasName(0, 0))![i];
    return v + bi / (1 + Math.exp(-bi));
  });
  let expected = 0;
  for (let i = 0; i < D; i++) expected += lmHead[7 * D + i] * x[i];
  assert.ok(Math.abs(out[7] - expected) < 1e-4);
});

for (
  const cfg of [
    medusaConfig(D, V, { num_heads: 3, num_layers: 1 }),
    medusaConfig(D, V, { num_heads: 3, num_layers: 2 }),
    medusaConfig(D, V, { num_heads: 2, num_layers: 2, lm_head: "own" }),
  ]
) {
  Deno.test(`medusa: the ONNX graph matches the reference forward (K=${cfg.num_heads}, L=${cfg.num_layers}, ${cfg.lm_head})`, async () => {
    const weights = randomMedusaWeights(cfg, { seed: 5, lmHead });
    const ref = medusaReferenceForward(cfg, weights, lmHead, hidden);
    const drafter = await MedusaDrafter.create({ config: cfg, weights, lmHead, runtime: RUNTIME });
    try {
      const out = await drafter.run(hidden);
      assert.equal(out.length, cfg.num_heads * 5 * V);
      assert.ok(maxAbsDiff(out, ref) < 1e-4, `max diff ${maxAbsDiff(out, ref)}`);
      // propose reads only the last row and returns [K, V].
      const m = 5;
      const proposed = await drafter.propose({
        hidden,
        tokens: new Int32Array(m),
        positions: Int32Array.from({ length: m }, (_, i) => i),
        nextToken: 0,
      });
      assert.equal(proposed.length, cfg.num_heads * V);
      for (let k = 0; k < cfg.num_heads; k++) {
        const want = ref.subarray((k * 5 + 4) * V, (k * 5 + 5) * V);
        assert.ok(maxAbsDiff(proposed.subarray(k * V, (k + 1) * V), want) < 1e-4);
      }
      assert.equal(drafter.stats.calls, 1);
    } finally {
      await drafter.close();
    }
  });
}

Deno.test("medusa: stacked blocks do not share weights (block 1 of head 0 changes head 0 only)", () => {
  const cfg = medusaConfig(D, V, { num_heads: 2, num_layers: 2 });
  const w = randomMedusaWeights(cfg, { seed: 9 });
  const before = medusaReferenceForward(cfg, w, lmHead, hidden);
  const w2 = new Map(w);
  w2.set(resBlockWeightName(0, 1), randomMatrix(D * D, 99, 0.2));
  const after = medusaReferenceForward(cfg, w2, lmHead, hidden);
  const n = 5 * V;
  assert.ok(maxAbsDiff(before.subarray(0, n), after.subarray(0, n)) > 1e-3);
  assert.equal(maxAbsDiff(before.subarray(n), after.subarray(n)), 0);
  // And block 0 differs from block 1 in the stored weights.
  assert.notDeepEqual(w.get(resBlockWeightName(0, 0)), w.get(resBlockWeightName(0, 1)));
});

Deno.test("medusa: validation names the bad tensor", () => {
  const cfg = medusaConfig(D, V, { num_heads: 2 });
  const w = randomMedusaWeights(cfg, { seed: 1 });
  w.delete(resBlockBiasName(1, 0));
  assert.throws(
    () => validateMedusaWeights(cfg, w, "x.safetensors"),
    /medusa_head\.1\.0\.linear\.bias/,
  );
  const extra = randomMedusaWeights(medusaConfig(D, V, { num_heads: 3 }), { seed: 1 });
  assert.throws(() => validateMedusaWeights(cfg, extra, "x.safetensors"), /unexpected tensor/);
  assert.throws(
    () => buildMedusaGraph({ config: cfg, weights: randomMedusaWeights(cfg, { seed: 1 }) }),
    /shared/,
  );
});

Deno.test("drafter folder: write/read round trip, fingerprint, first heads, open", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cfg: MedusaConfig = medusaConfig(D, V, { num_heads: 3 });
    const weights = randomMedusaWeights(cfg, { seed: 2 });
    const accuracy = {
      numHeads: 3,
      ranks: 2,
      positions: [10, 9, 8],
      top1: [0.5, 0.3, 0.2],
      top5: [0.7, 0.5, 0.4],
      topk: [[0.5, 0.6], [0.3, 0.4], [0.2, 0.25]],
      perRank: [[0.5, 0.1], [0.3, 0.1], [0.2, 0.05]],
      source: "test",
      sequences: 2,
    };
    const fp = await weightsFingerprint(new Map([["a", lmHead]]));
    assert.match(fp, /^[0-9a-f]{16}$/);
    assert.notEqual(fp, await weightsFingerprint(new Map([["b", lmHead]])));
    await writeDrafterFolder(dir, {
      config: cfg,
      weights,
      baseModel: { path: "m", fingerprint: fp },
      accuracy,
      lossCurve: [{ step: 0, seconds: 0 }],
      training: { steps: 1 },
    });
    const f = await readDrafterFolder(dir);
    assert.deepEqual(f.config, cfg);
    assert.deepEqual(f.accuracy, accuracy);
    assert.deepEqual(f.baseModel, { path: "m", fingerprint: fp });
    assert.deepEqual(f.training, { steps: 1 });
    for (const [n, w] of weights) assert.deepEqual(f.weights.get(n), w);

    const two = firstHeads(cfg, weights, 2);
    assert.equal(two.config.num_heads, 2);
    validateMedusaWeights(two.config, two.weights, "firstHeads");

    const drafter = await openDrafter(
      f,
      { hiddenSize: D, vocabSize: V, lmHead, runtime: RUNTIME },
      {
        heads: 2,
      },
    );
    try {
      assert.equal(drafter.numHeads, 2);
      const out = await drafter.propose({
        hidden: hidden.subarray(0, D),
        tokens: new Int32Array(1),
        positions: new Int32Array(1),
        nextToken: 0,
      });
      const ref = medusaReferenceForward(cfg, weights, lmHead, hidden.subarray(0, D));
      assert.ok(maxAbsDiff(out, ref.subarray(0, 2 * V)) < 1e-4);
    } finally {
      await drafter.close();
    }
    await assert.rejects(
      openDrafter(f, { hiddenSize: D + 1, vocabSize: V, lmHead, runtime: RUNTIME }),
      /retrain the heads/,
    );
    await assert.rejects(readDrafterFolder(`${dir}/nope`), /config\.json: missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("targetLmHead: tied embedding or lm_head.weight", () => {
  const e = new Float32Array(4), h = new Float32Array(4).fill(1);
  const weights = new Map([["model.embed_tokens.weight", e], ["lm_head.weight", h]]);
  assert.equal(targetLmHead({ config: { tie_word_embeddings: true }, weights }), e);
  assert.equal(targetLmHead({ config: { tie_word_embeddings: false }, weights }), h);
});
