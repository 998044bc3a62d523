import assert from "node:assert/strict";
import {
  headDim,
  kvGroups,
  llamaConfigJson,
  parameterCount,
  parseLlamaConfig,
} from "../src/model/config.ts";

const base = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 64,
  intermediate_size: 160,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  max_position_embeddings: 128,
  vocab_size: 100,
  rms_norm_eps: 1e-5,
};

Deno.test("config: defaults filled (kv heads, rope_theta, tie)", () => {
  const c = parseLlamaConfig(base, "config.json");
  assert.equal(c.num_key_value_heads, 4);
  assert.equal(c.rope_theta, 10000);
  assert.equal(c.tie_word_embeddings, false);
  assert.equal(headDim(c), 16);
  assert.equal(kvGroups(c), 1);
  // 100*64 embed + 2 * (2*64*64 + 2*64*64 + 3*64*160 + 128) + 64 + 100*64 head
  assert.equal(parameterCount(c), 6400 + 2 * (8192 + 8192 + 30720 + 128) + 64 + 6400);
});

Deno.test("config: llamaConfigJson roundtrips, GQA and theta kept", () => {
  const c = parseLlamaConfig(
    {
      ...base,
      num_key_value_heads: 2,
      rope_theta: 500000,
      tie_word_embeddings: true,
      eos_token_id: [1, 2],
      bos_token_id: 0,
    },
    "c.json",
  );
  assert.equal(kvGroups(c), 2);
  const json = llamaConfigJson(c);
  assert.equal(json.head_dim, 16);
  assert.deepEqual(parseLlamaConfig(JSON.parse(JSON.stringify(json)), "c.json"), c);
});

Deno.test("config: errors name the file and the field", () => {
  const { hidden_size: _, ...noHidden } = base;
  assert.throws(
    () => parseLlamaConfig(noHidden, "m/config.json"),
    /m\/config\.json[\s\S]*hidden_size/,
  );
  assert.throws(
    () => parseLlamaConfig({ ...base, model_type: "gpt2" }, "x.json"),
    /x\.json[\s\S]*model_type/,
  );
  assert.throws(
    () => parseLlamaConfig({ ...base, num_key_value_heads: 3 }, "x.json"),
    /x\.json[\s\S]*num_key_value_heads \(3\)/,
  );
  assert.throws(
    () => parseLlamaConfig({ ...base, hidden_size: 66 }, "x.json"),
    /hidden_size \(66\) must be divisible/,
  );
  assert.throws(() => parseLlamaConfig({ ...base, vocab_size: -3 }, "x.json"), /vocab_size/);
  assert.throws(() => parseLlamaConfig("nope", "x.json"), /x\.json/);
});
