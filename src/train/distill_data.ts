/**
 * Self-distillation data for drafting heads (research/decoding.md §2.2): the target's own greedy
 * continuations of prompts cut from the TRAIN split (never the test splits the benchmarks use),
 * with the target's last-layer hidden states at every position.
 *
 * Each sequence is `promptLength` train tokens at a seeded random offset followed by
 * `continuation` tokens the target generated greedily (onnxruntime, KV cache, batch 1). Hidden row
 * t is the target's final-normed state after reading token t (the LM head's input), so the target
 * predicts token t + 1 from it and drafting head j learns token t + 2 + j. All sequences have the
 * same length, which keeps training batches rectangular.
 *
 * Generated data is cached under `.cache/distill/<key>/` keyed by the target's weight fingerprint,
 * the prompt token stream and the settings: a changed model or split never serves stale data, and
 * the Medusa and Amphista trainers read the same sequences.
 *
 * @module
 */

import type { CausalLM, KVCache } from "../model/causal_lm.ts";
import { mulberry32 } from "../linalg/random.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";

/** How the data is drawn. */
export interface DistillSettings {
  /** Sequences used for training. */
  trainSequences: number;
  /** Further sequences kept out of training, for held-out accuracy and validation loss. */
  heldoutSequences: number;
  /** Prompt tokens per sequence (cut from the train split). */
  promptLength: number;
  /** Greedy tokens the target generates after each prompt. */
  continuation: number;
  /** Seed of the prompt offsets. */
  seed: number;
}

/** Distillation data of the embedded model's heads (about 40 000 training positions). */
export const DEFAULT_DISTILL_SETTINGS: DistillSettings = {
  trainSequences: 384,
  heldoutSequences: 32,
  promptLength: 32,
  continuation: 96,
  seed: 0,
};

/** A set of equal-length sequences with their hidden states. */
export interface DistillSet {
  /** Number of sequences. */
  count: number;
  /** Tokens per sequence S = promptLength + continuation. */
  seqLength: number;
  /** Prompt tokens at the start of every sequence. */
  promptLength: number;
  /** Hidden size d. */
  hiddenSize: number;
  /** Tokens, row-major `[count, S]`. */
  tokens: Int32Array;
  /** Target hidden states, row-major `[count, S, d]`. */
  hidden: Float32Array;
}

/** Training and held-out sets. */
export interface DistillData {
  /** Sequences the heads train on. */
  train: DistillSet;
  /** Sequences kept out of training. */
  heldout: DistillSet;
  /** Settings that produced the data. */
  settings: DistillSettings;
  /** Seconds spent generating (0 when read from the cache). */
  generationSeconds: number;
  /** Where the cached copy lives, when cached. */
  cachePath?: string;
}

function argmaxRow(x: Float32Array, offset: number, n: number): number {
  let best = offset;
  for (let i = offset + 1; i < offset + n; i++) if (x[i] > x[best]) best = i;
  return best - offset;
}

/**
 * Prompt windows: `count` seeded random offsets into the token stream (depends only on the seed).
 *
 * @param tokens the train split's token ids.
 * @param o count, prompt length, seed.
 * @returns row-major `[count, promptLength]` prompt tokens.
 */
export function samplePrompts(
  tokens: Int32Array,
  o: { count: number; promptLength: number; seed: number },
): Int32Array {
  if (tokens.length <= o.promptLength) {
    throw new Error(
      `samplePrompts: ${tokens.length} tokens cannot give prompts of ${o.promptLength}`,
    );
  }
  const rnd = mulberry32((o.seed * 2_654_435 + 97) >>> 0);
  const out = new Int32Array(o.count * o.promptLength);
  for (let i = 0; i < o.count; i++) {
    const off = Math.floor(rnd() * (tokens.length - o.promptLength));
    out.set(tokens.subarray(off, off + o.promptLength), i * o.promptLength);
  }
  return out;
}

/**
 * Greedy continuation of one prompt with the KV cache, collecting the hidden state of every
 * position (the last generated token is fed once more so its state is known too).
 *
 * @param model the target.
 * @param prompt prompt tokens.
 * @param continuation tokens to generate.
 * @returns tokens `[P + continuation]` and hidden `[P + continuation, d]`.
 */
export async function greedyContinuation(
  model: CausalLM,
  prompt: Int32Array,
  continuation: number,
): Promise<{ tokens: Int32Array; hidden: Float32Array }> {
  const V = model.config.vocab_size, d = model.config.hidden_size;
  const P = prompt.length, S = P + continuation;
  if (S > model.config.max_position_embeddings) {
    throw new RangeError(
      `greedyContinuation: ${P} + ${continuation} tokens exceed max_position_embeddings ${model.config.max_position_embeddings}`,
    );
  }
  const tokens = new Int32Array(S);
  const hidden = new Float32Array(S * d);
  tokens.set(prompt);
  const pre = await model.logits(prompt);
  hidden.set(pre.hidden);
  let cache: KVCache = pre.cache;
  let next = argmaxRow(pre.logits, (P - 1) * V, V);
  for (let t = P; t < S; t++) {
    tokens[t] = next;
    const out = await model.logits([next], { cache });
    cache = out.cache;
    hidden.set(out.hidden, t * d);
    next = argmaxRow(out.logits, 0, V);
  }
  return { tokens, hidden };
}

/**
 * Generates the data with the target (no cache).
 *
 * @param model the target.
 * @param trainTokens token ids of the TRAIN split.
 * @param settings counts, lengths, seed.
 * @param onProgress called after every sequence.
 * @returns the training and held-out sets.
 */
export async function generateDistillData(
  model: CausalLM,
  trainTokens: Int32Array,
  settings: DistillSettings,
  onProgress?: (done: number, total: number) => void,
): Promise<DistillData> {
  const t0 = performance.now();
  const d = model.config.hidden_size;
  const P = settings.promptLength, S = P + settings.continuation;
  const total = settings.trainSequences + settings.heldoutSequences;
  const prompts = samplePrompts(trainTokens, {
    count: total,
    promptLength: P,
    seed: settings.seed,
  });
  const tokens = new Int32Array(total * S);
  const hidden = new Float32Array(total * S * d);
  for (let i = 0; i < total; i++) {
    const r = await greedyContinuation(
      model,
      prompts.subarray(i * P, (i + 1) * P),
      settings.continuation,
    );
    tokens.set(r.tokens, i * S);
    hidden.set(r.hidden, i * S * d);
    onProgress?.(i + 1, total);
  }
  const split = (from: number, to: number): DistillSet => ({
    count: to - from,
    seqLength: S,
    promptLength: P,
    hiddenSize: d,
    tokens: tokens.slice(from * S, to * S),
    hidden: hidden.slice(from * S * d, to * S * d),
  });
  return {
    train: split(0, settings.trainSequences),
    heldout: split(settings.trainSequences, total),
    settings,
    generationSeconds: (performance.now() - t0) / 1000,
  };
}

async function sha16(parts: (string | Uint8Array)[]): Promise<string> {
  const enc = new TextEncoder();
  const bufs = parts.map((p) => (typeof p === "string" ? enc.encode(p) : p));
  const all = new Uint8Array(bufs.reduce((s, b) => s + b.length + 1, 0));
  let o = 0;
  for (const b of bufs) {
    all.set(b, o);
    o += b.length + 1;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function bytes(a: Int32Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Generated data, cached on disk: `<cacheDir>/<key>/{tokens.i32, hidden.f32, meta.json}` with key =
 * hash(model fingerprint, prompt stream, settings). Reuses the cache when present.
 *
 * @param model the target.
 * @param trainTokens token ids of the TRAIN split.
 * @param settings counts, lengths, seed.
 * @param options cache folder, the model's weight fingerprint, progress callback.
 * @returns the data (from the cache or freshly generated).
 */
export async function loadOrGenerateDistillData(
  model: CausalLM,
  trainTokens: Int32Array,
  settings: DistillSettings,
  options: {
    cacheDir: string;
    modelFingerprint: string;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<DistillData> {
  const key = await sha16([
    "distill-v1",
    options.modelFingerprint,
    bytes(trainTokens),
    JSON.stringify(settings),
  ]);
  const dir = `${options.cacheDir}/${key}`;
  const d = model.config.hidden_size;
  const S = settings.promptLength + settings.continuation;
  const total = settings.trainSequences + settings.heldoutSequences;
  try {
    const t = await Deno.readFile(`${dir}/tokens.i32`);
    const h = await Deno.readFile(`${dir}/hidden.f32`);
    if (t.byteLength === total * S * 4 && h.byteLength === total * S * d * 4) {
      const tokens = new Int32Array(t.buffer, t.byteOffset, total * S);
      const hidden = new Float32Array(h.buffer, h.byteOffset, total * S * d);
      const n = settings.trainSequences;
      const split = (from: number, to: number): DistillSet => ({
        count: to - from,
        seqLength: S,
        promptLength: settings.promptLength,
        hiddenSize: d,
        tokens: tokens.slice(from * S, to * S),
        hidden: hidden.slice(from * S * d, to * S * d),
      });
      return {
        train: split(0, n),
        heldout: split(n, total),
        settings,
        generationSeconds: 0,
        cachePath: dir,
      };
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const data = await generateDistillData(model, trainTokens, settings, options.onProgress);
  await Deno.mkdir(dir, { recursive: true });
  const tokens = new Int32Array(total * S);
  tokens.set(data.train.tokens);
  tokens.set(data.heldout.tokens, data.train.tokens.length);
  const hidden = new Float32Array(total * S * d);
  hidden.set(data.train.hidden);
  hidden.set(data.heldout.hidden, data.train.hidden.length);
  await writeFileAtomic(`${dir}/tokens.i32`, bytes(tokens));
  await writeFileAtomic(`${dir}/hidden.f32`, bytes(hidden));
  await writeFileAtomic(
    `${dir}/meta.json`,
    JSON.stringify(
      { settings, modelFingerprint: options.modelFingerprint, seconds: data.generationSeconds },
      null,
      2,
    ),
  );
  return { ...data, cachePath: dir };
}

/**
 * A summary of a set for `training.json`.
 *
 * @param set a distillation set.
 * @returns the number of distinct generated tokens and of generated positions.
 */
export function summariseDistillSet(
  set: DistillSet,
): { distinctGenerated: number; positions: number } {
  const seen = new Set<number>();
  for (let i = 0; i < set.count; i++) {
    for (let t = set.promptLength; t < set.seqLength; t++) {
      seen.add(set.tokens[i * set.seqLength + t]);
    }
  }
  return {
    distinctGenerated: seen.size,
    positions: set.count * (set.seqLength - set.promptLength),
  };
}
