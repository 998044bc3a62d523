/**
 * The drafter folder: everything a trained drafter ships with, beside each other.
 *
 * ```
 * <folder>/config.json        architecture ({"drafter_type": "medusa", ...}) + base-model fingerprint
 * <folder>/model.safetensors  the trained weights (F32, Medusa checkpoint names)
 * <folder>/accuracy.json      per-head top-1/top-5 and per-rank hit rates on held-out distillation data
 * <folder>/loss_curve.json    training curve
 * <folder>/training.json      settings, data, timings, versions
 * ```
 *
 * `drafter_type` selects the implementation ({@linkcode openDrafter}); Amphista adds its own type
 * and config fields and reuses the rest of the format.
 *
 * @module
 */

import { readSafetensors, writeSafetensors } from "../model/safetensors.ts";
import {
  checkMedusaConfig,
  type DrafterRuntime,
  type MedusaConfig,
  MedusaDrafter,
  medusaParameterShapes,
  validateMedusaWeights,
} from "./medusa.ts";
import type { DraftHeads } from "./types.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";

/**
 * The first `n` heads of a Medusa drafter (config and weights).
 *
 * @param cfg the architecture.
 * @param weights all weights.
 * @param n heads to keep.
 * @returns the smaller drafter.
 */
export function firstHeads(
  cfg: MedusaConfig,
  weights: Map<string, Float32Array>,
  n: number,
): { config: MedusaConfig; weights: Map<string, Float32Array> } {
  const config = { ...cfg, num_heads: Math.min(n, cfg.num_heads) };
  const keep = new Set(medusaParameterShapes(config).map(([name]) => name));
  return { config, weights: new Map([...weights].filter(([name]) => keep.has(name))) };
}

/** Version of the folder format written by {@linkcode writeDrafterFolder}. */
export const DRAFTER_FORMAT_VERSION = 1;

/** Architectures a drafter folder may hold. */
export type DrafterConfig = MedusaConfig;

/** Where the heads came from (stored in `config.json` under `base_model`). */
export interface BaseModelRef {
  /** Target folder the heads were trained on (as given to the trainer). */
  path: string;
  /** {@linkcode weightsFingerprint} of the target's weights. */
  fingerprint: string;
}

/** Held-out accuracy of the heads (`accuracy.json`). */
export interface HeadAccuracy {
  /** Number of heads. */
  numHeads: number;
  /** Ranks measured per head. */
  ranks: number;
  /** Positions evaluated per head (deeper heads have fewer valid positions). */
  positions: number[];
  /** P(label = rank-0 token) per head. */
  top1: number[];
  /** P(label within the top 5) per head. */
  top5: number[];
  /** Cumulative top-k accuracy per head, k = 1..ranks: `topk[h][k − 1]`. */
  topk: number[][];
  /** Per-rank hit rates per head (`perRank[h][r]`), the input of the tree builder. */
  perRank: number[][];
  /** What was evaluated (e.g. "held-out distillation sequences"). */
  source: string;
  /** Sequences evaluated. */
  sequences: number;
}

/** A drafter folder read into memory. */
export interface DrafterFolder {
  /** Folder path. */
  path: string;
  /** Architecture. */
  config: DrafterConfig;
  /** Weights by name. */
  weights: Map<string, Float32Array>;
  /** Base model the heads were trained on, when recorded. */
  baseModel?: BaseModelRef;
  /** Held-out accuracy, when present. */
  accuracy?: HeadAccuracy;
  /** `training.json`, when present. */
  training?: Record<string, unknown>;
}

/**
 * A short fingerprint of a weight map (SHA-256 over names and bytes in name order, 16 hex digits),
 * so a drafter can tell whether it was trained on the target it is loaded with.
 *
 * @param weights weights by name.
 * @returns 16 hex digits.
 */
export async function weightsFingerprint(weights: Map<string, Float32Array>): Promise<string> {
  const names = [...weights.keys()].sort();
  let total = 0;
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const n of names) {
    const w = weights.get(n)!;
    parts.push(enc.encode(n), new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  }
  for (const p of parts) total += p.length;
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function shapesOf(cfg: DrafterConfig): Array<[string, number[]]> {
  return medusaParameterShapes(cfg);
}

/** What a drafter folder is written from: config, weights and the optional parts. */
export interface DrafterFolderParts<C> {
  /** Architecture (written to `config.json`). */
  config: C;
  /** Trained weights by tensor name. */
  weights: Map<string, Float32Array>;
  /** The target the heads were trained for. */
  baseModel?: BaseModelRef;
  /** Held-out accuracy (`accuracy.json`). */
  accuracy?: HeadAccuracy;
  /** Training curve (`loss_curve.json`). */
  lossCurve?: unknown[];
  /** Training record (`training.json`). */
  training?: Record<string, unknown>;
}

/**
 * Writes the files every drafter folder has, whatever its type (atomic per file):
 * `model.safetensors` (tensors in `shapes` order), `config.json` (the config plus
 * `format_version` and `base_model`), and `accuracy.json`, `loss_curve.json`, `training.json`
 * when given. The caller validates the weights against its architecture first.
 *
 * @param path folder (created if needed).
 * @param folder config, tensor shapes, weights and the optional parts.
 */
export async function writeDrafterFiles(
  path: string,
  folder: DrafterFolderParts<object> & {
    shapes: ReadonlyArray<readonly [string, number[]]>;
  },
): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of folder.shapes) {
    tensors.set(name, { shape, data: folder.weights.get(name)! });
  }
  await writeFileAtomic(`${path}/model.safetensors`, writeSafetensors(tensors, { format: "pt" }));
  const config = {
    ...folder.config,
    format_version: DRAFTER_FORMAT_VERSION,
    ...(folder.baseModel ? { base_model: folder.baseModel } : {}),
  };
  await writeFileAtomic(`${path}/config.json`, JSON.stringify(config, null, 2) + "\n");
  if (folder.accuracy) {
    await writeFileAtomic(`${path}/accuracy.json`, JSON.stringify(folder.accuracy, null, 2) + "\n");
  }
  if (folder.lossCurve) {
    await writeFileAtomic(`${path}/loss_curve.json`, JSON.stringify(folder.lossCurve) + "\n");
  }
  if (folder.training) {
    await writeFileAtomic(`${path}/training.json`, JSON.stringify(folder.training, null, 2) + "\n");
  }
}

/**
 * Reads the optional parts every drafter folder may have: `accuracy.json` (checked) and
 * `training.json`, and the `base_model` reference of its parsed `config.json`.
 *
 * @param path the folder.
 * @param rawConfig the folder's parsed `config.json`.
 */
export async function readDrafterExtras(
  path: string,
  rawConfig: Record<string, unknown>,
): Promise<
  { baseModel?: BaseModelRef; accuracy?: HeadAccuracy; training?: Record<string, unknown> }
> {
  const accPath = `${path}/accuracy.json`;
  const acc = await readJsonIfExists(accPath);
  const training = await readJsonIfExists(`${path}/training.json`) as
    | Record<string, unknown>
    | undefined;
  const base = rawConfig.base_model as BaseModelRef | undefined;
  return {
    baseModel: base && typeof base.fingerprint === "string" ? base : undefined,
    accuracy: acc === undefined ? undefined : checkAccuracy(acc, accPath),
    training,
  };
}

/**
 * Writes a drafter folder (atomic per file). Optional parts are written only when given.
 *
 * @param path folder (created if needed).
 * @param folder config, weights, base model, accuracy, curve and training record.
 */
export async function writeDrafterFolder(
  path: string,
  folder: DrafterFolderParts<DrafterConfig>,
): Promise<void> {
  validateMedusaWeights(folder.config, folder.weights, "writeDrafterFolder");
  await writeDrafterFiles(path, { ...folder, shapes: shapesOf(folder.config) });
}

async function readJsonIfExists(path: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

function checkAccuracy(a: unknown, file: string): HeadAccuracy {
  const o = a as HeadAccuracy;
  const rows = (field: "topk" | "perRank") => {
    const v = o?.[field];
    if (
      !Array.isArray(v) || v.some((r) => !Array.isArray(r) || r.some((x) => typeof x !== "number"))
    ) {
      throw new Error(`${file}: field "${field}" must be an array (one per head) of number arrays`);
    }
  };
  rows("topk");
  rows("perRank");
  if (!Array.isArray(o.top1) || !Array.isArray(o.top5)) {
    throw new Error(`${file}: fields "top1" and "top5" must be arrays (one number per head)`);
  }
  return o;
}

/**
 * Reads a drafter folder.
 *
 * @param path the folder.
 * @returns config, weights and whatever optional parts exist.
 * @throws Error naming the file and field when something is missing or inconsistent
 */
export async function readDrafterFolder(path: string): Promise<DrafterFolder> {
  const cfgPath = `${path}/config.json`;
  const raw = await readJsonIfExists(cfgPath) as Record<string, unknown> | undefined;
  if (raw === undefined) {
    throw new Error(
      `${cfgPath}: missing. Fix: train heads with \`bin/deno run -A scripts/train_heads.ts\` or point drafters.medusa at a drafter folder`,
    );
  }
  if (raw.drafter_type !== "medusa") {
    throw new Error(
      `${cfgPath}: field "drafter_type" is ${
        JSON.stringify(raw.drafter_type)
      }; this build reads "medusa"`,
    );
  }
  const config: MedusaConfig = {
    drafter_type: "medusa",
    hidden_size: raw.hidden_size as number,
    vocab_size: raw.vocab_size as number,
    num_heads: raw.num_heads as number,
    num_layers: raw.num_layers as number,
    lm_head: (raw.lm_head ?? "shared") as MedusaConfig["lm_head"],
  };
  checkMedusaConfig(config, cfgPath);
  const wPath = `${path}/model.safetensors`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(wPath);
  } catch (e) {
    throw new Error(`${wPath}: cannot read drafter weights (${(e as Error).message})`);
  }
  const weights = new Map<string, Float32Array>();
  for (const [name, t] of readSafetensors(bytes, wPath)) weights.set(name, t.data);
  validateMedusaWeights(config, weights, wPath);
  return { path, config, weights, ...await readDrafterExtras(path, raw) };
}

/**
 * Opens a drafter for a target: checks sizes against the target and builds the session on the
 * target's provider.
 *
 * @param folder the read folder.
 * @param target the target's hidden size, vocabulary, LM head `[V, d]` and runtime.
 * @param options `heads`: build only the first heads (a tree of depth D needs D; the rest would
 *   cost a vocabulary projection each for nothing).
 * @returns a drafter ready to propose.
 * @throws Error when the drafter does not fit the target
 */
export async function openDrafter(
  folder: DrafterFolder,
  target: { hiddenSize: number; vocabSize: number; lmHead: Float32Array; runtime: DrafterRuntime },
  options: { heads?: number } = {},
): Promise<DraftHeads & { stats: { calls: number; ms: number } }> {
  let cfg = folder.config;
  let weights = folder.weights;
  if (options.heads !== undefined && options.heads < cfg.num_heads) {
    if (!Number.isInteger(options.heads) || options.heads < 1) {
      throw new RangeError(`openDrafter: heads must be a positive integer, got ${options.heads}`);
    }
    ({ config: cfg, weights } = firstHeads(cfg, weights, options.heads));
  }
  if (cfg.hidden_size !== target.hiddenSize || cfg.vocab_size !== target.vocabSize) {
    throw new Error(
      `${folder.path}/config.json: heads are for hidden_size ${cfg.hidden_size}, vocab_size ${cfg.vocab_size}; ` +
        `the target has ${target.hiddenSize}, ${target.vocabSize}. Fix: retrain the heads for this model`,
    );
  }
  return await MedusaDrafter.create({
    config: cfg,
    weights,
    lmHead: target.lmHead,
    runtime: target.runtime,
  });
}

/**
 * The target's LM head `[V, d]` (the tied embedding when `tie_word_embeddings`), which shared-head
 * drafters project through.
 *
 * @param model the target's config and weights.
 * @returns the head matrix.
 */
export function targetLmHead(model: {
  config: { tie_word_embeddings: boolean };
  weights: Map<string, Float32Array>;
}): Float32Array {
  const name = model.config.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  const w = model.weights.get(name);
  if (!w) throw new Error(`targetLmHead: the target has no "${name}"`);
  return w;
}
