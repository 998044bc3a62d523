/**
 * The LLaMA architecture in TensorFlow.js, for training: RMSNorm, rotary position embeddings
 * (Hugging Face `rotate_half` convention), grouped-query causal attention, SwiGLU MLP, optional tied
 * embeddings. Parameters are named exactly like a Hugging Face `LlamaForCausalLM` checkpoint so
 * they can be written straight to `model.safetensors`. Weights are `[out, in]`; `y = x Wᵀ`.
 *
 * @module
 */

import type * as tfNs from "@tensorflow/tfjs";
import type { LlamaConfig } from "../model/config.ts";

type Tf = typeof tfNs;
type Tensor = tfNs.Tensor;
type Variable = tfNs.Variable;

/** Parameter names of a config, in a fixed order, with their shapes. */
export function llamaParameterShapes(cfg: LlamaConfig): Array<[string, number[]]> {
  const d = cfg.hidden_size, f = cfg.intermediate_size;
  const hd = d / cfg.num_attention_heads;
  const kv = cfg.num_key_value_heads * hd;
  const out: Array<[string, number[]]> = [["model.embed_tokens.weight", [cfg.vocab_size, d]]];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    out.push([`${p}.input_layernorm.weight`, [d]]);
    out.push([`${p}.self_attn.q_proj.weight`, [d, d]]);
    out.push([`${p}.self_attn.k_proj.weight`, [kv, d]]);
    out.push([`${p}.self_attn.v_proj.weight`, [kv, d]]);
    out.push([`${p}.self_attn.o_proj.weight`, [d, d]]);
    out.push([`${p}.post_attention_layernorm.weight`, [d]]);
    out.push([`${p}.mlp.gate_proj.weight`, [f, d]]);
    out.push([`${p}.mlp.up_proj.weight`, [f, d]]);
    out.push([`${p}.mlp.down_proj.weight`, [d, f]]);
  }
  out.push(["model.norm.weight", [d]]);
  if (!cfg.tie_word_embeddings) out.push(["lm_head.weight", [cfg.vocab_size, d]]);
  return out;
}

/**
 * Initial values, GPT-2/LLaMA style: normal(0, 0.02) for matrices, with the residual output
 * projections (o_proj, down_proj) scaled by 1/√(2·layers); ones for norms. `normal` must be a
 * seeded standard-normal source so that initialisation is reproducible.
 */
export function initLlamaWeights(
  cfg: LlamaConfig,
  normal: () => number,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const residualScale = 1 / Math.sqrt(2 * cfg.num_hidden_layers);
  for (const [name, shape] of llamaParameterShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (shape.length === 1) data.fill(1);
    else {
      const std = 0.02 * (/o_proj|down_proj/.test(name) ? residualScale : 1);
      for (let i = 0; i < n; i++) data[i] = normal() * std;
    }
    out.set(name, data);
  }
  return out;
}

/** A LLaMA held as TF.js variables. */
export interface TfLlama {
  cfg: LlamaConfig;
  /** Trainable variables by Hugging Face name. */
  params: Map<string, Variable>;
}

/** Wraps weight arrays as TF.js variables. */
export function makeTfLlama(
  tf: Tf,
  cfg: LlamaConfig,
  weights: Map<string, Float32Array>,
): TfLlama {
  const params = new Map<string, Variable>();
  for (const [name, shape] of llamaParameterShapes(cfg)) {
    const w = weights.get(name);
    if (!w) throw new Error(`missing weight ${name}`);
    params.set(name, tf.variable(tf.tensor(w, shape), true, name));
  }
  return { cfg, params };
}

/** Reads the variables back as arrays. */
export function tfLlamaWeights(model: TfLlama): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of model.params) out.set(name, v.dataSync() as Float32Array);
  return out;
}

/** cos/sin tables [T, headDim] for positions 0..T-1 (HF: frequencies repeated for both halves). */
export function ropeTables(tf: Tf, cfg: LlamaConfig, seqLen: number): { cos: Tensor; sin: Tensor } {
  const hd = cfg.hidden_size / cfg.num_attention_heads;
  const half = hd / 2;
  const cos = new Float32Array(seqLen * hd), sin = new Float32Array(seqLen * hd);
  for (let t = 0; t < seqLen; t++) {
    for (let i = 0; i < half; i++) {
      const invFreq = 1 / Math.pow(cfg.rope_theta, (2 * i) / hd);
      const a = t * invFreq;
      cos[t * hd + i] = cos[t * hd + i + half] = Math.cos(a);
      sin[t * hd + i] = sin[t * hd + i + half] = Math.sin(a);
    }
  }
  return { cos: tf.tensor(cos, [seqLen, hd]), sin: tf.tensor(sin, [seqLen, hd]) };
}

function rmsNorm(tf: Tf, x: Tensor, w: Tensor, eps: number): Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

/** Swaps the last two axes. */
function swapLast(tf: Tf, x: Tensor): Tensor {
  const r = x.rank;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(x, perm);
}

/**
 * Matrix product a·b (2-D or batched) whose forward and backward passes use only untransposed
 * products of explicitly transposed operands: TF.js's wasm kernels are about ten times slower
 * when asked to transpose an operand themselves.
 */
export function mm(tf: Tf, a: Tensor, b: Tensor): Tensor {
  const f = tf.customGrad(
    ((x: Tensor, y: Tensor, save: tfNs.GradSaveFunc) => {
      save([x, y]);
      return {
        value: tf.matMul(x as Tensor, y as Tensor),
        gradFunc: (dy: Tensor, saved: Tensor[]) => {
          const [sx, sy] = saved as Tensor[];
          return [
            tf.matMul(dy as Tensor, swapLast(tf, sy)),
            tf.matMul(swapLast(tf, sx), dy as Tensor),
          ];
        },
      };
    }) as never,
  );
  return f(a, b) as Tensor;
}

/** x [B, T, d_in] times Wᵀ for W [d_out, d_in] → [B, T, d_out]. */
function linear(tf: Tf, x: Tensor, w: Tensor): Tensor {
  const [b, t, din] = x.shape;
  const y = mm(tf, tf.reshape(x, [b * t, din]), tf.transpose(w));
  return tf.reshape(y, [b, t, w.shape[0]]);
}

/** x [B, H, T, hd]: x·cos + rotate_half(x)·sin. */
function applyRope(tf: Tf, x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const hd = x.shape[3]!;
  const [x1, x2] = tf.split(x, [hd / 2, hd / 2], 3);
  const rotated = tf.concat([tf.neg(x2), x1], 3);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}

/**
 * Embedding lookup E[ids] whose gradient is a one-hot matrix product (the wasm backend has no
 * `UnsortedSegmentSum` kernel, which the gradient of `tf.gather` needs).
 */
function embed(tf: Tf, table: Tensor, flatIds: Tensor): Tensor {
  const vocab = table.shape[0];
  const f = tf.customGrad(
    ((e: Tensor, i: Tensor, save: tfNs.GradSaveFunc) => {
      save([i]);
      return {
        value: tf.gather(e, i),
        gradFunc: (dy: Tensor, saved: Tensor[]) => {
          const oneHot = tf.oneHot(saved[0] as tfNs.Tensor1D, vocab);
          return [tf.matMul(tf.transpose(oneHot), dy as Tensor), tf.zerosLike(saved[0])];
        },
      };
    }) as never,
  );
  return f(table, flatIds) as Tensor;
}

/** Context for a forward pass of fixed sequence length (tables built once). */
export interface ForwardTables {
  cos: Tensor;
  sin: Tensor;
  /** Additive causal mask [T, T]: 0 on and below the diagonal, -1e9 above. */
  causal: Tensor;
}

/** Builds the tables a forward pass over sequences of length `seqLen` needs. */
export function forwardTables(tf: Tf, cfg: LlamaConfig, seqLen: number): ForwardTables {
  const { cos, sin } = ropeTables(tf, cfg, seqLen);
  const m = new Float32Array(seqLen * seqLen);
  for (let i = 0; i < seqLen; i++) for (let j = i + 1; j < seqLen; j++) m[i * seqLen + j] = -1e9;
  return { cos, sin, causal: tf.tensor(m, [seqLen, seqLen]) };
}

/**
 * Forward pass: ids [B, T] (int32) → final hidden states [B, T, d] (after the last RMSNorm).
 */
export function llamaHidden(tf: Tf, model: TfLlama, ids: Tensor, tables: ForwardTables): Tensor {
  const { cfg, params: p } = model;
  const [b, t] = ids.shape as [number, number];
  const d = cfg.hidden_size, h = cfg.num_attention_heads, kvh = cfg.num_key_value_heads;
  const hd = d / h, groups = h / kvh;
  const scale = 1 / Math.sqrt(hd);
  const P = (n: string) => p.get(n)!;
  let x = tf.reshape(embed(tf, P("model.embed_tokens.weight"), tf.reshape(ids, [-1])), [b, t, d]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const pre = `model.layers.${i}`;
    const hn = rmsNorm(tf, x, P(`${pre}.input_layernorm.weight`), cfg.rms_norm_eps);
    const heads = (y: Tensor, n: number) =>
      tf.transpose(tf.reshape(y, [b, t, n, hd]), [0, 2, 1, 3]);
    let q = heads(linear(tf, hn, P(`${pre}.self_attn.q_proj.weight`)), h);
    let k = heads(linear(tf, hn, P(`${pre}.self_attn.k_proj.weight`)), kvh);
    let v = heads(linear(tf, hn, P(`${pre}.self_attn.v_proj.weight`)), kvh);
    q = applyRope(tf, q, tables.cos, tables.sin);
    k = applyRope(tf, k, tables.cos, tables.sin);
    if (groups > 1) {
      // Repeat each kv head `groups` times (split + concat: both have wasm gradients).
      const rep = (y: Tensor) =>
        tf.concat(tf.split(y, kvh, 1).flatMap((head) => Array(groups).fill(head)), 1);
      k = rep(k);
      v = rep(v);
    }
    const scores = tf.add(tf.mul(mm(tf, q, swapLast(tf, k)), scale), tables.causal);
    const att = mm(tf, tf.softmax(scores, -1), v); // [b, h, t, hd]
    const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [b, t, d]);
    x = tf.add(x, linear(tf, merged, P(`${pre}.self_attn.o_proj.weight`)));
    const hm = rmsNorm(tf, x, P(`${pre}.post_attention_layernorm.weight`), cfg.rms_norm_eps);
    const gate = linear(tf, hm, P(`${pre}.mlp.gate_proj.weight`));
    const up = linear(tf, hm, P(`${pre}.mlp.up_proj.weight`));
    const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
    x = tf.add(x, linear(tf, act, P(`${pre}.mlp.down_proj.weight`)));
  }
  return rmsNorm(tf, x, P("model.norm.weight"), cfg.rms_norm_eps);
}

/** Hidden states [B, T, d] → logits [B·T, V] through lm_head (or the tied embedding). */
export function llamaLogits(tf: Tf, model: TfLlama, hidden: Tensor): Tensor {
  const head = model.cfg.tie_word_embeddings
    ? model.params.get("model.embed_tokens.weight")!
    : model.params.get("lm_head.weight")!;
  const [b, t, d] = hidden.shape as [number, number, number];
  return mm(tf, tf.reshape(hidden, [b * t, d]), tf.transpose(head));
}

/**
 * Mean next-token cross-entropy of ids [B, T+1]: inputs are ids[:, :T], targets ids[:, 1:].
 * Returns a scalar tensor.
 */
export function llamaLoss(
  tf: Tf,
  model: TfLlama,
  inputs: Tensor,
  targets: Tensor,
  tables: ForwardTables,
): Tensor {
  const logits = llamaLogits(tf, model, llamaHidden(tf, model, inputs, tables));
  const labels = tf.oneHot(tf.reshape(targets, [-1]), model.cfg.vocab_size);
  return tf.losses.softmaxCrossEntropy(labels, logits);
}
