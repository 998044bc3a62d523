/**
 * Medusa drafting heads (research/decoding.md §2.1): K heads, each `L` residual blocks
 * `x ← x + SiLU(W x + b)` (separate weights per block: no `[ResBlock] * L` sharing bug), then a
 * vocabulary projection — the target's frozen LM head shared by all heads (`lmHead: "shared"`,
 * Medusa's legacy "version 2", the default) or a per-head copy initialised from it
 * (`lmHead: "own"`, Medusa-1's original variant).
 *
 * Weight names follow Medusa's checkpoint (`medusa_head.{k}.{l}.linear.weight|bias`,
 * `medusa_head.{k}.{L}.weight` for an own head); `W` is `[out, in]` as in Hugging Face.
 *
 * This module holds the pure parts (config, shapes, initialisation, a TypeScript reference
 * forward) and the ONNX graph; {@linkcode MedusaDrafter} runs that graph on onnxruntime-web.
 *
 * @module
 */

import { gaussian, mulberry32 } from "../linalg/random.ts";
import { OPSET, transpose } from "../model/llama_graph.ts";
import { GraphBuilder } from "../model/onnx_builder.ts";
import {
  createSessionOn,
  type GpuAdapterReport,
  type Provider,
  type SessionHandle,
} from "../model/session.ts";
import type { DraftHeads, HeadsInput } from "./types.ts";
import { checkTensorShapes } from "./tensors.ts";

/** How the heads project to the vocabulary. */
export type LmHeadMode = "shared" | "own";

/** Architecture of a Medusa drafter. */
export interface MedusaConfig {
  /** Discriminator of the drafter folder's `config.json`. */
  drafter_type: "medusa";
  /** Target hidden size d. */
  hidden_size: number;
  /** Target vocabulary size V. */
  vocab_size: number;
  /** Heads K (head j predicts x_{t+2+j}). */
  num_heads: number;
  /** Residual blocks per head L. */
  num_layers: number;
  /** `shared`: the target's frozen LM head; `own`: a trained per-head copy. */
  lm_head: LmHeadMode;
}

/** Default Medusa architecture for a target of width `hiddenSize` and vocabulary `vocabSize`. */
export function medusaConfig(
  hiddenSize: number,
  vocabSize: number,
  overrides: Partial<Omit<MedusaConfig, "drafter_type" | "hidden_size" | "vocab_size">> = {},
): MedusaConfig {
  const cfg: MedusaConfig = {
    drafter_type: "medusa",
    hidden_size: hiddenSize,
    vocab_size: vocabSize,
    num_heads: overrides.num_heads ?? 4,
    num_layers: overrides.num_layers ?? 1,
    lm_head: overrides.lm_head ?? "shared",
  };
  checkMedusaConfig(cfg, "medusaConfig");
  return cfg;
}

/**
 * Validates a parsed Medusa config.
 *
 * @param cfg the config.
 * @param where file name for messages.
 * @throws Error naming the field and the fix
 */
export function checkMedusaConfig(cfg: MedusaConfig, where: string): void {
  const posInt = (field: keyof MedusaConfig) => {
    const v = cfg[field];
    if (!Number.isInteger(v) || (v as number) < 1) {
      throw new Error(`${where}: field "${field}" must be a positive integer, got ${v}`);
    }
  };
  posInt("hidden_size");
  posInt("vocab_size");
  posInt("num_heads");
  posInt("num_layers");
  if (cfg.lm_head !== "shared" && cfg.lm_head !== "own") {
    throw new Error(`${where}: field "lm_head" must be "shared" or "own", got ${cfg.lm_head}`);
  }
}

/** Weight name of head k's block l linear weight. */
export function resBlockWeightName(k: number, l: number): string {
  return `medusa_head.${k}.${l}.linear.weight`;
}

/** Weight name of head k's block l bias. */
export function resBlockBiasName(k: number, l: number): string {
  return `medusa_head.${k}.${l}.linear.bias`;
}

/** Weight name of head k's own vocabulary projection (after its L blocks). */
export function ownHeadName(k: number, numLayers: number): string {
  return `medusa_head.${k}.${numLayers}.weight`;
}

/** Parameter names and shapes of a config, in a fixed order (head-major). */
export function medusaParameterShapes(cfg: MedusaConfig): Array<[string, number[]]> {
  const d = cfg.hidden_size;
  const out: Array<[string, number[]]> = [];
  for (let k = 0; k < cfg.num_heads; k++) {
    for (let l = 0; l < cfg.num_layers; l++) {
      out.push([resBlockWeightName(k, l), [d, d]]);
      out.push([resBlockBiasName(k, l), [d]]);
    }
    if (cfg.lm_head === "own") out.push([ownHeadName(k, cfg.num_layers), [cfg.vocab_size, d]]);
  }
  return out;
}

/** Trainable parameter count (the shared frozen LM head is not counted). */
export function medusaParameterCount(cfg: MedusaConfig): number {
  return medusaParameterShapes(cfg).reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b), 0);
}

/**
 * Initial weights as Medusa initialises them: `W = 0` (the block starts as `x + SiLU(b)`), `b` from
 * PyTorch's default `Linear` init `U(−1/√d, 1/√d)` (seeded), own LM heads copied from the target's.
 *
 * @param cfg the architecture.
 * @param options `seed`, and `lmHead` (the target's `[V, d]` head; required for `own`).
 * @returns weights by name.
 */
export function initMedusaWeights(
  cfg: MedusaConfig,
  options: { seed: number; lmHead?: Float32Array; biasInit?: "uniform" | "zero" },
): Map<string, Float32Array> {
  const rnd = mulberry32(options.seed >>> 0);
  const bound = 1 / Math.sqrt(cfg.hidden_size);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of medusaParameterShapes(cfg)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b));
    if (name.endsWith(".linear.bias") && options.biasInit !== "zero") {
      for (let i = 0; i < data.length; i++) data[i] = (2 * rnd() - 1) * bound;
    } else if (!name.includes(".linear.")) {
      if (!options.lmHead || options.lmHead.length !== data.length) {
        throw new Error(
          `initMedusaWeights: lm_head "own" needs the target's LM head [${shape}] to copy`,
        );
      }
      data.set(options.lmHead);
    }
    out.set(name, data);
  }
  return out;
}

/**
 * Random weights (normal, scaled) for tests: unlike Medusa's init, the blocks are not identity,
 * so a test sees every weight matter.
 *
 * @param cfg the architecture.
 * @param options `seed`, `scale` of the block weights (default 0.5/√d), `lmHead` for `own`.
 * @returns weights by name.
 */
export function randomMedusaWeights(
  cfg: MedusaConfig,
  options: { seed: number; scale?: number; lmHead?: Float32Array },
): Map<string, Float32Array> {
  const normal = gaussian(mulberry32(options.seed >>> 0));
  const scale = options.scale ?? 0.5 / Math.sqrt(cfg.hidden_size);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of medusaParameterShapes(cfg)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b));
    if (name.includes(".linear.")) {
      for (let i = 0; i < data.length; i++) data[i] = normal() * scale;
    } else if (options.lmHead) {
      for (let i = 0; i < data.length; i++) data[i] = options.lmHead[i] + 0.01 * normal();
    } else for (let i = 0; i < data.length; i++) data[i] = normal() * 0.05;
    out.set(name, data);
  }
  return out;
}

/**
 * Checks that `weights` has exactly the tensors of `cfg` with the right sizes.
 *
 * @throws Error naming the tensor
 */
export function validateMedusaWeights(
  cfg: MedusaConfig,
  weights: Map<string, Float32Array>,
  where: string,
): void {
  checkTensorShapes(
    medusaParameterShapes(cfg),
    weights,
    where,
    "num_heads/num_layers/lm_head in config.json disagree with the weights",
  );
}

function silu(v: number): number {
  return v / (1 + Math.exp(-v));
}

/**
 * Reference forward in TypeScript (float64 accumulation): `hidden [N, d]` → logits
 * `[K, N, V]`. For tests and for evaluation without a session.
 *
 * @param cfg architecture.
 * @param weights head weights.
 * @param lmHead the target's `[V, d]` LM head (used when `lm_head` is `shared`).
 * @param hidden rows `[N, d]`.
 * @returns row-major `[K, N, V]` logits.
 */
export function medusaReferenceForward(
  cfg: MedusaConfig,
  weights: Map<string, Float32Array>,
  lmHead: Float32Array | undefined,
  hidden: Float32Array,
): Float32Array {
  const d = cfg.hidden_size, V = cfg.vocab_size, K = cfg.num_heads;
  const N = hidden.length / d;
  const out = new Float32Array(K * N * V);
  const x = new Float64Array(d);
  const y = new Float64Array(d);
  for (let k = 0; k < K; k++) {
    const head = cfg.lm_head === "own" ? weights.get(ownHeadName(k, cfg.num_layers))! : lmHead;
    if (!head) throw new Error("medusaReferenceForward: the shared LM head is required");
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < d; i++) x[i] = hidden[n * d + i];
      for (let l = 0; l < cfg.num_layers; l++) {
        const W = weights.get(resBlockWeightName(k, l))!;
        const b = weights.get(resBlockBiasName(k, l))!;
        for (let o = 0; o < d; o++) {
          let s = b[o];
          for (let i = 0; i < d; i++) s += W[o * d + i] * x[i];
          y[o] = x[o] + silu(s);
        }
        x.set(y);
      }
      const base = (k * N + n) * V;
      for (let v = 0; v < V; v++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += head[v * d + i] * x[i];
        out[base + v] = s;
      }
    }
  }
  return out;
}

/** Names of the Medusa graph's input and output. */
export const MEDUSA_IO = {
  /** float32 `[N, d]`: target hidden rows (final-normed). */
  hidden: "hidden",
  /** float32 `[K, N, V]`: per-head logits. */
  logits: "head_logits",
} as const;

/**
 * Builds the K heads as one ONNX graph (opset 17, standard ops). Block 0 of all heads is one
 * `MatMul` against the concatenated `[d, K·d]` weights (every head reads the same row); later
 * blocks are one batched `MatMul` `[K, N, d] × [K, d, d]`; a shared LM head is one `MatMul`
 * `[K·N, d] × [d, V]`.
 *
 * @param options architecture, head weights and the target's `[V, d]` LM head (`shared`).
 * @returns the serialized ModelProto.
 */
export function buildMedusaGraph(options: {
  config: MedusaConfig;
  weights: Map<string, Float32Array>;
  lmHead?: Float32Array;
}): Uint8Array {
  const { config: cfg, weights } = options;
  validateMedusaWeights(cfg, weights, "buildMedusaGraph");
  const d = cfg.hidden_size, V = cfg.vocab_size, K = cfg.num_heads, L = cfg.num_layers;
  const g = new GraphBuilder("medusa_heads");
  const N = "rows";
  const x = g.input(MEDUSA_IO.hidden, "float32", [N, d]);
  // Block 0: [N, d] × [d, K·d] + b → [N, K, d] → [K, N, d].
  const w0 = new Float32Array(d * K * d);
  const b0 = new Float32Array(K * d);
  for (let k = 0; k < K; k++) {
    const W = weights.get(resBlockWeightName(k, 0))!; // [out, in]
    for (let o = 0; o < d; o++) {
      for (let i = 0; i < d; i++) w0[i * K * d + k * d + o] = W[o * d + i];
    }
    b0.set(weights.get(resBlockBiasName(k, 0))!, k * d);
  }
  const pre0 = g.node("Add", [
    g.node("MatMul", [x, g.initFloat("block0.weight.T", [d, K * d], w0)]),
    g.initFloat("block0.bias", [K * d], b0),
  ]);
  const act0 = g.node("Mul", [pre0, g.node("Sigmoid", [pre0])]);
  const act0k = g.node("Transpose", [g.node("Reshape", [act0, g.constInt64([-1, K, d])])], {
    attrs: { perm: [1, 0, 2] },
  });
  let h = g.node("Add", [g.node("Unsqueeze", [x, g.constInt64([0])]), act0k]); // [K, N, d]
  for (let l = 1; l < L; l++) {
    const wl = new Float32Array(K * d * d);
    const bl = new Float32Array(K * d);
    for (let k = 0; k < K; k++) {
      wl.set(transpose(weights.get(resBlockWeightName(k, l))!, d, d), k * d * d);
      bl.set(weights.get(resBlockBiasName(k, l))!, k * d);
    }
    const pre = g.node("Add", [
      g.node("MatMul", [h, g.initFloat(`block${l}.weight.T`, [K, d, d], wl)]),
      g.initFloat(`block${l}.bias`, [K, 1, d], bl),
    ]);
    h = g.node("Add", [h, g.node("Mul", [pre, g.node("Sigmoid", [pre])])]);
  }
  let logits: string;
  if (cfg.lm_head === "shared") {
    if (!options.lmHead || options.lmHead.length !== V * d) {
      throw new Error(
        `buildMedusaGraph: lm_head "shared" needs the target's LM head [${V}, ${d}]`,
      );
    }
    // One [K·N, d] × [d, V] GEMM (better than K broadcast GEMVs for N = 1).
    const flat = g.node("Reshape", [h, g.constInt64([-1, d])]);
    const proj = g.node("MatMul", [
      flat,
      g.initFloat("lm_head.weight.T", [d, V], transpose(options.lmHead, V, d)),
    ]);
    logits = g.node("Reshape", [proj, g.constInt64([K, -1, V])]);
  } else {
    const wh = new Float32Array(K * d * V);
    for (let k = 0; k < K; k++) wh.set(transpose(weights.get(ownHeadName(k, L))!, V, d), k * d * V);
    logits = g.node("MatMul", [h, g.initFloat("heads.weight.T", [K, d, V], wh)]);
  }
  g.output(MEDUSA_IO.logits, logits, "float32", [K, N, V]);
  return g.toModel({
    opset: OPSET,
    docString: `Medusa heads (K=${K}, L=${L}, ${cfg.lm_head} LM head)`,
  });
}

/** Where a drafter session runs (taken from the target's runtime, so both share a provider). */
export interface DrafterRuntime {
  /** Provider of the target's session. */
  provider: Provider;
  /** Why that provider was chosen. */
  reason: string;
  /** wasm threads of the process. */
  threads: number;
  /** GPU adapter, when one was probed. */
  adapter?: GpuAdapterReport;
}

/** Medusa heads on an onnxruntime-web session. */
export class MedusaDrafter implements DraftHeads {
  readonly numHeads: number;
  readonly vocabSize: number;
  readonly parameterCount: number;
  /** Number of `propose` calls and their summed milliseconds (drafter latency per step). */
  readonly stats = { calls: 0, ms: 0 };
  #handle: SessionHandle;

  private constructor(readonly config: MedusaConfig, handle: SessionHandle) {
    this.numHeads = config.num_heads;
    this.vocabSize = config.vocab_size;
    this.parameterCount = medusaParameterCount(config);
    this.#handle = handle;
  }

  /**
   * Builds the graph and opens a session on the target's provider.
   *
   * @param options architecture, weights, the target's LM head (`shared`), runtime.
   */
  static async create(options: {
    config: MedusaConfig;
    weights: Map<string, Float32Array>;
    lmHead?: Float32Array;
    runtime: DrafterRuntime;
  }): Promise<MedusaDrafter> {
    const bytes = buildMedusaGraph(options);
    const rt = options.runtime;
    const handle = await createSessionOn(
      bytes,
      { provider: rt.provider, reason: rt.reason, adapter: rt.adapter },
      { threads: rt.threads },
    );
    return new MedusaDrafter(options.config, handle);
  }

  /** Provider the session runs on. */
  get provider(): Provider {
    return this.#handle.provider;
  }

  /**
   * Logits of all heads for every row: `hidden [N, d]` → `[K, N, V]`.
   *
   * @param hidden rows of target hidden states.
   */
  async run(hidden: Float32Array): Promise<Float32Array> {
    const d = this.config.hidden_size;
    if (hidden.length === 0 || hidden.length % d !== 0) {
      throw new Error(
        `MedusaDrafter: hidden has ${hidden.length} values, not a multiple of d = ${d}`,
      );
    }
    const { ort, session } = this.#handle;
    const out = await session.run({
      [MEDUSA_IO.hidden]: new ort.Tensor("float32", hidden, [hidden.length / d, d]),
    });
    return out[MEDUSA_IO.logits].data as Float32Array;
  }

  /** Head logits `[K, V]` from the last committed hidden row (Medusa reads nothing else). */
  async propose(input: HeadsInput): Promise<Float32Array> {
    const d = this.config.hidden_size;
    const m = input.hidden.length / d;
    const t0 = performance.now();
    const out = await this.run(input.hidden.slice((m - 1) * d, m * d));
    this.stats.ms += performance.now() - t0;
    this.stats.calls++;
    return out;
  }

  /** Releases the session. */
  async close(): Promise<void> {
    await this.#handle.release();
  }
}
