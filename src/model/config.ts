/**
 * LLaMA model configuration: the Hugging Face `LlamaForCausalLM` `config.json` fields this
 * project reads and writes, validated with zod.
 *
 * @module
 */
import { z } from "zod";

const positiveInt = z.number().int().positive();

// Zod schema of the `config.json` fields used here (unknown extra fields are dropped).
const LlamaConfigSchema = z.object({
  architectures: z.array(z.string()).default(["LlamaForCausalLM"]),
  model_type: z.literal("llama", {
    error: 'model_type must be "llama" (only LLaMA-architecture models are supported)',
  }).default("llama"),
  hidden_size: positiveInt,
  intermediate_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  num_key_value_heads: positiveInt.optional(),
  head_dim: positiveInt.nullable().optional(),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  max_position_embeddings: positiveInt,
  vocab_size: positiveInt,
  tie_word_embeddings: z.boolean().default(false),
  bos_token_id: z.number().int().nonnegative().nullable().optional(),
  eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())])
    .nullable().optional(),
  torch_dtype: z.string().default("float32"),
});

/** A validated LLaMA configuration (Hugging Face field names, defaults filled in). */
export interface LlamaConfig {
  /** e.g. `["LlamaForCausalLM"]`. */
  architectures: string[];
  /** Always `"llama"`. */
  model_type: "llama";
  /** Model width d. */
  hidden_size: number;
  /** SwiGLU inner width. */
  intermediate_size: number;
  /** Number of decoder blocks. */
  num_hidden_layers: number;
  /** Number of query heads. */
  num_attention_heads: number;
  /** Number of key/value heads (GQA); defaults to `num_attention_heads`. */
  num_key_value_heads: number;
  /** RMSNorm epsilon. */
  rms_norm_eps: number;
  /** RoPE base θ; defaults to 10000. */
  rope_theta: number;
  /** Longest context the model was trained for. */
  max_position_embeddings: number;
  /** Vocabulary size V. */
  vocab_size: number;
  /** When true, `lm_head.weight` is absent and the embedding matrix is reused. */
  tie_word_embeddings: boolean;
  /** Beginning-of-sequence token id, if any. */
  bos_token_id?: number | null;
  /** End-of-sequence token id(s), if any. */
  eos_token_id?: number | number[] | null;
  /** Storage dtype name as written by transformers (informational). */
  torch_dtype: string;
}

/**
 * Validates a parsed `config.json` and fills defaults.
 *
 * @param json the parsed JSON value
 * @param file the path it came from (used in error messages)
 * @throws Error naming the file, the field and the fix when a field is missing or invalid
 */
export function parseLlamaConfig(json: unknown, file: string): LlamaConfig {
  const r = LlamaConfigSchema.safeParse(json);
  if (!r.success) {
    const lines = r.error.issues.map((i) => {
      const path = i.path.length ? i.path.join(".") : "(root)";
      return `  ${path}: ${i.message}`;
    });
    throw new Error(
      `${file}: invalid LLaMA config.json:\n${lines.join("\n")}\n` +
        "Fix: provide a Hugging Face LlamaForCausalLM config with these fields.",
    );
  }
  const c = r.data;
  const kv = c.num_key_value_heads ?? c.num_attention_heads;
  const problems: string[] = [];
  if (c.hidden_size % c.num_attention_heads !== 0) {
    problems.push(
      `hidden_size (${c.hidden_size}) must be divisible by num_attention_heads (${c.num_attention_heads})`,
    );
  } else if ((c.hidden_size / c.num_attention_heads) % 2 !== 0) {
    problems.push(`head dim hidden_size/num_attention_heads must be even for RoPE`);
  }
  if (c.head_dim != null && c.head_dim * c.num_attention_heads !== c.hidden_size) {
    problems.push(
      `head_dim (${c.head_dim}) must equal hidden_size/num_attention_heads ` +
        `(${c.hidden_size / c.num_attention_heads}); other head sizes are not supported`,
    );
  }
  if (c.num_attention_heads % kv !== 0) {
    problems.push(
      `num_attention_heads (${c.num_attention_heads}) must be divisible by num_key_value_heads (${kv})`,
    );
  }
  if (problems.length) {
    throw new Error(`${file}: invalid LLaMA config.json:\n  ${problems.join("\n  ")}`);
  }
  const out: LlamaConfig = {
    architectures: c.architectures,
    model_type: "llama",
    hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size,
    num_hidden_layers: c.num_hidden_layers,
    num_attention_heads: c.num_attention_heads,
    num_key_value_heads: kv,
    rms_norm_eps: c.rms_norm_eps,
    rope_theta: c.rope_theta,
    max_position_embeddings: c.max_position_embeddings,
    vocab_size: c.vocab_size,
    tie_word_embeddings: c.tie_word_embeddings,
    torch_dtype: c.torch_dtype,
  };
  if (c.bos_token_id !== undefined) out.bos_token_id = c.bos_token_id;
  if (c.eos_token_id !== undefined) out.eos_token_id = c.eos_token_id;
  return out;
}

/** Per-head width: `hidden_size / num_attention_heads`. */
export function headDim(cfg: LlamaConfig): number {
  return cfg.hidden_size / cfg.num_attention_heads;
}

/** Query heads per key/value head (GQA group size). */
export function kvGroups(cfg: LlamaConfig): number {
  return cfg.num_attention_heads / cfg.num_key_value_heads;
}

/**
 * The JSON object to write as `config.json` (Hugging Face field names, stable key order,
 * `hidden_act: "silu"` and the other fields transformers expects for LLaMA).
 */
export function llamaConfigJson(cfg: LlamaConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    architectures: cfg.architectures,
    model_type: "llama",
    hidden_act: "silu",
    hidden_size: cfg.hidden_size,
    intermediate_size: cfg.intermediate_size,
    num_hidden_layers: cfg.num_hidden_layers,
    num_attention_heads: cfg.num_attention_heads,
    num_key_value_heads: cfg.num_key_value_heads,
    head_dim: headDim(cfg),
    rms_norm_eps: cfg.rms_norm_eps,
    rope_theta: cfg.rope_theta,
    rope_scaling: null,
    attention_bias: false,
    mlp_bias: false,
    max_position_embeddings: cfg.max_position_embeddings,
    vocab_size: cfg.vocab_size,
    tie_word_embeddings: cfg.tie_word_embeddings,
    torch_dtype: cfg.torch_dtype,
  };
  if (cfg.bos_token_id !== undefined) out.bos_token_id = cfg.bos_token_id;
  if (cfg.eos_token_id !== undefined) out.eos_token_id = cfg.eos_token_id;
  return out;
}

/** Number of parameters of a model with this config (counting `lm_head` only when untied). */
export function parameterCount(cfg: LlamaConfig): number {
  const d = cfg.hidden_size, hd = headDim(cfg), kv = cfg.num_key_value_heads * hd;
  const perLayer = d * d * 2 + 2 * d * kv + 3 * d * cfg.intermediate_size + 2 * d;
  const embed = cfg.vocab_size * d;
  return embed + cfg.num_hidden_layers * perLayer + d + (cfg.tie_word_embeddings ? 0 : embed);
}
