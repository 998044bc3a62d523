// The real onnxruntime TreeTarget: greedy speculative decoding equals AR token for token, KV
// compaction leaves no stale rows, and the decode executor end to end on a tiny model.
import assert from "node:assert/strict";
import { KVCache, OrtCausalLM } from "../src/model/causal_lm.ts";
import { parseLlamaConfig } from "../src/model/config.ts";
import { randomLlamaWeights, writeHfModelFolder } from "../src/model/weights.ts";
import { compactCache, OrtTreeTarget } from "../src/decode/target.ts";
import {
  autoregressiveGenerate,
  type Drafter,
  type DraftInput,
  speculativeGenerate,
} from "../src/decode/speculative_loop.ts";
import { buildTreeBuffers, causalAttentionBias, chainTree } from "../src/decode/tree.ts";
import { buildTreeFromAccuracies } from "../src/decode/tree_builder.ts";
import { medusaConfig, MedusaDrafter, randomMedusaWeights } from "../src/draft/medusa.ts";
import { targetLmHead, weightsFingerprint, writeDrafterFolder } from "../src/draft/folder.ts";
import { execute, selectPrompts } from "../src/decode/executor.ts";
import type { ExecutorContext } from "../src/results/executor.ts";
import type { DecodeRunSpec, Run } from "../src/spec/plan.ts";
import { maxAbsDiff, tinyConfig, tinyWeights } from "./model_fixture.ts";

const cfg = tinyConfig({ max_position_embeddings: 96 });
const model = await OrtCausalLM.create(cfg, tinyWeights(cfg, 21), { backend: "wasm", threads: 1 });
const V = cfg.vocab_size, D = cfg.hidden_size;
const PROMPTS = [
  Int32Array.of(3, 17, 42, 5),
  Int32Array.of(60, 1, 1, 8, 30, 12, 49),
  Int32Array.of(9),
  Int32Array.of(22, 33, 44, 55, 66, 0, 11),
];
const MAX_NEW = 20;

/** A drafter that knows the AR continuation and proposes it at a rank that varies by step. */
class OracleDrafter implements Drafter {
  readonly numHeads = 3;
  calls = 0;
  constructor(private readonly sequence: number[], private readonly promptLength: number) {}
  propose(input: DraftInput): Promise<Float32Array> {
    this.calls++;
    const out = new Float32Array(this.numHeads * V);
    const last = input.positions[input.positions.length - 1];
    for (let j = 0; j < this.numHeads; j++) {
      const row = out.subarray(j * V, (j + 1) * V);
      for (let v = 0; v < V; v++) row[v] = ((v * 7 + j * 13 + this.calls) % V) / V; // noise < 1
      const truth = this.sequence[last + 2 + j - this.promptLength];
      if (truth === undefined) continue;
      const mode = (this.calls + j) % 4; // 0, 1: top-1; 2: rank 1; 3: absent
      if (mode <= 1) row[truth] = 5;
      else if (mode === 2) {
        row[truth] = 4;
        row[(truth + 1) % V] = 5;
      }
    }
    return Promise.resolve(out);
  }
}

const tree = buildTreeBuffers(
  buildTreeFromAccuracies([[0.6, 0.2, 0.1], [0.5, 0.2], [0.4, 0.1]], 12),
);

Deno.test("OrtTreeTarget: greedy speculative output equals AR token for token (oracle and Medusa drafters)", async () => {
  const heads = medusaConfig(D, V, { num_heads: 3 });
  const medusa = await MedusaDrafter.create({
    config: heads,
    weights: randomMedusaWeights(heads, { seed: 4 }),
    lmHead: targetLmHead(model),
    runtime: { provider: "wasm", reason: "test", threads: 1 },
  });
  try {
    let multi = 0;
    for (const prompt of PROMPTS) {
      const target = new OrtTreeTarget(model);
      const ar = await autoregressiveGenerate(target, prompt, { maxNewTokens: MAX_NEW });
      assert.equal(ar.tokens.length, MAX_NEW);
      for (const t of [tree, buildTreeBuffers(chainTree(3))]) {
        const oracle = new OracleDrafter(ar.tokens, prompt.length);
        const sp = await speculativeGenerate(target, oracle, prompt, {
          tree: t,
          maxNewTokens: MAX_NEW,
        });
        assert.deepEqual(sp.tokens, ar.tokens);
        assert.ok(sp.acceptLengths.length < MAX_NEW, "the oracle lets several tokens through");
        multi += sp.acceptLengths.filter((a) => a > 1).length;
        assert.ok(sp.acceptLengths.some((a) => a < t.maxDepth + 1), "and some steps reject");
        const rnd = await speculativeGenerate(target, medusa, prompt, {
          tree: t,
          maxNewTokens: MAX_NEW,
        });
        assert.deepEqual(rnd.tokens, ar.tokens);
      }
    }
    assert.ok(multi > 10);
  } finally {
    await medusa.close();
  }
});

Deno.test("OrtTreeTarget: after compaction the cache equals a fresh forward over the committed sequence", async () => {
  for (const prompt of PROMPTS.slice(0, 2)) {
    const target = new OrtTreeTarget(model);
    const ar = await autoregressiveGenerate(target, prompt, { maxNewTokens: MAX_NEW });
    let sequence: number[] = [];
    await speculativeGenerate(target, new OracleDrafter(ar.tokens, prompt.length), prompt, {
      tree,
      maxNewTokens: 13,
      onStep: (e) => {
        sequence = [...e.sequence];
        assert.equal(e.cacheLength, prompt.length + e.sequence.length);
      },
    });
    // The cache holds the prompt and every committed token; rejected branches left nothing.
    const committed = [...prompt, ...sequence];
    assert.equal(target.cacheLength, committed.length);
    const fresh = await model.logits(committed);
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      const a = target.cache.layers[l], b = fresh.cache.layers[l];
      assert.equal(a.key.length, b.key.length);
      assert.ok(maxAbsDiff(a.key, b.key) < 1e-4, `layer ${l} keys differ`);
      assert.ok(maxAbsDiff(a.value, b.value) < 1e-4, `layer ${l} values differ`);
    }
    // The next token's logits through the compacted cache equal the full forward's.
    const next = ar.tokens[sequence.length];
    const n = target.cacheLength;
    const step = await target.forward({
      tokens: Int32Array.of(next),
      positions: Int32Array.of(n),
      attentionBias: causalAttentionBias({ pastLength: n, queryLength: 1 }),
    });
    const full = await model.logits([...committed, next]);
    assert.ok(maxAbsDiff(step.logits, full.logits.subarray(n * V, (n + 1) * V)) < 1e-4);
  }
});

Deno.test("compactCache: equals KVCache.select with the same prefix and rows", () => {
  const H = 2, hd = 3, P = 7;
  const layer = () => ({
    key: Float32Array.from({ length: H * P * hd }, (_, i) => i * 1.5),
    value: Float32Array.from({ length: H * P * hd }, (_, i) => -i),
  });
  const cache = new KVCache([layer(), layer()], P, H, hd);
  for (const [prefix, tail] of [[3, [4, 6]], [0, [1, 2, 5]], [7, []], [2, []]] as const) {
    const a = compactCache(cache, prefix, tail);
    const b = cache.select(tail, prefix);
    assert.equal(a.length, b.length);
    for (let l = 0; l < 2; l++) {
      assert.deepEqual(a.layers[l].key, b.layers[l].key);
      assert.deepEqual(a.layers[l].value, b.layers[l].value);
    }
  }
});

Deno.test("OrtTreeTarget: input checks", async () => {
  const target = new OrtTreeTarget(model, { maxCacheLength: 8, prefillHiddenRows: Infinity });
  await assert.rejects(target.prefill(new Int32Array(9)), /capacity/);
  const pre = await target.prefill(Int32Array.of(1, 2, 3));
  assert.equal(pre.hidden.length, 3 * D);
  assert.equal(pre.logits.length, V);
  assert.throws(() => target.selectCache(Int32Array.of(0, 2, 1)), /strictly increasing/);
  await assert.rejects(
    target.forward({
      tokens: Int32Array.of(1),
      positions: Int32Array.of(3),
      attentionBias: new Float32Array(3),
    }),
    /attentionBias/,
  );
  target.selectCache(Int32Array.of(0, 2));
  assert.equal(target.cacheLength, 2);
  assert.equal(target.counters.compactions, 1);
});

Deno.test("selectPrompts: a cap takes prompts round-robin over categories", () => {
  const ps = ["a1", "a2", "a3", "b1", "c1", "c2"].map((id) => ({ id, category: id[0] }));
  assert.deepEqual(selectPrompts(ps, 4).map((p) => p.id), ["a1", "b1", "c1", "a2"]);
  assert.deepEqual(selectPrompts(ps, 6).map((p) => p.id), ps.map((p) => p.id));
  assert.deepEqual(selectPrompts(ps).length, 6);
  assert.deepEqual(selectPrompts(ps, 5).map((p) => p.id), ["a1", "b1", "c1", "a2", "c2"]);
});

Deno.test("decode executor: AR and Medusa on a tiny model folder, lossless, metrics complete", async () => {
  const root = await Deno.makeTempDir();
  try {
    const repo = new URL("..", import.meta.url).pathname;
    const big = parseLlamaConfig({
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      max_position_embeddings: 160,
      vocab_size: 4096,
      tie_word_embeddings: true,
      eos_token_id: 0,
    }, "tiny/config.json");
    const weights = randomLlamaWeights(big, { seed: 3 });
    await writeHfModelFolder(`${root}/m`, big, weights);
    await Deno.copyFile(
      `${repo}bench/models/sparsespec-tiny/tokenizer.json`,
      `${root}/m/tokenizer.json`,
    );
    const heads = medusaConfig(32, 4096, { num_heads: 3 });
    await writeDrafterFolder(`${root}/m/medusa`, {
      config: heads,
      weights: randomMedusaWeights(heads, { seed: 8 }),
      baseModel: { path: "m", fingerprint: await weightsFingerprint(weights) },
      accuracy: {
        numHeads: 3,
        ranks: 3,
        positions: [1, 1, 1],
        top1: [0.5, 0.4, 0.3],
        top5: [0.7, 0.6, 0.5],
        topk: [[0.5, 0.6, 0.7], [0.4, 0.5, 0.6], [0.3, 0.4, 0.5]],
        perRank: [[0.5, 0.1, 0.1], [0.4, 0.1, 0.1], [0.3, 0.1, 0.1]],
        source: "test",
        sequences: 1,
      },
    });
    await Deno.writeTextFile(
      `${root}/p.jsonl`,
      [
        { id: "a", category: "x", prompt: "The President said that the nation" },
        { id: "b", category: "y", prompt: "Call me Ishmael. Some years ago" },
        { id: "c", category: "x", prompt: "It was" },
      ].map((p) => JSON.stringify(p)).join("\n"),
    );
    const base: DecodeRunSpec = {
      kind: "decode",
      model: { name: "m", path: "m" },
      drafter: "medusa",
      drafterPath: null,
      tree: { type: "medusa", size: 6 },
      acceptance: { type: "greedy" },
      prompts: `${root}/p.jsonl`,
      maxNewTokens: 12,
      limit: null,
      repeats: 2,
      warmup: 1,
      options: {},
      seed: 0,
      runtime: { backend: "wasm", threads: 1 },
    };
    const logs: string[] = [];
    const ctx: ExecutorContext = {
      suite: "t",
      root,
      log: (m) => logs.push(m),
      phase: async (_n, fn) => await fn(),
      progress: () => {},
    };
    const run = (spec: DecodeRunSpec): Run<DecodeRunSpec> => ({
      id: "0".repeat(16),
      label: spec.drafter,
      kind: "decode",
      spec,
    });
    const out = await execute(run(base) as never, ctx);
    const m = out.metrics as Record<string, unknown> & { tau: number; speedup: number };
    assert.equal(m.lossless, true);
    assert.ok(m.tau >= 1 && m.tau <= 4);
    assert.ok(m.speedup > 0);
    assert.equal(out.providerUsed, "wasm");
    const tree = m.tree as { nodes: number; depth: number };
    assert.equal(tree.nodes, 6);
    assert.equal((m.perDepthAcceptance as unknown[]).length, tree.depth);
    assert.equal((m.acceptHistogram as unknown[]).length, tree.depth + 1);
    const drafter = m.drafter as {
      parameters: number;
      msPerStep: number;
      baseModelMatches: boolean;
    };
    assert.equal(drafter.parameters, 3 * (32 * 32 + 32));
    assert.ok(drafter.msPerStep > 0);
    assert.equal(drafter.baseModelMatches, true);
    assert.deepEqual(Object.keys(m.perCategory as object).sort(), ["x", "y"]);
    const latency = m.latency as { draftMs: number; verifyMs: number; stepMs: number };
    assert.ok(latency.draftMs > 0 && latency.verifyMs > 0 && latency.stepMs > latency.verifyMs);
    assert.equal((m.losslessReport as { checked: number }).checked, 6);
    assert.doesNotThrow(() => JSON.stringify(out));

    const arOut = await execute(run({ ...base, drafter: "ar", tree: null }) as never, ctx);
    assert.equal(arOut.metrics.tau, 1);
    assert.equal(arOut.metrics.speedup, 1);
    assert.equal(arOut.metrics.lossless, true);

    const chain = await execute(run({ ...base, tree: { type: "chain", depth: 2 } }) as never, ctx);
    assert.equal(chain.metrics.lossless, true);
    assert.equal((chain.metrics.drafter as { headsUsed: number }).headsUsed, 2);

    const typical = await execute(
      run({
        ...base,
        repeats: 1,
        acceptance: { type: "typical", epsilon: 0.09, delta: 0.3, temperature: 0.7 },
      }) as never,
      ctx,
    );
    assert.equal(typical.metrics.lossless, undefined);
    const matches = typical.metrics.matchesAr as number;
    assert.ok(matches >= 0 && matches <= 1);

    await assert.rejects(
      execute(run({ ...base, tree: { type: "chain", depth: 4 } }) as never, ctx),
      /4 deep but .* has 3 heads/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
