import assert from "node:assert/strict";
import { join } from "node:path";
import {
  causalMask,
  KVCache,
  loadModelFolder,
  maskFrom,
  OrtCausalLM,
} from "../src/model/causal_lm.ts";
import { linear, referenceForward, rmsNorm } from "../src/model/reference_forward.ts";
import { readHfModelFolder, writeHfModelFolder } from "../src/model/weights.ts";
import { chooseProvider, createSession, probeGpuAdapter } from "../src/model/session.ts";
import { buildBlockGraph, buildLlamaGraph } from "../src/model/llama_graph.ts";
import { IDS, maxAbsDiff, rows, tinyConfig, tinyWeights } from "./model_fixture.ts";

const TOL = 1e-3;

Deno.test("parity (wasm): HF folder → ORT logits match the plain-TS reference", async () => {
  const cfg = tinyConfig();
  const weights = tinyWeights(cfg);
  const dir = await Deno.makeTempDir({ prefix: "sparsespec_tiny_" });
  try {
    await writeHfModelFolder(dir, cfg, weights);
    await Deno.writeTextFile(join(dir, "tokenizer.json"), "{}");
    const folder = await readHfModelFolder(dir);
    assert.deepEqual(folder.config, cfg);
    assert.ok(folder.weights.has("lm_head.weight"), "untied head written");
    const model = await loadModelFolder(dir, { backend: "wasm", threads: 1 });
    try {
      assert.equal(model.runtime.provider, "wasm");
      assert.equal(model.tokenizerPath, join(dir, "tokenizer.json"));
      const ref = referenceForward(cfg, weights, IDS);
      const out = await model.logits(IDS);
      assert.equal(out.logits.length, IDS.length * cfg.vocab_size);
      const diff = maxAbsDiff(out.logits, ref.logits);
      assert.ok(diff <= TOL, `logits max abs diff ${diff}`);
      assert.ok(maxAbsDiff(out.hidden, ref.hidden) <= TOL, "final-normed hidden state");
      assert.equal(out.cache.length, IDS.length);
      // the reference is not trivially equal to something constant: logits vary a lot
      const spread = Math.max(...ref.logits) - Math.min(...ref.logits);
      assert.ok(spread > 1, `logit spread ${spread}`);
    } finally {
      await model.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parity: a corrupt weight file or a wrong shape is rejected when loading", async () => {
  const cfg = tinyConfig();
  const weights = tinyWeights(cfg);
  const dir = await Deno.makeTempDir({ prefix: "sparsespec_bad_" });
  try {
    await writeHfModelFolder(dir, cfg, weights);
    const file = join(dir, "model.safetensors");
    const bytes = await Deno.readFile(file);
    await Deno.writeFile(file, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(readHfModelFolder(dir), /model\.safetensors.*truncated/);
    const cfgJson = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    await Deno.writeFile(file, bytes);
    await Deno.writeTextFile(
      join(dir, "config.json"),
      JSON.stringify({ ...cfgJson, intermediate_size: 96 }),
    );
    await assert.rejects(readHfModelFolder(dir), /mlp\.gate_proj\.weight.*\[96,48\]/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parity (wasm): tied embeddings and MHA (kv heads = heads) also match", async () => {
  const cfg = tinyConfig({
    tie_word_embeddings: true,
    num_key_value_heads: 4,
    num_hidden_layers: 2,
    rope_theta: 10000,
  });
  const weights = tinyWeights(cfg, 11);
  assert.ok(!weights.has("lm_head.weight"));
  const model = await OrtCausalLM.create(cfg, weights, { backend: "wasm" });
  try {
    const diff = maxAbsDiff(
      (await model.logits(IDS)).logits,
      referenceForward(cfg, weights, IDS).logits,
    );
    assert.ok(diff <= TOL, `logits max abs diff ${diff}`);
  } finally {
    await model.close();
  }
});

Deno.test("KV cache (wasm): prefill then token-by-token decoding matches full-sequence logits", async () => {
  const cfg = tinyConfig();
  const weights = tinyWeights(cfg);
  const model = await OrtCausalLM.create(cfg, weights, { backend: "wasm" });
  try {
    const V = cfg.vocab_size;
    const full = await model.logits(IDS);
    const k = 5;
    let step = await model.logits(IDS.slice(0, k));
    assert.ok(maxAbsDiff(step.logits, rows(full.logits, V, 0, k)) <= TOL);
    for (let t = k; t < IDS.length; t++) {
      const prev = step.cache;
      step = await model.logits([IDS[t]], { cache: prev });
      assert.equal(step.cache.length, t + 1);
      assert.equal(prev.length, t, "input cache left unchanged");
      const diff = maxAbsDiff(step.logits, rows(full.logits, V, t, t + 1));
      assert.ok(diff <= TOL, `position ${t}: diff ${diff}`);
    }
    // the final cache equals the full-sequence presents
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      assert.ok(maxAbsDiff(step.cache.layers[l].key, full.cache.layers[l].key) <= TOL);
      assert.ok(maxAbsDiff(step.cache.layers[l].value, full.cache.layers[l].value) <= TOL);
    }
    // a chunk of 4 tokens after a cached prefix of 6
    const pre = await model.logits(IDS.slice(0, 6));
    const chunk = await model.logits(IDS.slice(6, 10), { cache: pre.cache });
    assert.ok(maxAbsDiff(chunk.logits, rows(full.logits, V, 6, 10)) <= TOL);
  } finally {
    await model.close();
  }
});

Deno.test("KV cache (wasm): tree mask + cache.select keep exactly the chosen branch", async () => {
  const cfg = tinyConfig();
  const weights = tinyWeights(cfg);
  const model = await OrtCausalLM.create(cfg, weights, { backend: "wasm" });
  try {
    const V = cfg.vocab_size;
    const P = 6;
    const prefix = await model.logits(IDS.slice(0, P));
    // three alternative next tokens, all at position P, each seeing the prefix and itself only
    const candidates = [9, 33, 50];
    const tree = await model.logits(candidates, {
      cache: prefix.cache,
      positions: [P, P, P],
      mask: maskFrom(3, P + 3, (i, j) => j < P || j === P + i),
    });
    for (const [i, c] of candidates.entries()) {
      const seq = await model.logits([...IDS.slice(0, P), c]);
      assert.ok(
        maxAbsDiff(rows(tree.logits, V, i, i + 1), rows(seq.logits, V, P, P + 1)) <= TOL,
        `branch ${i}`,
      );
    }
    // accept candidate 1: keep the prefix and tree row P+1, then continue decoding
    const kept = tree.cache.select([P + 1], P);
    assert.equal(kept.length, P + 1);
    const seq = [...IDS.slice(0, P), candidates[1], 14, 2];
    const ref = await model.logits(seq);
    const cont = await model.logits([14, 2], { cache: kept });
    const diff = maxAbsDiff(cont.logits, rows(ref.logits, V, P + 1, P + 3));
    assert.ok(diff <= TOL, `continuation after compaction: diff ${diff}`);
    // select is a pure gather: check one row by hand, and truncate == prefix
    const hd = kept.headDim, L = kept.length, T = tree.cache.length;
    const key0 = tree.cache.layers[0].key, kept0 = kept.layers[0].key;
    for (let h = 0; h < kept.kvHeads; h++) {
      assert.deepEqual(
        kept0.subarray((h * L + P) * hd, (h * L + P + 1) * hd),
        key0.subarray((h * T + P + 1) * hd, (h * T + P + 2) * hd),
      );
    }
    assert.deepEqual(tree.cache.truncate(P).layers[1].value, prefix.cache.layers[1].value);
    assert.throws(() => tree.cache.select([T]), RangeError);
    assert.equal(KVCache.empty(cfg).length, 0);
  } finally {
    await model.close();
  }
});

Deno.test("block graph (wasm): blocks composed over all layers + TS norm/head match the full graph", async () => {
  const cfg = tinyConfig();
  const weights = tinyWeights(cfg);
  const model = await OrtCausalLM.create(cfg, weights, { backend: "wasm" });
  try {
    const S = IDS.length, d = cfg.hidden_size;
    const ref = referenceForward(cfg, weights, IDS);
    let x = model.blockInputs(IDS);
    for (let i = 0; i < cfg.num_hidden_layers; i++) {
      assert.ok(maxAbsDiff(x, ref.residuals[i]) <= TOL, `input of block ${i}`);
      const b = await model.runBlock(i, x);
      if (i === 0) {
        // attn_in is the input RMSNorm of the embeddings
        const want = rmsNorm(
          x,
          S,
          d,
          weights.get("model.layers.0.input_layernorm.weight")!,
          cfg.rms_norm_eps,
        );
        assert.ok(maxAbsDiff(b.attnIn, want) <= 1e-5);
      }
      assert.equal(b.oIn.length, S * d);
      assert.equal(b.mlpIn.length, S * d);
      assert.equal(b.downIn.length, S * cfg.intermediate_size);
      // the block's own output is o_proj(o_in) + mlp: check down_in feeds the residual
      const down = linear(
        b.downIn,
        S,
        weights.get(`model.layers.${i}.mlp.down_proj.weight`)!,
        d,
        cfg.intermediate_size,
      );
      const mid = new Float64Array(S * d);
      for (let j = 0; j < S * d; j++) mid[j] = b.out[j] - down[j];
      const o = linear(b.oIn, S, weights.get(`model.layers.${i}.self_attn.o_proj.weight`)!, d, d);
      for (let j = 0; j < S * d; j++) mid[j] -= o[j];
      assert.ok(
        maxAbsDiff(mid, x) <= TOL,
        `block ${i}: out = x + o_proj(o_in) + down_proj(down_in)`,
      );
      x = b.out;
    }
    const hidden = rmsNorm(x, S, d, weights.get("model.norm.weight")!, cfg.rms_norm_eps);
    const logits = linear(hidden, S, weights.get("lm_head.weight")!, cfg.vocab_size, d);
    const full = await model.logits(IDS);
    const diff = maxAbsDiff(logits, full.logits);
    assert.ok(diff <= TOL, `composed blocks vs full graph: diff ${diff}`);
    // an explicit causal mask equals the default
    const again = await model.runBlock(0, model.blockInputs(IDS), { mask: causalMask(S) });
    assert.ok(maxAbsDiff(again.out, ref.residuals[1]) <= TOL);
  } finally {
    await model.close();
  }
});

Deno.test("withWeights (wasm): rebuild after pruning matches the reference on patched weights", async () => {
  const cfg = tinyConfig();
  const weights = tinyWeights(cfg);
  const model = await OrtCausalLM.create(cfg, weights, { backend: "wasm" });
  try {
    const name = "model.layers.1.mlp.up_proj.weight";
    const pruned = weights.get(name)!.map((v, i) => (i % 2 === 0 ? 0 : v));
    const patched = await model.withWeights(new Map([[name, pruned]]));
    try {
      const before = await model.logits(IDS);
      const after = await patched.logits(IDS);
      const ref = referenceForward(cfg, patched.weights, IDS);
      assert.ok(maxAbsDiff(after.logits, ref.logits) <= TOL);
      assert.ok(maxAbsDiff(after.logits, before.logits) > 1e-2, "pruning changed the output");
      assert.equal(model.weights.get(name), weights.get(name), "original model untouched");
      await assert.rejects(
        model.withWeights(new Map([[name, new Float32Array(3)]])),
        /needs 3840 values/,
      );
      await assert.rejects(
        model.withWeights(new Map([["nope", new Float32Array(3)]])),
        /not a tensor/,
      );
    } finally {
      await patched.close();
    }
  } finally {
    await model.close();
  }
});

Deno.test("session: auto picks webgpu only for a non-fallback adapter and says why", async () => {
  const probe = await probeGpuAdapter();
  const choice = await chooseProvider("auto");
  if (!probe.adapter || probe.adapter.isFallbackAdapter) {
    assert.equal(choice.provider, "wasm");
  } else {
    assert.equal(choice.provider, "webgpu");
  }
  assert.match(choice.reason, /^auto: /);
  if (probe.adapter?.isFallbackAdapter) assert.match(choice.reason, /fallback/);
  assert.deepEqual(await chooseProvider("wasm"), {
    provider: "wasm",
    reason: "backend wasm requested",
  });
});

Deno.test("graph contract: input/output names of the LM and block graphs", async () => {
  const cfg = tinyConfig({ num_hidden_layers: 2 });
  const weights = tinyWeights(cfg);
  const lm = await createSession(buildLlamaGraph({ config: cfg, weights }), { backend: "wasm" });
  try {
    assert.deepEqual([...lm.session.inputNames].sort(), [
      "attention_mask",
      "input_ids",
      "past_key_values.0.key",
      "past_key_values.0.value",
      "past_key_values.1.key",
      "past_key_values.1.value",
      "position_ids",
    ]);
    assert.deepEqual([...lm.session.outputNames].sort(), [
      "last_hidden_state",
      "logits",
      "present.0.key",
      "present.0.value",
      "present.1.key",
      "present.1.value",
    ]);
  } finally {
    await lm.release();
  }
  const block = await createSession(buildBlockGraph({ config: cfg, weights, layer: 1 }), {
    backend: "wasm",
  });
  try {
    assert.deepEqual([...block.session.inputNames].sort(), [
      "attention_mask",
      "hidden_states",
      "position_ids",
    ]);
    assert.deepEqual([...block.session.outputNames].sort(), [
      "attn_in",
      "down_in",
      "hidden_states_out",
      "mlp_in",
      "o_in",
    ]);
  } finally {
    await block.release();
  }
  // the wasm runtime keeps the thread count it was first initialised with (1 in this file)
  await assert.rejects(
    createSession(buildBlockGraph({ config: cfg, weights, layer: 0 }), {
      backend: "wasm",
      threads: 2,
    }),
    /initialised with 1 thread\(s\); 2 requested/,
  );
  assert.throws(() => buildBlockGraph({ config: cfg, weights, layer: 2 }), /layer 2 out of range/);
  const missing = new Map(weights);
  missing.delete("model.layers.1.mlp.down_proj.weight");
  assert.throws(
    () => buildLlamaGraph({ config: cfg, weights: missing }),
    /missing tensor "model\.layers\.1\.mlp\.down_proj\.weight"/,
  );
});
