// Shared test fixture: a tiny random-weight LLaMA in Hugging Face layout (GQA, untied head,
// non-default rope_theta) and comparison helpers. Not a test file itself.
import assert from "node:assert/strict";
import { type LlamaConfig, parseLlamaConfig } from "../src/model/config.ts";
import { type LlamaWeights, randomLlamaWeights } from "../src/model/weights.ts";

/** Config of the tiny test model: 4 query heads over 2 kv heads, θ = 500000, untied head. */
export function tinyConfig(overrides: Record<string, unknown> = {}): LlamaConfig {
  return parseLlamaConfig({
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: 48,
    intermediate_size: 80,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-5,
    rope_theta: 500000,
    max_position_embeddings: 64,
    vocab_size: 67,
    tie_word_embeddings: false,
    torch_dtype: "float32",
    ...overrides,
  }, "tiny/config.json");
}

/** Seeded random weights for {@link tinyConfig}. */
export function tinyWeights(cfg: LlamaConfig, seed = 7): LlamaWeights {
  return randomLlamaWeights(cfg, { seed });
}

/** Max |a - b| over the first `n` entries (default all); asserts equal lengths. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, n = a.length): number {
  assert.ok(a.length >= n && b.length >= n, `lengths ${a.length}, ${b.length} < ${n}`);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as NaN
  }
  return m;
}

/** Rows `from..to-1` of a row-major matrix with `cols` columns. */
export function rows(m: Float32Array, cols: number, from: number, to: number): Float32Array {
  return m.subarray(from * cols, to * cols);
}

/** Fixed token sequence used by the parity tests. */
export const IDS = [3, 17, 42, 0, 66, 5, 5, 23, 61, 8, 30, 12, 49, 1];
