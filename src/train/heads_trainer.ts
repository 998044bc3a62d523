/**
 * The drafting-heads trainer (Medusa-1 style: the target is frozen and only the heads learn),
 * shared by every {@linkcode TfDraftModule} (Medusa now, Amphista later):
 *
 * - data: self-distillation sequences (`distill_data.ts`), batches of whole sequences drawn by a
 *   seeded order that depends only on (seed, step);
 * - loss: `Σ_k w_k · CE(head_k(h_t), x_{t+k+2})` over continuation positions t ≥ P − 1 (the
 *   positions whose next token the target generated), `w_k = decay^k` (default 0.8^k, head 0
 *   weight 1), each CE averaged over the positions where the label exists;
 * - AdamW over Float32Arrays (the trainer owns the whole state), warm-up + cosine learning rate,
 *   global-norm clipping; atomic checkpoints every `checkpointEvery` steps that resume
 *   bit-identically (TF.js wasm is single-threaded and deterministic);
 * - held-out metrics: validation loss during training and, at the end, per-head top-1/top-5 and
 *   per-rank hit rates ({@linkcode evaluateHeadAccuracy}), which the tree builder reads.
 *
 * @module
 */

import type * as tfNs from "@tensorflow/tfjs";
import { readSafetensors, writeSafetensors } from "../model/safetensors.ts";
import { mulberry32 } from "../linalg/random.ts";
import type { HeadAccuracy } from "../draft/folder.ts";
import { adamWStep, cosineLr, globalNorm, initAdamW } from "./adamw.ts";
import type { DistillSet } from "./distill_data.ts";
import type { TfDraftModule } from "./tf_heads.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";

type Tf = typeof tfNs;
type Tensor = tfNs.Tensor;

/** Everything that determines a heads training run (recorded in `training.json`). */
export interface HeadsTrainSettings {
  /** Optimizer steps. */
  steps: number;
  /** Sequences per step. */
  batch: number;
  /** Peak learning rate. */
  lr: number;
  /** Final learning rate of the cosine schedule. */
  minLr: number;
  /** Linear warm-up steps. */
  warmup: number;
  /** Decoupled weight decay of the block weights (biases and LM-head copies are not decayed). */
  weightDecay: number;
  /** Adam β1. */
  beta1: number;
  /** Adam β2. */
  beta2: number;
  /** Adam ε. */
  eps: number;
  /** Global gradient-norm clip. */
  clip: number;
  /** Seed of the batch order. */
  seed: number;
  /** Per-head loss weight decay: head k gets `lossDecay^k` (Medusa: 0.8). */
  lossDecay: number;
  /** Evaluate the held-out loss every this many steps (and at the end). */
  evalEvery: number;
  /** Held-out sequences used for the validation loss. */
  evalSequences: number;
  /** Checkpoint every this many steps (and at the end). */
  checkpointEvery: number;
}

/** Defaults for the embedded model's heads (a few minutes on 2 cores). */
export const DEFAULT_HEADS_SETTINGS: HeadsTrainSettings = {
  steps: 400,
  batch: 4,
  lr: 2e-3,
  minLr: 1e-4,
  warmup: 20,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  clip: 1.0,
  seed: 0,
  lossDecay: 0.8,
  evalEvery: 50,
  evalSequences: 16,
  checkpointEvery: 25,
};

/** One point of the heads' loss curve. */
export interface HeadsCurvePoint {
  /** Optimizer steps done. */
  step: number;
  /** Weighted training loss of this step. */
  loss?: number;
  /** Training CE per head. */
  headLoss?: number[];
  /** Weighted held-out loss. */
  valLoss?: number;
  /** Held-out CE per head. */
  valHeadLoss?: number[];
  /** Learning rate used. */
  lr?: number;
  /** Gradient norm before clipping. */
  gradNorm?: number;
  /** Seconds since the run started (resumes included). */
  seconds: number;
}

/** Loss weights `decay^k`, k = 0..K−1. */
export function headLossWeights(numHeads: number, decay: number): number[] {
  return Array.from({ length: numHeads }, (_, k) => decay ** k);
}

/** Sequence indices of one batch; depends only on (seed, step). */
export function sampleSequenceBatch(
  o: { seed: number; step: number; batch: number; count: number },
): number[] {
  const rnd = mulberry32((o.seed * 1_000_003 + o.step * 7919 + 17) >>> 0);
  return Array.from({ length: o.batch }, () => Math.floor(rnd() * o.count));
}

/** Positions whose heads are trained: `[P − 1, S − 2)` (head 0's label t + 2 must exist). */
export function trainingRows(set: { promptLength: number; seqLength: number }): {
  from: number;
  to: number;
} {
  const from = Math.max(0, set.promptLength - 1), to = set.seqLength - 2;
  if (to <= from) {
    throw new Error(
      `heads trainer: sequences of ${set.seqLength} tokens with ${set.promptLength} prompt tokens leave no position to train`,
    );
  }
  return { from, to };
}

/** Labels and masks of one batch: per head, `[B·n]` label ids and 0/1 validity. */
function batchLabels(
  set: DistillSet,
  seqs: readonly number[],
  rows: { from: number; to: number },
  numHeads: number,
): { labels: Int32Array[]; masks: Float32Array[]; counts: number[] } {
  const S = set.seqLength, n = rows.to - rows.from;
  const labels: Int32Array[] = [], masks: Float32Array[] = [], counts: number[] = [];
  for (let k = 0; k < numHeads; k++) {
    const lab = new Int32Array(seqs.length * n), mask = new Float32Array(seqs.length * n);
    let c = 0;
    seqs.forEach((s, b) => {
      for (let i = 0; i < n; i++) {
        const target = rows.from + i + 2 + k;
        if (target < S) {
          lab[b * n + i] = set.tokens[s * S + target];
          mask[b * n + i] = 1;
          c++;
        }
      }
    });
    labels.push(lab);
    masks.push(mask);
    counts.push(c);
  }
  return { labels, masks, counts };
}

function batchTensors(tf: Tf, set: DistillSet, seqs: readonly number[]) {
  const S = set.seqLength, d = set.hiddenSize;
  const hidden = new Float32Array(seqs.length * S * d);
  const tokens = new Int32Array(seqs.length * S);
  seqs.forEach((s, b) => {
    hidden.set(set.hidden.subarray(s * S * d, (s + 1) * S * d), b * S * d);
    tokens.set(set.tokens.subarray(s * S, (s + 1) * S), b * S);
  });
  return {
    hidden: tf.tensor3d(hidden, [seqs.length, S, d]),
    tokens: tf.tensor2d(tokens, [seqs.length, S], "int32"),
  };
}

/**
 * Weighted loss of one batch (a scalar tensor) and the per-head CE tensors.
 *
 * @param tf TF.js.
 * @param module the drafter.
 * @param params parameter tensors by name.
 * @param set the data set.
 * @param seqs sequence indices.
 * @param weights per-head loss weights.
 */
function batchLoss(
  tf: Tf,
  module: TfDraftModule,
  params: Map<string, Tensor>,
  set: DistillSet,
  seqs: readonly number[],
  weights: readonly number[],
): { loss: Tensor; heads: Tensor[] } {
  const rows = trainingRows(set);
  const batch = batchTensors(tf, set, seqs);
  const logits = module.headLogits(params, batch, rows);
  const { labels, masks, counts } = batchLabels(set, seqs, rows, module.numHeads);
  const heads: Tensor[] = [];
  let loss: Tensor = tf.scalar(0);
  for (let k = 0; k < module.numHeads; k++) {
    const V = logits[k].shape[1]!;
    const logp = tf.logSoftmax(logits[k]);
    const oneHot = tf.oneHot(tf.tensor1d(labels[k], "int32"), V);
    const nll = tf.neg(tf.sum(tf.mul(logp, oneHot), -1));
    const ce = tf.div(tf.sum(tf.mul(nll, tf.tensor1d(masks[k]))), Math.max(1, counts[k]));
    heads.push(ce);
    loss = tf.add(loss, tf.mul(ce, weights[k]));
  }
  return { loss, heads };
}

/** Options of {@linkcode trainHeads}. */
export interface TrainHeadsOptions {
  /** TF.js namespace (wasm backend initialised). */
  tf: Tf;
  /** The drafter architecture. */
  module: TfDraftModule;
  /** Initial weights (ignored when a checkpoint is resumed). */
  init: Map<string, Float32Array>;
  /** Optimizer, schedule and loss settings. */
  settings: HeadsTrainSettings;
  /** Training sequences. */
  train: DistillSet;
  /** Held-out sequences (validation loss). */
  heldout: DistillSet;
  /**
   * Folder of the checkpoint (resumed when present and made with the same settings and
   * `identity`); no checkpoints when omitted.
   */
  checkpointDir?: string;
  /** Anything else that defines the run (architecture, data key); must match to resume. */
  identity?: string;
  /** Log lines. */
  log?: (message: string) => void;
  /** Stop after this many steps in this process (the run resumes later); for tests. */
  stopAfter?: number;
}

/** Result of {@linkcode trainHeads}. */
export interface TrainHeadsResult {
  /** Trained weights. */
  weights: Map<string, Float32Array>;
  /** Loss curve (resumes included). */
  curve: HeadsCurvePoint[];
  /** Optimizer steps done. */
  steps: number;
  /** Whether the run reached `settings.steps`. */
  finished: boolean;
  /** Training seconds (resumes included). */
  seconds: number;
}

/**
 * Held-out loss (weighted and per head) over the first `count` sequences of a set.
 *
 * @param tf TF.js.
 * @param module the drafter.
 * @param weights parameter values.
 * @param set held-out sequences.
 * @param o sequences, loss decay, batch size.
 */
export function evaluateHeadsLoss(
  tf: Tf,
  module: TfDraftModule,
  weights: Map<string, Float32Array>,
  set: DistillSet,
  o: { count: number; lossDecay: number; batch: number },
): { loss: number; heads: number[] } {
  const w = headLossWeights(module.numHeads, o.lossDecay);
  const n = Math.min(o.count, set.count);
  const sums = new Array<number>(module.numHeads).fill(0);
  let batches = 0;
  for (let s = 0; s < n; s += o.batch) {
    const seqs = Array.from({ length: Math.min(o.batch, n - s) }, (_, i) => s + i);
    const heads = tf.tidy(() => {
      const params = new Map(module.shapes.map(([name, shape]) => [
        name,
        tf.tensor(weights.get(name)!, shape),
      ]));
      return batchLoss(tf, module, params, set, seqs, w).heads.map((h) => h.dataSync()[0]);
    });
    heads.forEach((h, k) => sums[k] += h * seqs.length);
    batches += seqs.length;
  }
  const heads = sums.map((s) => s / Math.max(1, batches));
  return { loss: heads.reduce((a, h, k) => a + w[k] * h, 0), heads };
}

/**
 * Trains (or resumes training of) drafting heads.
 *
 * @param opts module, data, settings, checkpoint folder.
 * @returns the trained weights and the curve.
 */
export async function trainHeads(opts: TrainHeadsOptions): Promise<TrainHeadsResult> {
  const { tf, module, settings: s } = opts;
  const log = opts.log ?? (() => {});
  const names = module.shapes.map(([n]) => n);
  const shapeOf = new Map(module.shapes);
  const lossWeights = headLossWeights(module.numHeads, s.lossDecay);
  const key = JSON.stringify({ settings: s, identity: opts.identity ?? "" });
  if (opts.train.count === 0) throw new Error("trainHeads: no training sequences");

  let params = new Map<string, Float32Array>();
  let state = initAdamW(params);
  let curve: HeadsCurvePoint[] = [];
  let elapsedBefore = 0;
  const ckptPath = opts.checkpointDir ? `${opts.checkpointDir}/heads_checkpoint.safetensors` : "";
  const curvePath = opts.checkpointDir ? `${opts.checkpointDir}/heads_curve.json` : "";
  if (opts.checkpointDir) {
    await Deno.mkdir(opts.checkpointDir, { recursive: true });
    try {
      const t = readSafetensors(await Deno.readFile(ckptPath), ckptPath);
      if (t.metadata.key !== key) {
        throw new Error(
          `${ckptPath}: checkpoint was made with other settings, architecture or data; delete ${opts.checkpointDir} to start over`,
        );
      }
      params = new Map(names.map((n) => [n, t.get(`param/${n}`)!.data]));
      state = {
        step: Number(t.metadata.step),
        m: new Map(names.map((n) => [n, t.get(`adam_m/${n}`)!.data])),
        v: new Map(names.map((n) => [n, t.get(`adam_v/${n}`)!.data])),
      };
      curve = JSON.parse(await Deno.readTextFile(curvePath));
      elapsedBefore = curve.at(-1)?.seconds ?? 0;
      log(`resumed heads training from step ${state.step}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  if (state.step === 0) {
    params = new Map(names.map((n) => {
      const w = opts.init.get(n);
      if (!w) throw new Error(`trainHeads: initial weights lack "${n}"`);
      return [n, Float32Array.from(w)] as [string, Float32Array];
    }));
    state = initAdamW(params);
  }
  const save = async () => {
    if (!opts.checkpointDir) return;
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const n of names) {
      const shape = shapeOf.get(n)!;
      tensors.set(`param/${n}`, { shape, data: params.get(n)! });
      tensors.set(`adam_m/${n}`, { shape, data: state.m.get(n)! });
      tensors.set(`adam_v/${n}`, { shape, data: state.v.get(n)! });
    }
    await writeFileAtomic(ckptPath, writeSafetensors(tensors, { step: String(state.step), key }));
    await writeFileAtomic(curvePath, JSON.stringify(curve));
  };

  const t0 = performance.now();
  const seconds = () => elapsedBefore + (performance.now() - t0) / 1000;
  const decay = (n: string) => n.endsWith(".linear.weight");
  const evalNow = () => {
    const v = evaluateHeadsLoss(tf, module, params, opts.heldout, {
      count: s.evalSequences,
      lossDecay: s.lossDecay,
      batch: s.batch,
    });
    curve.push({ step: state.step, valLoss: v.loss, valHeadLoss: v.heads, seconds: seconds() });
    log(
      `heads step ${state.step}: held-out loss ${v.loss.toFixed(4)} [${
        v.heads.map((h) => h.toFixed(3)).join(", ")
      }]`,
    );
  };
  if (state.step === 0 && opts.heldout.count > 0) evalNow();
  let done = 0;
  while (state.step < s.steps) {
    const seqs = sampleSequenceBatch({
      seed: s.seed,
      step: state.step,
      batch: s.batch,
      count: opts.train.count,
    });
    // Only tensors leave the tidy: a tidy walks every key of a returned object, which for large
    // typed arrays costs far more than the step itself.
    let heads: number[] = [];
    const outs = tf.tidy(() => {
      const xs = names.map((n) => tf.tensor(params.get(n)!, shapeOf.get(n)!));
      const f = (...ps: Tensor[]) => {
        const pm = new Map(names.map((n, i) => [n, ps[i]]));
        const r = batchLoss(tf, module, pm, opts.train, seqs, lossWeights);
        heads = r.heads.map((h) => h.dataSync()[0]);
        return r.loss as tfNs.Scalar;
      };
      const { value, grads } = tf.valueAndGrads(f)(xs);
      return [value, ...grads];
    });
    const loss = outs[0].dataSync()[0];
    const grads = outs.slice(1).map((g) => Float32Array.from(g.dataSync() as Float32Array));
    tf.dispose(outs);
    if (!Number.isFinite(loss)) {
      throw new Error(`heads training loss became ${loss} at step ${state.step}`);
    }
    const gradMap = new Map(names.map((n, i) => [n, grads[i]]));
    const norm = globalNorm(gradMap);
    if (norm > s.clip) {
      const k = s.clip / norm;
      for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= k;
    }
    const lr = cosineLr(state.step, {
      peak: s.lr,
      floor: s.minLr,
      warmup: s.warmup,
      total: s.steps,
    });
    adamWStep(params, gradMap, state, lr, { ...s, decay });
    curve.push({ step: state.step, loss, headLoss: heads, lr, gradNorm: norm, seconds: seconds() });
    if (state.step % 10 === 0) {
      log(
        `heads step ${state.step}/${s.steps}: loss ${loss.toFixed(4)} lr ${lr.toExponential(2)} ` +
          `|g| ${norm.toFixed(2)} ${seconds().toFixed(0)} s`,
      );
    }
    if ((state.step % s.evalEvery === 0 || state.step === s.steps) && opts.heldout.count > 0) {
      evalNow();
    }
    if (state.step % s.checkpointEvery === 0 || state.step === s.steps) await save();
    done++;
    if (opts.stopAfter !== undefined && done >= opts.stopAfter) {
      await save();
      break;
    }
  }
  return {
    weights: params,
    curve,
    steps: state.step,
    finished: state.step >= s.steps,
    seconds: seconds(),
  };
}

/**
 * Rank of `label` in a logits row under the candidate order of the decoder (descending logit,
 * lower id first on ties).
 */
function rankOf(logits: Float32Array, offset: number, V: number, label: number): number {
  const y = logits[offset + label];
  let rank = 0;
  for (let v = 0; v < V; v++) {
    const x = logits[offset + v];
    if (x > y || (x === y && v < label)) rank++;
  }
  return rank;
}

/**
 * Per-head accuracy on held-out sequences at the continuation positions: top-1, top-5, cumulative
 * top-k and per-rank hit rates (the tree builder's input; Medusa `heads_accuracy.py`, with the
 * divisor recomputed per head as the positions where the label exists).
 *
 * @param tf TF.js.
 * @param module the drafter.
 * @param weights parameter values.
 * @param set held-out sequences.
 * @param o ranks to measure (default 10), sequences per forward (default 4).
 * @returns the accuracy table.
 */
export function evaluateHeadAccuracy(
  tf: Tf,
  module: TfDraftModule,
  weights: Map<string, Float32Array>,
  set: DistillSet,
  o: { ranks?: number; batch?: number } = {},
): HeadAccuracy {
  const R = o.ranks ?? 10, bs = o.batch ?? 4, K = module.numHeads;
  const rows = trainingRows(set);
  const n = rows.to - rows.from;
  const hits = Array.from({ length: K }, () => new Array<number>(R).fill(0));
  const positions = new Array<number>(K).fill(0);
  for (let s = 0; s < set.count; s += bs) {
    const seqs = Array.from({ length: Math.min(bs, set.count - s) }, (_, i) => s + i);
    const tensors = tf.tidy(() => {
      const params = new Map(module.shapes.map(([name, shape]) => [
        name,
        tf.tensor(weights.get(name)!, shape),
      ]));
      const batch = batchTensors(tf, set, seqs);
      return module.headLogits(params, batch, rows);
    });
    const logits = tensors.map((t) => t.dataSync() as Float32Array);
    tf.dispose(tensors);
    const { labels, masks } = batchLabels(set, seqs, rows, K);
    for (let k = 0; k < K; k++) {
      const V = logits[k].length / (seqs.length * n);
      for (let i = 0; i < seqs.length * n; i++) {
        if (masks[k][i] === 0) continue;
        positions[k]++;
        const r = rankOf(logits[k], i * V, V, labels[k][i]);
        if (r < R) hits[k][r]++;
      }
    }
  }
  const perRank = hits.map((h, k) => h.map((c) => c / Math.max(1, positions[k])));
  const topk = perRank.map((row) => {
    let acc = 0;
    return row.map((v) => (acc += v));
  });
  return {
    numHeads: K,
    ranks: R,
    positions,
    top1: topk.map((row) => row[0]),
    top5: topk.map((row) => row[Math.min(4, R - 1)]),
    topk,
    perRank,
    source:
      "held-out self-distillation sequences (train-split prompts, target greedy continuations)",
    sequences: set.count,
  };
}
