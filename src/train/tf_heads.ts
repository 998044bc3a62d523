/**
 * Drafting heads in TensorFlow.js, for training. A drafter is a {@linkcode TfDraftModule}: named
 * parameter shapes plus a function from a batch of distillation sequences to per-head logits at a
 * range of positions. The heads trainer (`heads_trainer.ts`) owns data, loss, optimizer and
 * checkpoints and knows nothing else about the architecture, so Medusa and Amphista share it: a
 * sequence-level drafter (Amphista's causal adaptation layers) reads the whole `[B, S, d]` batch,
 * a position-wise one (Medusa) only the rows it is asked for.
 *
 * Performance notes (measured on TF.js wasm, see `tf_llama.ts`): products go through `mm` (explicit
 * transposes); the frozen shared LM head is a constant whose custom gradient returns only `dx`, so
 * no `[V, d]` weight gradient is ever computed.
 *
 * @module
 */

import type * as tfNs from "@tensorflow/tfjs";
import {
  type MedusaConfig,
  medusaParameterShapes,
  ownHeadName,
  resBlockBiasName,
  resBlockWeightName,
} from "../draft/medusa.ts";
import { mm } from "./tf_llama.ts";

type Tf = typeof tfNs;
type Tensor = tfNs.Tensor;

/** A batch of distillation sequences as tensors. */
export interface TfDraftBatch {
  /** Target hidden states `[B, S, d]`. */
  hidden: Tensor;
  /** Tokens `[B, S]` (int32); token t produced hidden row t. */
  tokens: Tensor;
}

/** A trainable drafter architecture. */
export interface TfDraftModule {
  /** Number of heads K. */
  readonly numHeads: number;
  /** Trainable parameters, in a fixed order. */
  readonly shapes: Array<[string, number[]]>;
  /**
   * Per-head logits at positions `[from, to)` of every sequence: K tensors of shape
   * `[B·(to − from), V]` (sequence-major), head j predicting token t + 2 + j from position t.
   */
  headLogits(
    params: Map<string, Tensor>,
    batch: TfDraftBatch,
    rows: { from: number; to: number },
  ): Tensor[];
  /** Frees constant tensors the module holds (e.g. the frozen LM head). */
  dispose(): void;
}

/**
 * `x · Eᵀ` for a frozen `E [V, d]`: the gradient flows to x only (`dx = dy · E`).
 *
 * @param tf the TF.js namespace.
 * @param lmHead `E` as a `[V, d]` tensor.
 * @param lmHeadT `Eᵀ` as a `[d, V]` tensor.
 * @returns the projection function.
 */
export function frozenProjection(tf: Tf, lmHead: Tensor, lmHeadT: Tensor): (x: Tensor) => Tensor {
  const f = tf.customGrad(
    ((x: Tensor) => ({
      value: tf.matMul(x, lmHeadT),
      gradFunc: (dy: Tensor) => tf.matMul(dy, lmHead),
    })) as never,
  );
  return (x: Tensor) => f(x) as Tensor;
}

/**
 * Medusa heads as a {@linkcode TfDraftModule}: per head, L blocks `x + SiLU(x Wᵀ + b)` over the
 * rows asked for, then the shared frozen LM head or the head's own projection.
 *
 * @param tf the TF.js namespace.
 * @param cfg the architecture.
 * @param lmHead the target's `[V, d]` LM head (needed for `shared`).
 * @returns the module.
 */
export function tfMedusaModule(tf: Tf, cfg: MedusaConfig, lmHead?: Float32Array): TfDraftModule {
  const d = cfg.hidden_size, V = cfg.vocab_size;
  let E: Tensor | undefined, ET: Tensor | undefined;
  let project: ((x: Tensor) => Tensor) | undefined;
  if (cfg.lm_head === "shared") {
    if (!lmHead || lmHead.length !== V * d) {
      throw new Error(`tfMedusaModule: lm_head "shared" needs the target's LM head [${V}, ${d}]`);
    }
    E = tf.tensor2d(lmHead, [V, d]);
    ET = tf.transpose(E);
    project = frozenProjection(tf, E, ET);
  }
  return {
    numHeads: cfg.num_heads,
    shapes: medusaParameterShapes(cfg),
    headLogits(params, batch, rows) {
      const [B, S] = batch.hidden.shape as [number, number, number];
      const n = rows.to - rows.from;
      if (rows.from < 0 || rows.to > S || n <= 0) {
        throw new RangeError(`tfMedusaModule: rows [${rows.from}, ${rows.to}) outside 0..${S}`);
      }
      const x0 = tf.reshape(tf.slice(batch.hidden, [0, rows.from, 0], [B, n, d]), [B * n, d]);
      const out: Tensor[] = [];
      for (let k = 0; k < cfg.num_heads; k++) {
        let x = x0;
        for (let l = 0; l < cfg.num_layers; l++) {
          const W = params.get(resBlockWeightName(k, l))!;
          const b = params.get(resBlockBiasName(k, l))!;
          const pre = tf.add(mm(tf, x, tf.transpose(W)), b);
          x = tf.add(x, tf.mul(pre, tf.sigmoid(pre)));
        }
        if (project) out.push(project(x));
        else {
          const W = params.get(ownHeadName(k, cfg.num_layers))!;
          out.push(mm(tf, x, tf.transpose(W)));
        }
      }
      return out;
    },
    dispose() {
      E?.dispose();
      ET?.dispose();
    },
  };
}
