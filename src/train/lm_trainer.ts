/**
 * Trains a LLaMA language model from a token stream with TF.js: seeded initialisation, a batch
 * order that depends only on (seed, step), AdamW with warm-up + cosine decay and global-norm
 * clipping, periodic validation, atomic checkpoints that resume exactly, and export in Hugging
 * Face layout (`config.json`, `model.safetensors`) with the loss curve beside it.
 *
 * @module
 */

import { type LlamaConfig, parameterCount } from "../model/config.ts";
import { writeHfModelFolder } from "../model/weights.ts";
import { readSafetensors, writeSafetensors } from "../model/safetensors.ts";
import { gaussian, mulberry32 } from "../linalg/random.ts";
import { adamWStep, cosineLr, globalNorm, initAdamW } from "./adamw.ts";
import { initLlamaWeights, llamaParameterShapes } from "./tf_llama.ts";
import { GradWorkerPool } from "./worker_pool.ts";
import { tfVersion } from "./tf_backend.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";

/** Everything that determines a training run (recorded in `training.json`). */
export interface LmTrainSettings {
  config: LlamaConfig;
  seqLen: number;
  /** Sequences per step (split across workers). */
  batch: number;
  steps: number;
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  clip: number;
  seed: number;
  evalEvery: number;
  /** Validation windows (of seqLen+1 tokens, non-overlapping, from the start of val). */
  evalWindows: number;
  checkpointEvery: number;
  workers: number;
}

/** One point of the loss curve. */
export interface CurvePoint {
  step: number;
  tokens: number;
  trainLoss?: number;
  valLoss?: number;
  lr?: number;
  gradNorm?: number;
  seconds: number;
}

/** Options for {@linkcode trainLm}. */
export interface TrainLmOptions {
  settings: LmTrainSettings;
  trainTokens: Int32Array;
  valTokens: Int32Array;
  /** Folder for the checkpoint (resumed when present and matching). */
  checkpointDir: string;
  /** Folder the Hugging Face model is exported to. */
  outDir: string;
  log?: (msg: string) => void;
  /** Stop after this many steps in this process (the run resumes later); for tests. */
  stopAfter?: number;
}

/** Sequences of `seqLen+1` tokens at seeded random offsets; depends only on (seed, step). */
export function sampleBatch(
  tokens: Int32Array,
  o: { seed: number; step: number; batch: number; seqLen: number },
): Int32Array {
  const rnd = mulberry32((o.seed * 1_000_003 + o.step * 7919) >>> 0);
  const width = o.seqLen + 1, span = tokens.length - width;
  const out = new Int32Array(o.batch * width);
  for (let r = 0; r < o.batch; r++) {
    const off = Math.floor(rnd() * span);
    out.set(tokens.subarray(off, off + width), r * width);
  }
  return out;
}

function settingsKey(s: LmTrainSettings): string {
  const { workers: _w, ...rest } = s; // worker count does not change the run's definition
  return JSON.stringify(rest);
}

/** Runs (or resumes) training; returns the final weights and the curve. */
export async function trainLm(
  opts: TrainLmOptions,
): Promise<{ weights: Map<string, Float32Array>; curve: CurvePoint[] }> {
  const s = opts.settings, log = opts.log ?? (() => {});
  const cfg = s.config;
  const shapes = llamaParameterShapes(cfg);
  const names = shapes.map(([n]) => n);
  await Deno.mkdir(opts.checkpointDir, { recursive: true });
  const ckptPath = `${opts.checkpointDir}/checkpoint.safetensors`;
  const curvePath = `${opts.checkpointDir}/curve.json`;

  let params = initLlamaWeights(cfg, gaussian(mulberry32(s.seed)));
  let state = initAdamW(params);
  let curve: CurvePoint[] = [];
  let elapsedBefore = 0;
  try {
    const bytes = await Deno.readFile(ckptPath);
    const t = readSafetensors(bytes, ckptPath);
    if (t.metadata.settings !== settingsKey(s)) {
      throw new Error(
        `${ckptPath}: checkpoint was made with other settings; delete ${opts.checkpointDir} to start over`,
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
    log(`resumed from step ${state.step}`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }

  const save = async () => {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [n, shape] of shapes) {
      tensors.set(`param/${n}`, { shape, data: params.get(n)! });
      tensors.set(`adam_m/${n}`, { shape, data: state.m.get(n)! });
      tensors.set(`adam_v/${n}`, { shape, data: state.v.get(n)! });
    }
    const meta = { step: String(state.step), settings: settingsKey(s) };
    await writeFileAtomic(ckptPath, writeSafetensors(tensors, meta));
    await writeFileAtomic(curvePath, JSON.stringify(curve));
  };

  const valBatches: Int32Array[] = [];
  const width = s.seqLen + 1;
  const perBatch = s.batch / s.workers;
  for (let w = 0; w + perBatch <= s.evalWindows; w += perBatch) {
    const b = new Int32Array(perBatch * width);
    for (let r = 0; r < perBatch; r++) {
      const off = (w + r) * width;
      if (off + width > opts.valTokens.length) throw new Error("validation text too short");
      b.set(opts.valTokens.subarray(off, off + width), r * width);
    }
    valBatches.push(b);
  }

  const pool = await GradWorkerPool.start(s.workers, cfg, s.seqLen);
  const t0 = performance.now();
  const seconds = () => elapsedBefore + (performance.now() - t0) / 1000;
  const decay = (n: string) => !/norm/.test(n);
  let done = 0;
  try {
    const evalNow = async () => {
      const valLoss = await pool.loss(names.map((n) => params.get(n)!), valBatches, perBatch);
      curve.push({
        step: state.step,
        tokens: state.step * s.batch * s.seqLen,
        valLoss,
        seconds: seconds(),
      });
      log(
        `step ${state.step}: val loss ${valLoss.toFixed(4)} (ppl ${Math.exp(valLoss).toFixed(1)})`,
      );
    };
    if (state.step === 0) await evalNow();
    while (state.step < s.steps) {
      const ids = sampleBatch(opts.trainTokens, {
        seed: s.seed,
        step: state.step,
        batch: s.batch,
        seqLen: s.seqLen,
      });
      const { loss, grads } = await pool.grad(names.map((n) => params.get(n)!), ids, s.batch);
      if (!Number.isFinite(loss)) {
        throw new Error(`training loss became ${loss} at step ${state.step}`);
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
      curve.push({
        step: state.step,
        tokens: state.step * s.batch * s.seqLen,
        trainLoss: loss,
        lr,
        gradNorm: norm,
        seconds: seconds(),
      });
      if (state.step % 10 === 0) {
        log(
          `step ${state.step}/${s.steps}: loss ${loss.toFixed(4)} lr ${lr.toExponential(2)} ` +
            `|g| ${norm.toFixed(2)} ${seconds().toFixed(0)} s`,
        );
      }
      if (state.step % s.evalEvery === 0 || state.step === s.steps) await evalNow();
      if (state.step % s.checkpointEvery === 0 || state.step === s.steps) await save();
      done++;
      if (opts.stopAfter !== undefined && done >= opts.stopAfter) {
        await save();
        break;
      }
    }
  } finally {
    pool.close();
  }
  if (state.step >= s.steps) {
    await writeHfModelFolder(opts.outDir, cfg, params);
    await writeFileAtomic(`${opts.outDir}/loss_curve.json`, JSON.stringify(curve) + "\n");
    const last = curve.filter((p) => p.valLoss !== undefined).at(-1);
    await writeFileAtomic(
      `${opts.outDir}/training.json`,
      JSON.stringify(
        {
          settings: s,
          parameters: parameterCount(cfg),
          trainTokens: opts.trainTokens.length,
          tokensSeen: s.steps * s.batch * s.seqLen,
          finalValLoss: last?.valLoss,
          finalValPpl: last?.valLoss !== undefined ? Math.exp(last.valLoss) : undefined,
          trainingSeconds: seconds(),
          engine: { name: "tfjs", version: tfVersion(), backend: "wasm", workers: s.workers },
          deno: Deno.version.deno,
        },
        null,
        2,
      ) + "\n",
    );
  }
  return { weights: params, curve };
}
