/**
 * Amphista drafting heads — our reading of arXiv 2406.13170 (research/decoding.md §3.4; the paper
 * body and code could not be obtained, so every choice below is a config field, recorded in
 * `config.json` and in results):
 *
 * ```
 * rows i ≤ t of the target's final-normed hidden states h_i (a bounded recent window)
 * staged adaptation : A = adapter_stages × adapter_layers_per_stage pre-norm causal decoder layers
 *                     (RMSNorm, multi-head attention with a banded causal mask of width `window`,
 *                     SwiGLU FFN, no position encoding: the causal mask orders the rows);
 *                     sampled-token integration: before the first layer of the LAST stage, each row
 *                     is fused with the embedding of the token the target produced from it,
 *                     x_i ← W_f [x_i ; e(x_{i+1})] (EAGLE-style pairing; e = the target's frozen
 *                     embedding table). With 0 stages the fusion applies to h_t directly.
 * per-head MLPs     : z_k = ResBlock_k(v_t) (Medusa blocks, Medusa weight names)
 * auto-embedding    : Z = Encoder_E([z_1..z_K] + PE), full bidirectional attention over K slots
 * logits            : l_k = Z_k Eᵀ through the target's frozen, shared LM head
 * ```
 *
 * The adaptation layers see a bounded history (`adapter_cache`): `"kv"` (default) keeps each
 * adapter layer's keys/values of the last `window − 1` committed rows and runs only the newly
 * committed rows; `"recompute"` keeps no cache and recomputes the adapters over the last
 * `A·(window − 1) + 1` committed rows each step. Both give exactly what a banded causal pass over
 * the whole sequence (the training forward) gives at row t; they differ only in cost (recompute
 * costs about `A·(window−1)+1` rows of adapter work per step, kv about τ rows).
 *
 * With `adapter_stages = 0`, `token_fusion = false` and `encoder_layers = 0` the drafter is
 * Medusa's shared-LM-head heads with the same weight names and the same logits.
 *
 * This module holds config, parameter shapes, initialisation, a TypeScript reference forward, the
 * ONNX graph, the drafter folder I/O of the `"amphista"` type and {@linkcode AmphistaDrafter}.
 *
 * @module
 */

import { gaussian, mulberry32 } from "../linalg/random.ts";
import { OPSET, transpose } from "../model/llama_graph.ts";
import { GraphBuilder } from "../model/onnx_builder.ts";
import { readSafetensors } from "../model/safetensors.ts";
import { createSessionOn, type Provider, type SessionHandle } from "../model/session.ts";
import { type DrafterRuntime, resBlockBiasName, resBlockWeightName } from "./medusa.ts";
import {
  type BaseModelRef,
  type DrafterFolderParts,
  type HeadAccuracy,
  readDrafterExtras,
  writeDrafterFiles,
} from "./folder.ts";
import type { DraftHeads, HeadsInput } from "./types.ts";
import { checkTensorShapes } from "./tensors.ts";

/** Architecture of an Amphista drafter (every field is an ablation knob). */
export interface AmphistaConfig {
  /** Discriminator of the drafter folder's `config.json`. */
  drafter_type: "amphista";
  /** Target hidden size d (also the width of every Amphista block). */
  hidden_size: number;
  /** Target vocabulary size V. */
  vocab_size: number;
  /** Heads K (head j predicts x_{t+2+j}). */
  num_heads: number;
  /** Residual blocks per head (Medusa's L). */
  num_layers: number;
  /** Staged adaptation: number of stages (0 = no adaptation layers). */
  adapter_stages: number;
  /** Causal decoder layers per stage. */
  adapter_layers_per_stage: number;
  /** Sampled-token integration (fuse e(x_{i+1}) into row i before the last stage). */
  token_fusion: boolean;
  /** Bidirectional encoder layers of the auto-embedding block (0 = none). */
  encoder_layers: number;
  /** Attention heads of adapter and encoder layers. */
  attention_heads: number;
  /** SwiGLU inner width of adapter and encoder layers. */
  ffn_size: number;
  /** Band of the adapters' causal attention: row i sees rows i−window+1..i. */
  window: number;
  /** How the adapters see history at inference (same function, different cost). */
  adapter_cache: "kv" | "recompute";
  /** Position encoding inside the adapters ("none": order comes from the causal mask only). */
  position_encoding: "none";
  /** RMSNorm epsilon. */
  rms_norm_eps: number;
  /** Vocabulary projection: the target's frozen LM head, shared by all heads. */
  lm_head: "shared";
}

/** Overridable fields of {@linkcode amphistaConfig}. */
export type AmphistaOverrides = Partial<
  Omit<AmphistaConfig, "drafter_type" | "hidden_size" | "vocab_size">
>;

/**
 * Default Amphista architecture for a target of width `hiddenSize` and vocabulary `vocabSize`:
 * 4 heads, 2 stages × 1 layer, fusion on, 1 encoder layer, 4 attention heads, FFN 2d, window 16.
 *
 * @param hiddenSize target d.
 * @param vocabSize target V.
 * @param overrides fields to change.
 * @returns the validated config.
 */
export function amphistaConfig(
  hiddenSize: number,
  vocabSize: number,
  overrides: AmphistaOverrides = {},
): AmphistaConfig {
  const cfg: AmphistaConfig = {
    drafter_type: "amphista",
    hidden_size: hiddenSize,
    vocab_size: vocabSize,
    num_heads: overrides.num_heads ?? 4,
    num_layers: overrides.num_layers ?? 1,
    adapter_stages: overrides.adapter_stages ?? 2,
    adapter_layers_per_stage: overrides.adapter_layers_per_stage ?? 1,
    token_fusion: overrides.token_fusion ?? true,
    encoder_layers: overrides.encoder_layers ?? 1,
    attention_heads: overrides.attention_heads ?? 4,
    ffn_size: overrides.ffn_size ?? 2 * hiddenSize,
    window: overrides.window ?? 16,
    adapter_cache: overrides.adapter_cache ?? "kv",
    position_encoding: "none",
    rms_norm_eps: overrides.rms_norm_eps ?? 1e-5,
    lm_head: "shared",
  };
  checkAmphistaConfig(cfg, "amphistaConfig");
  return cfg;
}

/**
 * Validates a parsed Amphista config.
 *
 * @param cfg the config.
 * @param where file name for messages.
 * @throws Error naming the field and the fix
 */
export function checkAmphistaConfig(cfg: AmphistaConfig, where: string): void {
  const int = (field: keyof AmphistaConfig, min: number) => {
    const v = cfg[field];
    if (!Number.isInteger(v) || (v as number) < min) {
      throw new Error(`${where}: field "${field}" must be an integer ≥ ${min}, got ${v}`);
    }
  };
  int("hidden_size", 1);
  int("vocab_size", 1);
  int("num_heads", 1);
  int("num_layers", 1);
  int("adapter_stages", 0);
  int("adapter_layers_per_stage", 1);
  int("encoder_layers", 0);
  int("attention_heads", 1);
  int("ffn_size", 1);
  int("window", 1);
  if (cfg.hidden_size % cfg.attention_heads !== 0) {
    throw new Error(
      `${where}: field "attention_heads" (${cfg.attention_heads}) must divide hidden_size ${cfg.hidden_size}`,
    );
  }
  if (typeof cfg.token_fusion !== "boolean") {
    throw new Error(`${where}: field "token_fusion" must be true or false`);
  }
  if (cfg.adapter_cache !== "recompute" && cfg.adapter_cache !== "kv") {
    throw new Error(`${where}: field "adapter_cache" must be "kv" or "recompute"`);
  }
  if (cfg.position_encoding !== "none") {
    throw new Error(`${where}: field "position_encoding" must be "none"`);
  }
  if (cfg.lm_head !== "shared") throw new Error(`${where}: field "lm_head" must be "shared"`);
  if (!(cfg.rms_norm_eps > 0)) throw new Error(`${where}: field "rms_norm_eps" must be > 0`);
}

/** Total adapter layers A = stages × layers per stage. */
export function adapterLayerCount(cfg: AmphistaConfig): number {
  return cfg.adapter_stages * cfg.adapter_layers_per_stage;
}

/** Index of the adapter layer the token fusion precedes (A when there are no adapters). */
export function fusionLayerIndex(cfg: AmphistaConfig): number {
  return Math.max(0, cfg.adapter_stages - 1) * cfg.adapter_layers_per_stage;
}

/** Committed rows the drafter keeps and recomputes over: `A·(window − 1) + 1`. */
export function recomputeRows(cfg: AmphistaConfig): number {
  return adapterLayerCount(cfg) * (cfg.window - 1) + 1;
}

/** Names of the tensors of one transformer layer under `prefix` (HF LLaMA layer names). */
export const LAYER_TENSORS = [
  "input_layernorm.weight",
  "self_attn.q_proj.weight",
  "self_attn.k_proj.weight",
  "self_attn.v_proj.weight",
  "self_attn.o_proj.weight",
  "post_attention_layernorm.weight",
  "mlp.gate_proj.weight",
  "mlp.up_proj.weight",
  "mlp.down_proj.weight",
] as const;

/** Prefix of adapter layer i (stage-major). */
export function adapterPrefix(i: number): string {
  return `amphista.adapter.${i}`;
}

/** Prefix of encoder layer i. */
export function encoderPrefix(i: number): string {
  return `amphista.encoder.${i}`;
}

/** Fusion weight `[d, 2d]` over `[x ; e(next)]`. */
export const FUSE_WEIGHT = "amphista.fuse.weight";
/** Learned position embeddings `[K, d]` of the auto-embedding block. */
export const POS_EMBED = "amphista.encoder.pos_embed";

function layerShapes(prefix: string, d: number, f: number): Array<[string, number[]]> {
  const shapes: Record<(typeof LAYER_TENSORS)[number], number[]> = {
    "input_layernorm.weight": [d],
    "self_attn.q_proj.weight": [d, d],
    "self_attn.k_proj.weight": [d, d],
    "self_attn.v_proj.weight": [d, d],
    "self_attn.o_proj.weight": [d, d],
    "post_attention_layernorm.weight": [d],
    "mlp.gate_proj.weight": [f, d],
    "mlp.up_proj.weight": [f, d],
    "mlp.down_proj.weight": [d, f],
  };
  return LAYER_TENSORS.map((n) => [`${prefix}.${n}`, shapes[n]]);
}

/** Parameter names and shapes of a config, in a fixed order. */
export function amphistaParameterShapes(cfg: AmphistaConfig): Array<[string, number[]]> {
  const d = cfg.hidden_size, f = cfg.ffn_size;
  const out: Array<[string, number[]]> = [];
  if (cfg.token_fusion) out.push([FUSE_WEIGHT, [d, 2 * d]]);
  for (let i = 0; i < adapterLayerCount(cfg); i++) out.push(...layerShapes(adapterPrefix(i), d, f));
  for (let k = 0; k < cfg.num_heads; k++) {
    for (let l = 0; l < cfg.num_layers; l++) {
      out.push([resBlockWeightName(k, l), [d, d]]);
      out.push([resBlockBiasName(k, l), [d]]);
    }
  }
  if (cfg.encoder_layers > 0) {
    out.push([POS_EMBED, [cfg.num_heads, d]]);
    for (let i = 0; i < cfg.encoder_layers; i++) out.push(...layerShapes(encoderPrefix(i), d, f));
  }
  return out;
}

/** Trainable parameter count (the frozen shared LM head and embedding are not counted). */
export function amphistaParameterCount(cfg: AmphistaConfig): number {
  return amphistaParameterShapes(cfg).reduce((s, [, sh]) => s + sh.reduce((a, b) => a * b), 0);
}

/**
 * Initial weights for training: ResBlocks as Medusa (W = 0, uniform bias), norms 1, the fusion
 * `[I | N(0, σ²)]` (starts as "pass h through"), attention/FFN `N(0, 0.02²)` with the two residual
 * outputs (o_proj, down_proj) scaled by `1/√(2·layers)`, position embeddings `N(0, 0.02²)`.
 * At step 0 the drafter is therefore close to Medusa's initial heads.
 *
 * @param cfg architecture.
 * @param options `seed`.
 * @returns weights by name.
 */
export function initAmphistaWeights(
  cfg: AmphistaConfig,
  options: { seed: number },
): Map<string, Float32Array> {
  const rnd = mulberry32(options.seed >>> 0);
  const normal = gaussian(mulberry32((options.seed ^ 0x5bd1e995) >>> 0));
  const d = cfg.hidden_size;
  const bound = 1 / Math.sqrt(d);
  const layers = Math.max(1, adapterLayerCount(cfg) + cfg.encoder_layers);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of amphistaParameterShapes(cfg)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b));
    if (name.endsWith(".linear.bias")) {
      for (let i = 0; i < data.length; i++) data[i] = (2 * rnd() - 1) * bound;
    } else if (name.endsWith(".linear.weight")) {
      // zero, as Medusa
    } else if (name.endsWith("layernorm.weight")) data.fill(1);
    else if (name === FUSE_WEIGHT) {
      for (let o = 0; o < d; o++) {
        data[o * 2 * d + o] = 1;
        for (let i = 0; i < d; i++) data[o * 2 * d + d + i] = normal() * 0.02;
      }
    } else {
      const s = /o_proj|down_proj/.test(name) ? 0.02 / Math.sqrt(2 * layers) : 0.02;
      for (let i = 0; i < data.length; i++) data[i] = normal() * s;
    }
    out.set(name, data);
  }
  return out;
}

/**
 * Random weights for tests (every weight matters: non-identity blocks, norms ≠ 1).
 *
 * @param cfg architecture.
 * @param options `seed`, `scale` of matrices (default 0.5/√d).
 * @returns weights by name.
 */
export function randomAmphistaWeights(
  cfg: AmphistaConfig,
  options: { seed: number; scale?: number },
): Map<string, Float32Array> {
  const normal = gaussian(mulberry32(options.seed >>> 0));
  const scale = options.scale ?? 0.5 / Math.sqrt(cfg.hidden_size);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of amphistaParameterShapes(cfg)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b));
    if (name.endsWith("layernorm.weight")) {
      for (let i = 0; i < data.length; i++) data[i] = 1 + 0.2 * normal();
    } else if (name === POS_EMBED) {
      for (let i = 0; i < data.length; i++) data[i] = 0.5 * normal();
    } else for (let i = 0; i < data.length; i++) data[i] = normal() * scale;
    out.set(name, data);
  }
  return out;
}

/**
 * Checks that `weights` has exactly the tensors of `cfg` with the right sizes.
 *
 * @throws Error naming the tensor
 */
export function validateAmphistaWeights(
  cfg: AmphistaConfig,
  weights: Map<string, Float32Array>,
  where: string,
): void {
  checkTensorShapes(
    amphistaParameterShapes(cfg),
    weights,
    where,
    "the architecture fields of config.json disagree with the weights",
  );
}

/** Additive banded causal mask `[T, T]`: 0 where `i − window < j ≤ i`, −1e9 elsewhere. */
export function bandedCausalMask(T: number, window: number): Float32Array {
  const m = new Float32Array(T * T).fill(-1e9);
  for (let i = 0; i < T; i++) {
    for (let j = Math.max(0, i - window + 1); j <= i; j++) m[i * T + j] = 0;
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Reference forward (float64)

type Mat = { rows: number; cols: number; data: Float64Array };

function linear64(x: Mat, W: Float32Array, out: number): Mat {
  const y = new Float64Array(x.rows * out);
  for (let r = 0; r < x.rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let i = 0; i < x.cols; i++) s += W[o * x.cols + i] * x.data[r * x.cols + i];
      y[r * out + o] = s;
    }
  }
  return { rows: x.rows, cols: out, data: y };
}

function rms64(x: Mat, w: Float32Array, eps: number): Mat {
  const y = new Float64Array(x.data.length);
  for (let r = 0; r < x.rows; r++) {
    let ss = 0;
    for (let i = 0; i < x.cols; i++) ss += x.data[r * x.cols + i] ** 2;
    const inv = 1 / Math.sqrt(ss / x.cols + eps);
    for (let i = 0; i < x.cols; i++) y[r * x.cols + i] = x.data[r * x.cols + i] * inv * w[i];
  }
  return { rows: x.rows, cols: x.cols, data: y };
}

function layer64(
  cfg: AmphistaConfig,
  weights: Map<string, Float32Array>,
  prefix: string,
  x: Mat,
  mask?: Float32Array,
): Mat {
  const d = cfg.hidden_size, f = cfg.ffn_size, H = cfg.attention_heads, hd = d / H, T = x.rows;
  const W = (n: string) => weights.get(`${prefix}.${n}`)!;
  const a = rms64(x, W("input_layernorm.weight"), cfg.rms_norm_eps);
  const q = linear64(a, W("self_attn.q_proj.weight"), d);
  const k = linear64(a, W("self_attn.k_proj.weight"), d);
  const v = linear64(a, W("self_attn.v_proj.weight"), d);
  const ctx: Mat = { rows: T, cols: d, data: new Float64Array(T * d) };
  const p = new Float64Array(T);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      for (let j = 0; j < T; j++) {
        let s = 0;
        for (let c = 0; c < hd; c++) s += q.data[i * d + h * hd + c] * k.data[j * d + h * hd + c];
        p[j] = s / Math.sqrt(hd) + (mask ? mask[i * T + j] : 0);
        if (p[j] > max) max = p[j];
      }
      let z = 0;
      for (let j = 0; j < T; j++) z += p[j] = Math.exp(p[j] - max);
      for (let c = 0; c < hd; c++) {
        let s = 0;
        for (let j = 0; j < T; j++) s += p[j] * v.data[j * d + h * hd + c];
        ctx.data[i * d + h * hd + c] = s / z;
      }
    }
  }
  const o = linear64(ctx, W("self_attn.o_proj.weight"), d);
  const x2: Mat = { rows: T, cols: d, data: x.data.map((val, i) => val + o.data[i]) };
  const m = rms64(x2, W("post_attention_layernorm.weight"), cfg.rms_norm_eps);
  const g = linear64(m, W("mlp.gate_proj.weight"), f);
  const u = linear64(m, W("mlp.up_proj.weight"), f);
  const act: Mat = {
    rows: T,
    cols: f,
    data: g.data.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u.data[i]),
  };
  const dn = linear64(act, W("mlp.down_proj.weight"), d);
  return { rows: T, cols: d, data: x2.data.map((val, i) => val + dn.data[i]) };
}

function fuse64(
  cfg: AmphistaConfig,
  weights: Map<string, Float32Array>,
  embed: Float32Array,
  x: Mat,
  next: Int32Array,
  firstRow: number,
): Mat {
  const d = cfg.hidden_size;
  const cat: Mat = { rows: x.rows, cols: 2 * d, data: new Float64Array(x.rows * 2 * d) };
  for (let r = 0; r < x.rows; r++) {
    for (let i = 0; i < d; i++) {
      cat.data[r * 2 * d + i] = x.data[r * d + i];
      cat.data[r * 2 * d + d + i] = embed[next[firstRow + r] * d + i];
    }
  }
  return linear64(cat, weights.get(FUSE_WEIGHT)!, d);
}

/**
 * Reference forward in TypeScript (float64 accumulation) at the last row of a window.
 *
 * @param cfg architecture.
 * @param weights drafter weights.
 * @param target the target's frozen `[V, d]` LM head (= the tied embedding table).
 * @param input `hidden [T, d]` rows (oldest first), `nextTokens [T]`: the token the target
 *   produced from each row (x_{i+1}; the last is the coming tree's root).
 * @returns row-major `[K, V]` logits of the heads at the last row.
 */
export function amphistaReferenceForward(
  cfg: AmphistaConfig,
  weights: Map<string, Float32Array>,
  target: { lmHead: Float32Array; embed?: Float32Array },
  input: { hidden: Float32Array; nextTokens: Int32Array },
): Float32Array {
  const d = cfg.hidden_size, V = cfg.vocab_size, K = cfg.num_heads;
  const embed = target.embed ?? target.lmHead;
  const T = input.hidden.length / d;
  const A = adapterLayerCount(cfg);
  let x: Mat = { rows: T, cols: d, data: Float64Array.from(input.hidden) };
  if (A === 0) x = { rows: 1, cols: d, data: x.data.slice((T - 1) * d) };
  const mask = bandedCausalMask(x.rows, cfg.window);
  for (let i = 0; i < A; i++) {
    if (cfg.token_fusion && i === fusionLayerIndex(cfg)) {
      x = fuse64(cfg, weights, embed, x, input.nextTokens, 0);
    }
    x = layer64(cfg, weights, adapterPrefix(i), x, mask);
  }
  if (cfg.token_fusion && A === 0) x = fuse64(cfg, weights, embed, x, input.nextTokens, T - 1);
  const v = x.data.slice((x.rows - 1) * d);
  const z: Mat = { rows: K, cols: d, data: new Float64Array(K * d) };
  for (let k = 0; k < K; k++) {
    const h = Float64Array.from(v);
    const y = new Float64Array(d);
    for (let l = 0; l < cfg.num_layers; l++) {
      const W = weights.get(resBlockWeightName(k, l))!;
      const b = weights.get(resBlockBiasName(k, l))!;
      for (let o = 0; o < d; o++) {
        let s = b[o];
        for (let i = 0; i < d; i++) s += W[o * d + i] * h[i];
        y[o] = h[o] + s / (1 + Math.exp(-s));
      }
      h.set(y);
    }
    z.data.set(h, k * d);
  }
  let Z = z;
  if (cfg.encoder_layers > 0) {
    const pe = weights.get(POS_EMBED)!;
    Z = { rows: K, cols: d, data: z.data.map((val, i) => val + pe[i]) };
    for (let i = 0; i < cfg.encoder_layers; i++) Z = layer64(cfg, weights, encoderPrefix(i), Z);
  }
  const out = new Float32Array(K * V);
  for (let k = 0; k < K; k++) {
    for (let t = 0; t < V; t++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += target.lmHead[t * d + i] * Z.data[k * d + i];
      out[k * V + t] = s;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ONNX graph

/** Names of the Amphista graph's inputs and output. */
export const AMPHISTA_IO = {
  /** float32 `[T, d]`: the recent committed hidden rows (final-normed), oldest first. */
  hidden: "hidden",
  /** int64 `[T]`: token produced from each row (present when `token_fusion`). */
  nextTokens: "next_tokens",
  /** float32 `[T, T]`: additive banded causal mask (present when there are adapter layers). */
  mask: "mask",
  /** float32 `[K, V]`: per-head logits at the last row. */
  logits: "head_logits",
  /** kv mode: float32 `[H, P, hd]` keys of adapter layer i for the P cached rows. */
  pastKey: (i: number) => `past_key_${i}`,
  /** kv mode: float32 `[H, P, hd]` values of adapter layer i. */
  pastValue: (i: number) => `past_value_${i}`,
  /** kv mode: float32 `[H, P + T, hd]` keys of adapter layer i, cached rows then new rows. */
  presentKey: (i: number) => `present_key_${i}`,
  /** kv mode: float32 `[H, P + T, hd]` values of adapter layer i. */
  presentValue: (i: number) => `present_value_${i}`,
} as const;

/**
 * One pre-norm transformer layer as ONNX nodes. Written for few nodes, since small drafter graphs
 * on wasm are dominated by per-node cost: RMSNorm as `Pow → ReduceMean → Add → Sqrt → Div → Mul`
 * (the pattern onnxruntime fuses into one `SimplifiedLayerNormalization`), q/k/v and gate/up as
 * one `MatMul` each followed by `Split`. With `lastRowOnly` the queries, the output projection and
 * the FFN run on the last row only (all rows still give keys and values): the last adapter layer
 * feeds the heads from its last row alone.
 */
function onnxLayer(
  g: GraphBuilder,
  cfg: AmphistaConfig,
  weights: Map<string, Float32Array>,
  prefix: string,
  x: string,
  o: { mask?: string; past?: { key: string; value: string }; lastRowOnly?: boolean } = {},
): { out: string; key: string; value: string } {
  const d = cfg.hidden_size, f = cfg.ffn_size, H = cfg.attention_heads, hd = d / H;
  const W = (n: string) => weights.get(`${prefix}.${n}`)!;
  // Concatenated transposed weights [inn, Σ outs] of linears that read the same input.
  const fused = (names: string[], outs: number[], inn: number) => {
    const total = outs.reduce((a, b) => a + b, 0);
    const wt = new Float32Array(inn * total);
    let col = 0;
    names.forEach((n, j) => {
      const w = W(n); // [out, inn]
      for (let i = 0; i < inn; i++) {
        for (let r = 0; r < outs[j]; r++) wt[i * total + col + r] = w[r * inn + i];
      }
      col += outs[j];
    });
    return g.initFloat(`${prefix}.${names.map((n) => n.split(".").at(-2)).join("_")}.T`, [
      inn,
      total,
    ], wt);
  };
  const split = (v: string, sizes: number[]) =>
    g.nodeMulti("Split", [v, g.constInt64(sizes)], sizes.length, { axis: -1 });
  const lin = (v: string, n: string, out: number, inn: number) =>
    g.node("MatMul", [v, g.initFloat(`${prefix}.${n}.T`, [inn, out], transpose(W(n), out, inn))]);
  const norm = (v: string, n: string) => {
    const ms = g.node("ReduceMean", [g.node("Pow", [v, g.constFloat(2)])], {
      attrs: { axes: [-1], keepdims: 1 },
    });
    const rms = g.node("Sqrt", [g.node("Add", [ms, g.constFloat(cfg.rms_norm_eps)])]);
    return g.node("Mul", [g.node("Div", [v, rms]), g.initFloat(`${prefix}.${n}`, [d], W(n))]);
  };
  const lastRow = (v: string) =>
    g.node("Slice", [v, g.constInt64([-1]), g.constInt64([2 ** 31 - 1]), g.constInt64([0])]);
  const heads = (v: string) =>
    g.node("Transpose", [g.node("Reshape", [v, g.constInt64([-1, H, hd])])], {
      attrs: { perm: [1, 0, 2] },
    }); // [H, T, hd]
  const a = norm(x, "input_layernorm.weight");
  let q: string, k: string, v: string;
  if (o.lastRowOnly) {
    const [kk, vv] = split(
      g.node("MatMul", [
        a,
        fused(["self_attn.k_proj.weight", "self_attn.v_proj.weight"], [d, d], d),
      ]),
      [d, d],
    );
    q = heads(lin(lastRow(a), "self_attn.q_proj.weight", d, d));
    k = heads(kk);
    v = heads(vv);
  } else {
    const qkv = g.node("MatMul", [
      a,
      fused(
        ["self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"],
        [d, d, d],
        d,
      ),
    ]);
    const [qq, kk, vv] = split(qkv, [d, d, d]);
    q = heads(qq);
    k = heads(kk);
    v = heads(vv);
  }
  if (o.past) {
    k = g.node("Concat", [o.past.key, k], { attrs: { axis: 1 } });
    v = g.node("Concat", [o.past.value, v], { attrs: { axis: 1 } });
  }
  const kT = g.node("Transpose", [k], { attrs: { perm: [0, 2, 1] } });
  let scores = g.node("Mul", [g.node("MatMul", [q, kT]), g.constFloat(1 / Math.sqrt(hd))]);
  if (o.mask) scores = g.node("Add", [scores, o.lastRowOnly ? lastRow(o.mask) : o.mask]);
  const probs = g.node("Softmax", [scores], { attrs: { axis: -1 } });
  const ctx = g.node("Transpose", [g.node("MatMul", [probs, v])], { attrs: { perm: [1, 0, 2] } });
  const merged = g.node("Reshape", [ctx, g.constInt64([-1, d])]);
  const residual = o.lastRowOnly ? lastRow(x) : x;
  const x2 = g.node("Add", [residual, lin(merged, "self_attn.o_proj.weight", d, d)]);
  const m = norm(x2, "post_attention_layernorm.weight");
  const [gate, up] = split(
    g.node("MatMul", [m, fused(["mlp.gate_proj.weight", "mlp.up_proj.weight"], [f, f], d)]),
    [f, f],
  );
  const act = g.node("Mul", [g.node("Mul", [gate, g.node("Sigmoid", [gate])]), up]);
  return { out: g.node("Add", [x2, lin(act, "mlp.down_proj.weight", d, f)]), key: k, value: v };
}

/** `[V, d]` rows `W_f[:, d:]·E[t]` of the fusion's token half for every token t (float64 sums). */
function fusedTokenRows(Wf: Float32Array, E: Float32Array, d: number, V: number): Float32Array {
  const out = new Float32Array(V * d);
  const We = new Float64Array(d * d); // [o, i] = W_f[o, d + i]
  for (let o = 0; o < d; o++) for (let i = 0; i < d; i++) We[o * d + i] = Wf[o * 2 * d + d + i];
  for (let t = 0; t < V; t++) {
    const e = E.subarray(t * d, (t + 1) * d);
    for (let o = 0; o < d; o++) {
      let acc = 0;
      const row = o * d;
      for (let i = 0; i < d; i++) acc += We[row + i] * e[i];
      out[t * d + o] = acc;
    }
  }
  return out;
}

/**
 * Builds the drafter as one ONNX graph (opset 17, standard ops): adapters over `[T, d]` with the
 * banded mask, fusion by `Gather` on a precomputed token table, K ResBlocks batched as in Medusa's
 * graph, the encoder over `[K, d]`, and the shared LM head.
 *
 * @param options architecture, weights and the target's `[V, d]` LM head / embedding table.
 * @returns the serialized ModelProto.
 */
export function buildAmphistaGraph(options: {
  config: AmphistaConfig;
  weights: Map<string, Float32Array>;
  lmHead: Float32Array;
  embed?: Float32Array;
}): Uint8Array {
  const { config: cfg, weights } = options;
  validateAmphistaWeights(cfg, weights, "buildAmphistaGraph");
  const d = cfg.hidden_size, V = cfg.vocab_size, K = cfg.num_heads, L = cfg.num_layers;
  if (options.lmHead.length !== V * d) {
    throw new Error(`buildAmphistaGraph: the target's LM head must be [${V}, ${d}]`);
  }
  const A = adapterLayerCount(cfg);
  const kv = cfg.adapter_cache === "kv" && A > 0;
  const hd = d / cfg.attention_heads;
  const g = new GraphBuilder("amphista_heads");
  let x = g.input(AMPHISTA_IO.hidden, "float32", ["rows", d]);
  const next = cfg.token_fusion ? g.input(AMPHISTA_IO.nextTokens, "int64", ["rows"]) : undefined;
  const mask = A > 0
    ? g.input(AMPHISTA_IO.mask, "float32", ["rows", kv ? "keys" : "rows"])
    : undefined;
  const past = (i: number) =>
    kv
      ? {
        key: g.input(AMPHISTA_IO.pastKey(i), "float32", [cfg.attention_heads, "past", hd]),
        value: g.input(AMPHISTA_IO.pastValue(i), "float32", [cfg.attention_heads, "past", hd]),
      }
      : undefined;
  // Fusion W_f [x ; e(t)] = W_x·x + (W_e·E)[t]: the token half is precomputed for every token
  // as a [V, d] table, so the graph gathers one row instead of gathering, concatenating and
  // multiplying by the token half of W_f.
  let fusedTokenTable: string | undefined;
  const fuse = (v: string, ids: string) => {
    const Wf = weights.get(FUSE_WEIGHT)!; // [d, 2d]
    fusedTokenTable ??= g.initFloat(
      "amphista.fuse.token_table",
      [V, d],
      fusedTokenRows(Wf, options.embed ?? options.lmHead, d, V),
    );
    const Wx = new Float32Array(d * d); // [in, out] = W_f[:, :d]ᵀ
    for (let o = 0; o < d; o++) for (let i = 0; i < d; i++) Wx[i * d + o] = Wf[o * 2 * d + i];
    const hx = g.node("MatMul", [v, g.initFloat(`${FUSE_WEIGHT}.x.T`, [d, d], Wx)]);
    return g.node("Add", [hx, g.node("Gather", [fusedTokenTable, ids], { attrs: { axis: 0 } })]);
  };
  const lastRow = (v: string) =>
    g.node("Slice", [v, g.constInt64([-1]), g.constInt64([2 ** 31 - 1]), g.constInt64([0])]);
  if (A === 0) {
    x = lastRow(x);
    if (next) x = fuse(x, lastRow(next));
  }
  for (let i = 0; i < A; i++) {
    if (next && i === fusionLayerIndex(cfg)) x = fuse(x, next);
    const r = onnxLayer(g, cfg, weights, adapterPrefix(i), x, {
      mask,
      past: past(i),
      lastRowOnly: i === A - 1,
    });
    x = r.out;
    if (kv) {
      const dims = [cfg.attention_heads, "keys", hd];
      g.output(AMPHISTA_IO.presentKey(i), r.key, "float32", dims);
      g.output(AMPHISTA_IO.presentValue(i), r.value, "float32", dims);
    }
  }
  const v = x; // [1, d]: the last adapter layer ran its output rows on the last row only
  // ResBlock 0 of all heads: [1, d] × [d, K·d] → [K, d].
  const w0 = new Float32Array(d * K * d);
  const b0 = new Float32Array(K * d);
  for (let k = 0; k < K; k++) {
    const W = weights.get(resBlockWeightName(k, 0))!;
    for (let o = 0; o < d; o++) {
      for (let i = 0; i < d; i++) w0[i * K * d + k * d + o] = W[o * d + i];
    }
    b0.set(weights.get(resBlockBiasName(k, 0))!, k * d);
  }
  const pre0 = g.node("Add", [
    g.node("MatMul", [v, g.initFloat("block0.weight.T", [d, K * d], w0)]),
    g.initFloat("block0.bias", [K * d], b0),
  ]);
  const act0 = g.node("Reshape", [
    g.node("Mul", [pre0, g.node("Sigmoid", [pre0])]),
    g.constInt64([K, d]),
  ]);
  let z = g.node("Add", [v, act0]); // [K, d]
  for (let l = 1; l < L; l++) {
    const wl = new Float32Array(K * d * d);
    const bl = new Float32Array(K * d);
    for (let k = 0; k < K; k++) {
      wl.set(transpose(weights.get(resBlockWeightName(k, l))!, d, d), k * d * d);
      bl.set(weights.get(resBlockBiasName(k, l))!, k * d);
    }
    const z3 = g.node("Unsqueeze", [z, g.constInt64([1])]); // [K, 1, d]
    const pre = g.node("Add", [
      g.node("MatMul", [z3, g.initFloat(`block${l}.weight.T`, [K, d, d], wl)]),
      g.initFloat(`block${l}.bias`, [K, 1, d], bl),
    ]);
    const act = g.node("Mul", [pre, g.node("Sigmoid", [pre])]);
    z = g.node("Reshape", [g.node("Add", [z3, act]), g.constInt64([K, d])]);
  }
  if (cfg.encoder_layers > 0) {
    z = g.node("Add", [z, g.initFloat(POS_EMBED, [K, d], weights.get(POS_EMBED)!)]);
    for (let i = 0; i < cfg.encoder_layers; i++) {
      z = onnxLayer(g, cfg, weights, encoderPrefix(i), z, {}).out;
    }
  }
  const logits = g.node("MatMul", [
    z,
    g.initFloat("lm_head.weight.T", [d, V], transpose(options.lmHead, V, d)),
  ]);
  g.output(AMPHISTA_IO.logits, logits, "float32", [K, V]);
  return g.toModel({
    opset: OPSET,
    docString:
      `Amphista heads (K=${K}, stages=${cfg.adapter_stages}x${cfg.adapter_layers_per_stage}, ` +
      `fusion=${cfg.token_fusion}, encoder=${cfg.encoder_layers})`,
  });
}

// ---------------------------------------------------------------------------------------------
// Drafter

/**
 * Amphista heads on an onnxruntime-web session, with the adapters' bounded history: per-layer
 * keys/values of the last `window − 1` rows (`kv`) or the last `A·(window − 1) + 1` rows
 * (`recompute`).
 */
export class AmphistaDrafter implements DraftHeads {
  /** Number of heads K. */
  readonly numHeads: number;
  /** Vocabulary size V. */
  readonly vocabSize: number;
  /** Trainable parameters (frozen LM head / embedding not counted). */
  readonly parameterCount: number;
  /** Number of `propose` calls and their summed milliseconds (drafter latency per step). */
  readonly stats = { calls: 0, ms: 0 };
  /**
   * Committed rows the first `propose` of a prompt should receive (`A·(window − 1) + 1`) so that
   * the adapters see the same history as in training; the target's prefill should return this many
   * hidden rows (`OrtTreeTarget`'s `prefillHiddenRows`).
   */
  readonly historyRows: number;
  #handle: SessionHandle;
  #rows: Float32Array;
  #tokens: Int32Array;
  #count = 0;
  readonly #capacity: number;
  #past: Array<{ key: Float32Array; value: Float32Array }> = [];
  #pastRows = 0;

  private constructor(readonly config: AmphistaConfig, handle: SessionHandle) {
    this.numHeads = config.num_heads;
    this.vocabSize = config.vocab_size;
    this.parameterCount = amphistaParameterCount(config);
    this.#handle = handle;
    this.#capacity = recomputeRows(config);
    this.historyRows = this.#capacity;
    this.#rows = new Float32Array(this.#capacity * config.hidden_size);
    this.#tokens = new Int32Array(this.#capacity);
  }

  /**
   * Builds the graph and opens a session on the target's provider.
   *
   * @param options architecture, weights, the target's LM head (= tied embedding), runtime.
   */
  static async create(options: {
    config: AmphistaConfig;
    weights: Map<string, Float32Array>;
    lmHead: Float32Array;
    embed?: Float32Array;
    runtime: DrafterRuntime;
  }): Promise<AmphistaDrafter> {
    const bytes = buildAmphistaGraph(options);
    const rt = options.runtime;
    const handle = await createSessionOn(
      bytes,
      { provider: rt.provider, reason: rt.reason, adapter: rt.adapter },
      { threads: rt.threads },
    );
    return new AmphistaDrafter(options.config, handle);
  }

  /** Provider the session runs on. */
  get provider(): Provider {
    return this.#handle.provider;
  }

  /** Forgets the committed rows of the previous prompt. */
  reset(): void {
    this.#count = 0;
    this.#past = [];
    this.#pastRows = 0;
  }

  /**
   * Logits `[K, V]` at the last of `hidden [T, d]` rows, `nextTokens[i]` being the token produced
   * from row i (stateless, `recompute` graphs only; {@linkcode propose} keeps the history).
   */
  async run(hidden: Float32Array, nextTokens: Int32Array): Promise<Float32Array> {
    const cfg = this.config, d = cfg.hidden_size;
    const T = hidden.length / d;
    if (T < 1 || !Number.isInteger(T) || nextTokens.length !== T) {
      throw new Error(
        `AmphistaDrafter: hidden has ${hidden.length} values (d = ${d}) and ${nextTokens.length} next tokens`,
      );
    }
    const { ort, session } = this.#handle;
    const A = adapterLayerCount(cfg);
    if (cfg.adapter_cache === "kv" && A > 0) {
      throw new Error(`AmphistaDrafter.run: stateless runs need adapter_cache "recompute"`);
    }
    const feeds: Record<string, unknown> = {};
    if (A === 0) {
      feeds[AMPHISTA_IO.hidden] = new ort.Tensor("float32", hidden.slice((T - 1) * d), [1, d]);
      if (cfg.token_fusion) {
        feeds[AMPHISTA_IO.nextTokens] = new ort.Tensor(
          "int64",
          BigInt64Array.from([BigInt(nextTokens[T - 1])]),
          [1],
        );
      }
    } else {
      feeds[AMPHISTA_IO.hidden] = new ort.Tensor("float32", hidden, [T, d]);
      feeds[AMPHISTA_IO.mask] = new ort.Tensor("float32", bandedCausalMask(T, cfg.window), [T, T]);
      if (cfg.token_fusion) {
        feeds[AMPHISTA_IO.nextTokens] = new ort.Tensor(
          "int64",
          BigInt64Array.from(nextTokens, (t) => BigInt(t)),
          [T],
        );
      }
    }
    const out = await session.run(feeds as never);
    return out[AMPHISTA_IO.logits].data as Float32Array;
  }

  /** Appends the newly committed rows to the window and proposes `[K, V]` head logits. */
  async propose(input: HeadsInput): Promise<Float32Array> {
    if (this.config.adapter_cache === "kv" && adapterLayerCount(this.config) > 0) {
      const t0 = performance.now();
      const out = await this.#proposeKv(input);
      this.stats.ms += performance.now() - t0;
      this.stats.calls++;
      return out;
    }
    const t0 = performance.now();
    const d = this.config.hidden_size, C = this.#capacity;
    const m = input.hidden.length / d;
    for (let r = Math.max(0, m - C); r < m; r++) {
      if (this.#count === C) {
        this.#rows.copyWithin(0, d);
        this.#tokens.copyWithin(0, 1);
        this.#count--;
      }
      this.#rows.set(input.hidden.subarray(r * d, (r + 1) * d), this.#count * d);
      this.#tokens[this.#count++] = input.tokens[r];
    }
    const T = this.#count;
    const next = new Int32Array(T);
    next.set(this.#tokens.subarray(1, T));
    next[T - 1] = input.nextToken;
    const out = await this.run(this.#rows.slice(0, T * d), next);
    this.stats.ms += performance.now() - t0;
    this.stats.calls++;
    return out;
  }

  /** kv mode: runs the new rows against the cached keys/values and keeps the last window − 1. */
  async #proposeKv(input: HeadsInput): Promise<Float32Array> {
    const cfg = this.config, d = cfg.hidden_size, A = adapterLayerCount(cfg);
    const H = cfg.attention_heads, hd = d / H, W = cfg.window;
    const m = input.hidden.length / d;
    if (m < 1 || !Number.isInteger(m)) {
      throw new Error(`AmphistaDrafter: hidden has ${input.hidden.length} values (d = ${d})`);
    }
    const P = this.#pastRows, T = P + m;
    const mask = new Float32Array(m * T).fill(-1e9);
    for (let r = 0; r < m; r++) {
      for (let j = Math.max(0, P + r - W + 1); j <= P + r; j++) mask[r * T + j] = 0;
    }
    const { ort, session } = this.#handle;
    const feeds: Record<string, unknown> = {
      [AMPHISTA_IO.hidden]: new ort.Tensor("float32", input.hidden, [m, d]),
      [AMPHISTA_IO.mask]: new ort.Tensor("float32", mask, [m, T]),
    };
    if (cfg.token_fusion) {
      const next = new BigInt64Array(m);
      for (let r = 0; r + 1 < m; r++) next[r] = BigInt(input.tokens[r + 1]);
      next[m - 1] = BigInt(input.nextToken);
      feeds[AMPHISTA_IO.nextTokens] = new ort.Tensor("int64", next, [m]);
    }
    for (let i = 0; i < A; i++) {
      const p = this.#past[i] ?? { key: new Float32Array(0), value: new Float32Array(0) };
      feeds[AMPHISTA_IO.pastKey(i)] = new ort.Tensor("float32", p.key, [H, P, hd]);
      feeds[AMPHISTA_IO.pastValue(i)] = new ort.Tensor("float32", p.value, [H, P, hd]);
    }
    const out = await session.run(feeds as never);
    const keep = Math.min(T, W - 1);
    const trim = (x: Float32Array) => {
      const y = new Float32Array(H * keep * hd);
      for (let h = 0; h < H; h++) {
        y.set(x.subarray((h * T + T - keep) * hd, (h * T + T) * hd), h * keep * hd);
      }
      return y;
    };
    this.#past = Array.from({ length: A }, (_, i) => ({
      key: trim(out[AMPHISTA_IO.presentKey(i)].data as Float32Array),
      value: trim(out[AMPHISTA_IO.presentValue(i)].data as Float32Array),
    }));
    this.#pastRows = keep;
    return out[AMPHISTA_IO.logits].data as Float32Array;
  }

  /** Releases the session. */
  async close(): Promise<void> {
    await this.#handle.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Drafter folder of type "amphista" (same layout as `folder.ts`)

/** An Amphista drafter folder read into memory. */
export interface AmphistaFolder {
  /** Folder path. */
  path: string;
  /** Architecture. */
  config: AmphistaConfig;
  /** Weights by name. */
  weights: Map<string, Float32Array>;
  /** Base model, when recorded. */
  baseModel?: BaseModelRef;
  /** Held-out accuracy, when present. */
  accuracy?: HeadAccuracy;
  /** `training.json`, when present. */
  training?: Record<string, unknown>;
}

/**
 * Writes an Amphista drafter folder (`config.json` with `drafter_type: "amphista"`,
 * `model.safetensors`, and optionally `accuracy.json`, `loss_curve.json`, `training.json`).
 *
 * @param path folder (created if needed).
 * @param folder config, weights and the optional parts.
 */
export async function writeAmphistaFolder(
  path: string,
  folder: DrafterFolderParts<AmphistaConfig>,
): Promise<void> {
  validateAmphistaWeights(folder.config, folder.weights, "writeAmphistaFolder");
  await writeDrafterFiles(path, { ...folder, shapes: amphistaParameterShapes(folder.config) });
}

/**
 * Reads an Amphista drafter folder.
 *
 * @param path the folder.
 * @throws Error naming the file and field when something is missing or inconsistent
 */
export async function readAmphistaFolder(path: string): Promise<AmphistaFolder> {
  const cfgPath = `${path}/config.json`;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await Deno.readTextFile(cfgPath));
  } catch (e) {
    throw new Error(
      `${cfgPath}: cannot read (${
        (e as Error).message
      }). Fix: train with \`bin/deno run -A scripts/train_amphista.ts\``,
    );
  }
  if (raw.drafter_type !== "amphista") {
    throw new Error(
      `${cfgPath}: field "drafter_type" is ${
        JSON.stringify(raw.drafter_type)
      }, expected "amphista"`,
    );
  }
  const config = amphistaConfig(
    raw.hidden_size as number,
    raw.vocab_size as number,
    raw as AmphistaOverrides,
  );
  checkAmphistaConfig(config, cfgPath);
  const wPath = `${path}/model.safetensors`;
  const weights = new Map<string, Float32Array>();
  for (const [name, t] of readSafetensors(await Deno.readFile(wPath), wPath)) {
    weights.set(name, t.data);
  }
  validateAmphistaWeights(config, weights, wPath);
  return { path, config, weights, ...await readDrafterExtras(path, raw) };
}

/**
 * Opens an Amphista drafter for a target (the same contract as `openDrafter` of `folder.ts`).
 *
 * @param folder the read folder.
 * @param target the target's hidden size, vocabulary, LM head `[V, d]` (tied embedding) and runtime.
 * @param options `heads`: keep only the first heads. Unlike Medusa this changes the encoder's
 *   input, so it is allowed only without an auto-embedding block.
 * @returns a drafter ready to propose.
 */
export async function openAmphistaDrafter(
  folder: AmphistaFolder,
  target: { hiddenSize: number; vocabSize: number; lmHead: Float32Array; runtime: DrafterRuntime },
  options: { heads?: number } = {},
): Promise<AmphistaDrafter> {
  let cfg = folder.config;
  let weights = folder.weights;
  if (cfg.hidden_size !== target.hiddenSize || cfg.vocab_size !== target.vocabSize) {
    throw new Error(
      `${folder.path}/config.json: heads are for hidden_size ${cfg.hidden_size}, vocab_size ${cfg.vocab_size}; ` +
        `the target has ${target.hiddenSize}, ${target.vocabSize}. Fix: retrain for this model`,
    );
  }
  if (options.heads !== undefined && options.heads < cfg.num_heads && cfg.encoder_layers === 0) {
    cfg = { ...cfg, num_heads: options.heads };
    const keep = new Set(amphistaParameterShapes(cfg).map(([n]) => n));
    weights = new Map([...weights].filter(([n]) => keep.has(n)));
  }
  return await AmphistaDrafter.create({
    config: cfg,
    weights,
    lmHead: target.lmHead,
    runtime: target.runtime,
  });
}
