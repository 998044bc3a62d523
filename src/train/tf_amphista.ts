/**
 * Amphista drafting heads in TensorFlow.js, as a {@linkcode TfDraftModule} for the shared heads
 * trainer (`heads_trainer.ts`: same distillation data, loss `Σ_k 0.8^k·CE`, checkpoints and
 * accuracy as Medusa). The adaptation layers run over whole `[B, S, d]` sequences with the same
 * banded causal mask (width `window`) the drafter's recompute window reproduces at inference, so
 * training and decoding see identical functions; the sampled token of row i is `tokens[i + 1]`.
 *
 * Performance (TF.js wasm): products go through `mm` with explicit transposes; the frozen
 * embedding is a constant (its `gather` needs no gradient); the frozen LM head uses
 * `frozenProjection` (no `[V, d]` weight gradient).
 *
 * @module
 */

import type * as tfNs from "@tensorflow/tfjs";
import {
  adapterLayerCount,
  adapterPrefix,
  type AmphistaConfig,
  amphistaParameterShapes,
  bandedCausalMask,
  encoderPrefix,
  FUSE_WEIGHT,
  fusionLayerIndex,
  POS_EMBED,
} from "../draft/amphista.ts";
import { resBlockBiasName, resBlockWeightName } from "../draft/medusa.ts";
import { frozenProjection, type TfDraftModule } from "./tf_heads.ts";
import { mm } from "./tf_llama.ts";

type Tf = typeof tfNs;
type Tensor = tfNs.Tensor;

/** `x [..., in]` times `Wᵀ` for `W [out, in]`. */
function linear(tf: Tf, x: Tensor, w: Tensor): Tensor {
  const shape = x.shape;
  const inn = shape[shape.length - 1];
  const y = mm(tf, tf.reshape(x, [-1, inn]), tf.transpose(w));
  return tf.reshape(y, [...shape.slice(0, -1), w.shape[0]]);
}

function rmsNorm(tf: Tf, x: Tensor, w: Tensor, eps: number): Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

/**
 * One pre-norm transformer layer over `x [B, T, d]` with an optional additive `[T, T]` mask.
 *
 * @param tf TF.js.
 * @param cfg architecture (heads, eps).
 * @param p parameter tensors.
 * @param prefix layer name prefix.
 * @param x input `[B, T, d]`.
 * @param mask additive mask `[T, T]` (none: bidirectional).
 * @returns output `[B, T, d]`.
 */
export function tfAmphistaLayer(
  tf: Tf,
  cfg: AmphistaConfig,
  p: Map<string, Tensor>,
  prefix: string,
  x: Tensor,
  mask?: Tensor,
): Tensor {
  const [B, T, d] = x.shape as [number, number, number];
  const H = cfg.attention_heads, hd = d / H;
  const P = (n: string) => p.get(`${prefix}.${n}`)!;
  const a = rmsNorm(tf, x, P("input_layernorm.weight"), cfg.rms_norm_eps);
  const heads = (y: Tensor) => tf.transpose(tf.reshape(y, [B, T, H, hd]), [0, 2, 1, 3]);
  const q = heads(linear(tf, a, P("self_attn.q_proj.weight")));
  const k = heads(linear(tf, a, P("self_attn.k_proj.weight")));
  const v = heads(linear(tf, a, P("self_attn.v_proj.weight")));
  let scores = tf.mul(mm(tf, q, tf.transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(hd));
  if (mask) scores = tf.add(scores, mask);
  const att = mm(tf, tf.softmax(scores, -1), v);
  const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [B, T, d]);
  const x2 = tf.add(x, linear(tf, merged, P("self_attn.o_proj.weight")));
  const m = rmsNorm(tf, x2, P("post_attention_layernorm.weight"), cfg.rms_norm_eps);
  const gate = linear(tf, m, P("mlp.gate_proj.weight"));
  const up = linear(tf, m, P("mlp.up_proj.weight"));
  const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up);
  return tf.add(x2, linear(tf, act, P("mlp.down_proj.weight")));
}

/**
 * Amphista as a {@linkcode TfDraftModule}.
 *
 * @param tf the TF.js namespace.
 * @param cfg the architecture.
 * @param lmHead the target's `[V, d]` LM head (the tied embedding table).
 * @param embed the target's embedding table when untied (default: `lmHead`).
 * @returns the module.
 */
export function tfAmphistaModule(
  tf: Tf,
  cfg: AmphistaConfig,
  lmHead: Float32Array,
  embed?: Float32Array,
): TfDraftModule {
  const d = cfg.hidden_size, V = cfg.vocab_size, K = cfg.num_heads;
  if (lmHead.length !== V * d) {
    throw new Error(`tfAmphistaModule: the target's LM head must be [${V}, ${d}]`);
  }
  const E = tf.tensor2d(lmHead, [V, d]);
  const ET = tf.transpose(E);
  const table = embed ? tf.tensor2d(embed, [V, d]) : E;
  const project = frozenProjection(tf, E, ET);
  const A = adapterLayerCount(cfg);
  const masks = new Map<number, Tensor>();
  const maskFor = (S: number) => {
    let m = masks.get(S);
    if (!m) masks.set(S, m = tf.keep(tf.tensor2d(bandedCausalMask(S, cfg.window), [S, S])));
    return m;
  };
  const fuse = (x: Tensor, nextIds: Tensor, p: Map<string, Tensor>) => {
    const shape = x.shape;
    const e = tf.reshape(tf.gather(table, tf.reshape(nextIds, [-1])), [...shape.slice(0, -1), d]);
    return linear(tf, tf.concat([x, e], -1), p.get(FUSE_WEIGHT)!);
  };
  return {
    numHeads: K,
    shapes: amphistaParameterShapes(cfg),
    headLogits(p, batch, rows) {
      const [B, S] = batch.hidden.shape as [number, number, number];
      const n = rows.to - rows.from;
      if (rows.from < 0 || rows.to > S || n <= 0) {
        throw new RangeError(`tfAmphistaModule: rows [${rows.from}, ${rows.to}) outside 0..${S}`);
      }
      // Token produced from row i: tokens[i + 1] (the last row has none; its value is never read
      // by earlier rows because attention is causal).
      const next = tf.concat([
        tf.slice(batch.tokens, [0, 1], [B, S - 1]),
        tf.slice(batch.tokens, [0, S - 1], [B, 1]),
      ], 1);
      let v: Tensor;
      if (A === 0) {
        v = tf.slice(batch.hidden, [0, rows.from, 0], [B, n, d]);
        if (cfg.token_fusion) v = fuse(v, tf.slice(next, [0, rows.from], [B, n]), p);
      } else {
        let x = batch.hidden;
        const mask = maskFor(S);
        for (let i = 0; i < A; i++) {
          if (cfg.token_fusion && i === fusionLayerIndex(cfg)) x = fuse(x, next, p);
          x = tfAmphistaLayer(tf, cfg, p, adapterPrefix(i), x, mask);
        }
        v = tf.slice(x, [0, rows.from, 0], [B, n, d]);
      }
      const v2 = tf.reshape(v, [B * n, d]);
      const zs: Tensor[] = [];
      for (let k = 0; k < K; k++) {
        let z = v2;
        for (let l = 0; l < cfg.num_layers; l++) {
          const W = p.get(resBlockWeightName(k, l))!;
          const b = p.get(resBlockBiasName(k, l))!;
          const pre = tf.add(mm(tf, z, tf.transpose(W)), b);
          z = tf.add(z, tf.mul(pre, tf.sigmoid(pre)));
        }
        zs.push(z);
      }
      if (cfg.encoder_layers === 0) return zs.map((z) => project(z));
      let Z = tf.add(tf.stack(zs, 1), p.get(POS_EMBED)!); // [B·n, K, d]
      for (let i = 0; i < cfg.encoder_layers; i++) {
        Z = tfAmphistaLayer(tf, cfg, p, encoderPrefix(i), Z);
      }
      const logits = project(tf.reshape(Z, [B * n * K, d])); // row r·K + k
      const perHead = tf.reshape(logits, [B * n, K, V]);
      return tf.unstack(perHead, 1);
    },
    dispose() {
      E.dispose();
      ET.dispose();
      if (table !== E) table.dispose();
      for (const m of masks.values()) m.dispose();
      masks.clear();
    },
  };
}
