/**
 * LLaMA weights in Hugging Face layout: the tensor names and shapes a config implies, shape
 * validation, seeded random initialisation (tests, benchmarks), and loading / saving a model
 * folder (`config.json`, `model.safetensors` or a sharded `model.safetensors.index.json`,
 * `tokenizer.json`).
 *
 * @module
 */
import { join } from "node:path";
import { headDim, type LlamaConfig, llamaConfigJson, parseLlamaConfig } from "./config.ts";
import { readSafetensors, writeSafetensors } from "./safetensors.ts";
import { mulberry32 } from "../linalg/random.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";

/** Weights by Hugging Face tensor name; row-major, linear layers `[out, in]`. */
export type LlamaWeights = Map<string, Float32Array>;

/** Names of the seven linear layers of a decoder block, in HF order. */
export const LINEAR_NAMES = [
  "self_attn.q_proj",
  "self_attn.k_proj",
  "self_attn.v_proj",
  "self_attn.o_proj",
  "mlp.gate_proj",
  "mlp.up_proj",
  "mlp.down_proj",
] as const;

/** One of {@link LINEAR_NAMES}. */
export type LinearName = typeof LINEAR_NAMES[number];

/** Full tensor name of a block's linear layer weight, e.g. `model.layers.3.mlp.up_proj.weight`. */
export function linearWeightName(layer: number, linear: LinearName): string {
  return `model.layers.${layer}.${linear}.weight`;
}

/**
 * Every tensor a model with this config must have, with its shape, in a stable order
 * (embedding, then per layer, then final norm and the untied head).
 */
export function llamaTensorShapes(cfg: LlamaConfig): Map<string, number[]> {
  const d = cfg.hidden_size, f = cfg.intermediate_size, v = cfg.vocab_size;
  const q = cfg.num_attention_heads * headDim(cfg), kv = cfg.num_key_value_heads * headDim(cfg);
  const m = new Map<string, number[]>([["model.embed_tokens.weight", [v, d]]]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [d]);
    m.set(`${p}.self_attn.q_proj.weight`, [q, d]);
    m.set(`${p}.self_attn.k_proj.weight`, [kv, d]);
    m.set(`${p}.self_attn.v_proj.weight`, [kv, d]);
    m.set(`${p}.self_attn.o_proj.weight`, [d, q]);
    m.set(`${p}.post_attention_layernorm.weight`, [d]);
    m.set(`${p}.mlp.gate_proj.weight`, [f, d]);
    m.set(`${p}.mlp.up_proj.weight`, [f, d]);
    m.set(`${p}.mlp.down_proj.weight`, [d, f]);
  }
  m.set("model.norm.weight", [d]);
  if (!cfg.tie_word_embeddings) m.set("lm_head.weight", [v, d]);
  return m;
}

/**
 * Checks that `weights` holds exactly the tensors the config needs with matching sizes.
 * A tied model may carry a redundant `lm_head.weight` (ignored); unknown extra tensors such as
 * `rotary_emb.inv_freq` are ignored too.
 *
 * @param source where the weights came from (used in error messages)
 * @throws Error listing missing tensors and size mismatches
 */
export function validateLlamaWeights(
  cfg: LlamaConfig,
  weights: LlamaWeights,
  source: string,
): void {
  const problems: string[] = [];
  for (const [name, shape] of llamaTensorShapes(cfg)) {
    const w = weights.get(name);
    const n = shape.reduce((a, s) => a * s, 1);
    if (!w) problems.push(`missing tensor "${name}" [${shape}]`);
    else if (w.length !== n) {
      problems.push(`tensor "${name}" has ${w.length} values, config implies [${shape}] = ${n}`);
    }
  }
  if (problems.length) {
    throw new Error(
      `${source}: weights do not match the config:\n  ${problems.slice(0, 20).join("\n  ")}` +
        (problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ""),
    );
  }
}

/**
 * Seeded random weights for tests and benchmarks: matrix entries uniform with standard deviation
 * `std` (default 1/√fan_in for linear layers and the head, 1 for the embedding, so activations
 * stay O(1)), norm weights uniform in 1 ± `normJitter` (default 0.1).
 */
export function randomLlamaWeights(
  cfg: LlamaConfig,
  opts: { seed?: number; std?: number; normJitter?: number } = {},
): LlamaWeights {
  const rand = mulberry32(opts.seed ?? 1);
  const jitter = opts.normJitter ?? 0.1;
  const out: LlamaWeights = new Map();
  for (const [name, shape] of llamaTensorShapes(cfg)) {
    const n = shape.reduce((a, s) => a * s, 1);
    const w = new Float32Array(n);
    if (shape.length === 1) {
      for (let i = 0; i < n; i++) w[i] = 1 + jitter * (2 * rand() - 1);
    } else {
      // uniform(-a, a) has std a/√3; default std 1/√fan_in keeps unit-scale activations
      const std = opts.std ?? 1 / Math.sqrt(name.includes("embed_tokens") ? 1 : shape[1]);
      const a = std * Math.sqrt(3);
      for (let i = 0; i < n; i++) w[i] = a * (2 * rand() - 1);
    }
    out.set(name, w);
  }
  return out;
}

/** A Hugging Face model folder read into memory. */
export interface HfModelFolder {
  /** The folder path. */
  path: string;
  /** Validated config. */
  config: LlamaConfig;
  /** Weights by HF name (float32). */
  weights: LlamaWeights;
  /** Path of `tokenizer.json` if the folder has one. */
  tokenizerPath?: string;
  /** safetensors file(s) read. */
  weightFiles: string[];
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Reads a Hugging Face LLaMA folder: `config.json`, then `model.safetensors` or the shards
 * listed in `model.safetensors.index.json`; validates names and shapes against the config.
 *
 * @throws Error naming the file and the problem (missing file, bad JSON, bad tensors)
 */
export async function readHfModelFolder(path: string): Promise<HfModelFolder> {
  const cfgPath = join(path, "config.json");
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(cfgPath));
  } catch (e) {
    throw new Error(
      `${cfgPath}: cannot read config (${(e as Error).message}). ` +
        "Fix: point at a Hugging Face model folder containing config.json.",
    );
  }
  const config = parseLlamaConfig(json, cfgPath);
  const single = join(path, "model.safetensors");
  const index = join(path, "model.safetensors.index.json");
  let files: string[];
  if (await exists(single)) files = [single];
  else if (await exists(index)) {
    const idx = JSON.parse(await Deno.readTextFile(index)) as {
      weight_map?: Record<string, string>;
    };
    if (!idx.weight_map || typeof idx.weight_map !== "object") {
      throw new Error(`${index}: field "weight_map" missing`);
    }
    files = [...new Set(Object.values(idx.weight_map))].sort().map((f) => join(path, f));
  } else {
    throw new Error(
      `${path}: no model.safetensors or model.safetensors.index.json. ` +
        "Fix: save the model with safe_serialization=True.",
    );
  }
  const weights: LlamaWeights = new Map();
  for (const f of files) {
    for (const [name, t] of readSafetensors(await Deno.readFile(f), f)) {
      if (weights.has(name)) throw new Error(`${f}: tensor "${name}" appears in two shards`);
      weights.set(name, t.data);
    }
  }
  validateLlamaWeights(config, weights, files.join(", "));
  const tok = join(path, "tokenizer.json");
  return {
    path,
    config,
    weights,
    tokenizerPath: (await exists(tok)) ? tok : undefined,
    weightFiles: files,
  };
}

/**
 * Writes `config.json` and `model.safetensors` (F32, HF names) into `path` (created if
 * needed). Tokenizer files are the caller's business.
 */
export async function writeHfModelFolder(
  path: string,
  config: LlamaConfig,
  weights: LlamaWeights,
  metadata: Record<string, string> = { format: "pt" },
): Promise<void> {
  validateLlamaWeights(config, weights, "writeHfModelFolder");
  const shapes = llamaTensorShapes(config);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of shapes) tensors.set(name, { shape, data: weights.get(name)! });
  await writeFileAtomic(
    join(path, "config.json"),
    JSON.stringify(llamaConfigJson(config), null, 2) + "\n",
  );
  await writeFileAtomic(join(path, "model.safetensors"), writeSafetensors(tensors, metadata));
}
