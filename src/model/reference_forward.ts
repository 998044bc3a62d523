/**
 * An independent, plain-TypeScript LLaMA forward pass (full sequence, causal, batch 1), written
 * to be read top to bottom and computed in float64. It shares no code with the ONNX graph
 * builder; tests use it as the ground truth for the graphs.
 *
 * @module
 */
import { headDim, type LlamaConfig } from "./config.ts";
import type { LlamaWeights } from "./weights.ts";

/** Any row-major float matrix. */
export type Floats = Float32Array | Float64Array;

/** RMSNorm of each row: `w · x / sqrt(mean(x²) + eps)`. */
export function rmsNorm(x: Floats, rows: number, d: number, w: Floats, eps: number): Float64Array {
  const out = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[r * d + j] ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) out[r * d + j] = x[r * d + j] * inv * w[j];
  }
  return out;
}

/** `y = x Wᵀ` for x `[rows, inDim]` and W `[outDim, inDim]` (Hugging Face layout). */
export function linear(
  x: Floats,
  rows: number,
  w: Floats,
  outDim: number,
  inDim: number,
): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * w[o * inDim + i];
      y[r * outDim + o] = s;
    }
  }
  return y;
}

/**
 * Rotary embedding in place on x `[S, heads, hd]` (HF `rotate_half` convention): for
 * i < hd/2, angle = pos·θ^(-2i/hd), (x_i, x_{i+hd/2}) ↦ (x_i cos − x_{i+hd/2} sin,
 * x_{i+hd/2} cos + x_i sin).
 */
export function applyRope(
  x: Float64Array,
  positions: ArrayLike<number>,
  heads: number,
  hd: number,
  theta: number,
): void {
  const half = hd / 2;
  for (let s = 0; s < positions.length; s++) {
    for (let i = 0; i < half; i++) {
      const angle = positions[s] * theta ** (-(2 * i) / hd);
      const c = Math.cos(angle), sn = Math.sin(angle);
      for (let h = 0; h < heads; h++) {
        const base = (s * heads + h) * hd;
        const a = x[base + i], b = x[base + i + half];
        x[base + i] = a * c - b * sn;
        x[base + i + half] = b * c + a * sn;
      }
    }
  }
}

/** Output of {@link referenceForward}. */
export interface ReferenceOutput {
  /** `[S, V]` logits. */
  logits: Float32Array;
  /** `[S, d]` hidden state after the final RMSNorm (the input of `lm_head`). */
  hidden: Float32Array;
  /** `[S, d]` residual stream entering each block (index = layer), then after the last one. */
  residuals: Float64Array[];
}

/**
 * Runs the model on `ids` (positions 0..S-1, causal attention) and returns logits and the
 * final-normed hidden state.
 */
export function referenceForward(
  cfg: LlamaConfig,
  weights: LlamaWeights,
  ids: ArrayLike<number>,
): ReferenceOutput {
  const W = (name: string): Float32Array => {
    const w = weights.get(name);
    if (!w) throw new Error(`referenceForward: missing tensor "${name}"`);
    return w;
  };
  const S = ids.length, d = cfg.hidden_size, hd = headDim(cfg), f = cfg.intermediate_size;
  const H = cfg.num_attention_heads, KV = cfg.num_key_value_heads, groups = H / KV;
  const positions = Array.from({ length: S }, (_, i) => i);

  // token embedding
  const embed = W("model.embed_tokens.weight");
  let x = new Float64Array(S * d);
  for (let s = 0; s < S; s++) {
    for (let j = 0; j < d; j++) x[s * d + j] = embed[ids[s] * d + j];
  }
  const residuals: Float64Array[] = [];

  for (let layer = 0; layer < cfg.num_hidden_layers; layer++) {
    residuals.push(x.slice());
    const p = `model.layers.${layer}`;

    // --- self-attention ---
    const xn = rmsNorm(x, S, d, W(`${p}.input_layernorm.weight`), cfg.rms_norm_eps);
    const q = linear(xn, S, W(`${p}.self_attn.q_proj.weight`), H * hd, d); // [S, H, hd]
    const k = linear(xn, S, W(`${p}.self_attn.k_proj.weight`), KV * hd, d); // [S, KV, hd]
    const v = linear(xn, S, W(`${p}.self_attn.v_proj.weight`), KV * hd, d);
    applyRope(q, positions, H, hd, cfg.rope_theta);
    applyRope(k, positions, KV, hd, cfg.rope_theta);
    const attn = new Float64Array(S * H * hd); // [S, H, hd]
    const scores = new Float64Array(S);
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / groups); // GQA: query head h reads kv head h / groups
      for (let i = 0; i < S; i++) {
        let max = -Infinity;
        for (let j = 0; j <= i; j++) { // causal: attend to positions ≤ i
          let dot = 0;
          for (let t = 0; t < hd; t++) dot += q[(i * H + h) * hd + t] * k[(j * KV + kvh) * hd + t];
          scores[j] = dot / Math.sqrt(hd);
          if (scores[j] > max) max = scores[j];
        }
        let z = 0;
        for (let j = 0; j <= i; j++) z += scores[j] = Math.exp(scores[j] - max);
        for (let j = 0; j <= i; j++) {
          const pj = scores[j] / z;
          for (let t = 0; t < hd; t++) {
            attn[(i * H + h) * hd + t] += pj * v[(j * KV + kvh) * hd + t];
          }
        }
      }
    }
    const o = linear(attn, S, W(`${p}.self_attn.o_proj.weight`), d, H * hd);
    for (let i = 0; i < S * d; i++) x[i] += o[i];

    // --- SwiGLU MLP ---
    const hn = rmsNorm(x, S, d, W(`${p}.post_attention_layernorm.weight`), cfg.rms_norm_eps);
    const gate = linear(hn, S, W(`${p}.mlp.gate_proj.weight`), f, d);
    const up = linear(hn, S, W(`${p}.mlp.up_proj.weight`), f, d);
    const act = new Float64Array(S * f);
    for (let i = 0; i < S * f; i++) act[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
    const down = linear(act, S, W(`${p}.mlp.down_proj.weight`), d, f);
    const next = new Float64Array(S * d);
    for (let i = 0; i < S * d; i++) next[i] = x[i] + down[i];
    x = next;
  }
  residuals.push(x.slice());

  // final norm and head
  const hidden = rmsNorm(x, S, d, W("model.norm.weight"), cfg.rms_norm_eps);
  const head = cfg.tie_word_embeddings ? embed : W("lm_head.weight");
  const logits = linear(hidden, S, head, cfg.vocab_size, d);
  return { logits: Float32Array.from(logits), hidden: Float32Array.from(hidden), residuals };
}
