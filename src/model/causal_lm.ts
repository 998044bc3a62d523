/**
 * The `CausalLM` contract (in the spirit of lm-evaluation-harness's model interface) and its
 * onnxruntime-web implementation: full-model logits with a compactable KV cache and arbitrary
 * additive attention masks (causal or tree), per-block access for pruning calibration, and
 * cheap rebuilds after weights change.
 *
 * @module
 */
import { headDim, type LlamaConfig } from "./config.ts";
import { BLOCK_IO, buildBlockGraph, buildLlamaGraph, LM_IO } from "./llama_graph.ts";
import {
  type Backend,
  chooseProvider,
  createSessionOn,
  type GpuAdapterReport,
  type Provider,
  type SessionHandle,
} from "./session.ts";
import { llamaTensorShapes, type LlamaWeights, readHfModelFolder } from "./weights.ts";

/** Additive mask value for "do not attend" (finite, so fully masked rows stay finite). */
export const MASK_NEG: number = -1e9;

/**
 * Additive causal mask `[S, P+S]` (row-major): query i (absolute position P+i) attends to
 * key j iff j ≤ P+i.
 */
export function causalMask(seq: number, past = 0): Float32Array {
  const total = past + seq;
  const m = new Float32Array(seq * total);
  for (let i = 0; i < seq; i++) {
    for (let j = past + i + 1; j < total; j++) m[i * total + j] = MASK_NEG;
  }
  return m;
}

/**
 * Additive mask `[S, T]` from a predicate: `allowed(i, j)` true ↦ 0, false ↦ {@link MASK_NEG}.
 * Use it for tree attention (query i may see its ancestors and the cached prefix).
 */
export function maskFrom(
  seq: number,
  total: number,
  allowed: (i: number, j: number) => boolean,
): Float32Array {
  const m = new Float32Array(seq * total);
  for (let i = 0; i < seq; i++) {
    for (let j = 0; j < total; j++) if (!allowed(i, j)) m[i * total + j] = MASK_NEG;
  }
  return m;
}

/** Keys and values of one layer: `[kvHeads, length, headDim]` each (keys after RoPE). */
export interface LayerKV {
  /** Keys, row-major `[kvHeads, length, headDim]`. */
  key: Float32Array;
  /** Values, row-major `[kvHeads, length, headDim]`. */
  value: Float32Array;
}

/**
 * An immutable key/value cache. Every operation returns a new cache; a cache can be reused as
 * the starting point of several continuations (speculative decoding).
 */
export class KVCache {
  /** Creates a cache from per-layer tensors of `length` positions. */
  constructor(
    readonly layers: readonly LayerKV[],
    readonly length: number,
    readonly kvHeads: number,
    readonly headDim: number,
  ) {
    const n = kvHeads * length * headDim;
    for (const [i, l] of layers.entries()) {
      if (l.key.length !== n || l.value.length !== n) {
        throw new Error(
          `KVCache: layer ${i} tensors do not have ${kvHeads}×${length}×${headDim} values`,
        );
      }
    }
  }

  /** An empty cache (length 0) for this config. */
  static empty(cfg: LlamaConfig): KVCache {
    const layers = Array.from({ length: cfg.num_hidden_layers }, () => ({
      key: new Float32Array(0),
      value: new Float32Array(0),
    }));
    return new KVCache(layers, 0, cfg.num_key_value_heads, headDim(cfg));
  }

  /**
   * Compaction: keeps rows `0..prefix-1`, then the rows listed in `rows` (absolute positions,
   * in the given order). After verifying a speculative tree, pass the accepted path:
   * `cache.select(acceptedRows, prefixLength)`.
   *
   * @throws RangeError when a row is out of range
   */
  select(rows: ArrayLike<number>, prefix = 0): KVCache {
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > this.length) {
      throw new RangeError(`KVCache.select: prefix ${prefix} outside 0..${this.length}`);
    }
    const keep: number[] = [];
    for (let i = 0; i < prefix; i++) keep.push(i);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (!Number.isInteger(r) || r < 0 || r >= this.length) {
        throw new RangeError(`KVCache.select: row ${r} outside 0..${this.length - 1}`);
      }
      keep.push(r);
    }
    const L = keep.length, hd = this.headDim, H = this.kvHeads, P = this.length;
    const gather = (src: Float32Array): Float32Array => {
      const out = new Float32Array(H * L * hd);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < L; i++) {
          const from = (h * P + keep[i]) * hd;
          out.set(src.subarray(from, from + hd), (h * L + i) * hd);
        }
      }
      return out;
    };
    return new KVCache(
      this.layers.map((l) => ({ key: gather(l.key), value: gather(l.value) })),
      L,
      H,
      hd,
    );
  }

  /** Keeps the first `length` positions. */
  truncate(length: number): KVCache {
    return this.select([], length);
  }
}

/** Options of one forward call. */
export interface ForwardOptions {
  /** KV cache of the already-processed prefix (length P); default empty. */
  cache?: KVCache;
  /** Additive mask `[S, P+S]`, row-major; default {@link causalMask}(S, P). */
  mask?: Float32Array;
  /** Absolute positions of the S new tokens; default P..P+S-1. */
  positions?: ArrayLike<number>;
}

/** Result of one forward call. */
export interface ForwardResult {
  /** `[S, V]` logits, row-major. */
  logits: Float32Array;
  /** `[S, d]` final-normed hidden state (input of `lm_head`). */
  hidden: Float32Array;
  /** The cache after this call: prefix + the S new positions (length P+S). */
  cache: KVCache;
}

/** Outputs of one decoder block (all `[S, ·]` row-major). */
export interface BlockResult {
  /** Block output `[S, d]` (input of the next block). */
  out: Float32Array;
  /** Normed input of q/k/v_proj `[S, d]`. */
  attnIn: Float32Array;
  /** Input of o_proj `[S, heads·headDim]`. */
  oIn: Float32Array;
  /** Normed input of gate/up_proj `[S, d]`. */
  mlpIn: Float32Array;
  /** Input of down_proj `[S, intermediate]`. */
  downIn: Float32Array;
}

/** Where and how a model runs (for provenance). */
export interface RuntimeInfo {
  /** Provider actually used. */
  provider: Provider;
  /** Why. */
  reason: string;
  /** wasm threads in effect (1 on the webgpu build). */
  threads: number;
  /** GPU adapter info when probed. */
  adapter?: GpuAdapterReport;
  /** Seconds spent building the graph and creating the main session. */
  buildSeconds: number;
}

/** A causal language model, batch 1. */
export interface CausalLM {
  /** Model config. */
  readonly config: LlamaConfig;
  /** Weights by HF name. Treat as read-only; use {@link CausalLM.withWeights} to change them. */
  readonly weights: LlamaWeights;
  /** Runtime provenance. */
  readonly runtime: RuntimeInfo;
  /** `tokenizer.json` path when loaded from a folder that has one. */
  readonly tokenizerPath?: string;
  /** Logits and final hidden states of `ids` given an optional cache, mask and positions. */
  logits(ids: ArrayLike<number>, opts?: ForwardOptions): Promise<ForwardResult>;
  /** Input of block 0 for `ids`: the token embeddings `[S, d]`. */
  blockInputs(ids: ArrayLike<number>): Float32Array;
  /** Runs decoder block `layer` on x `[S, d]` (default causal mask, positions 0..S-1). */
  runBlock(
    layer: number,
    x: Float32Array,
    opts?: { mask?: Float32Array; positions?: ArrayLike<number> },
  ): Promise<BlockResult>;
  /** A new model with some tensors replaced (rebuilds the graphs); this one stays usable. */
  withWeights(patch: Map<string, Float32Array>): Promise<CausalLM>;
  /** Releases all sessions. */
  close(): Promise<void>;
}

/** Options for building an ORT-backed model. */
export interface OrtModelOptions {
  /** Backend request (default "wasm"). */
  backend?: Backend;
  /** wasm threads (default 1; one count per process). */
  threads?: number;
  /** ORT graph optimization level (default "all"). */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
}

type Choice = { provider: Provider; reason: string; adapter?: GpuAdapterReport };

/** `CausalLM` backed by onnxruntime-web sessions of graphs generated from the config. */
export class OrtCausalLM implements CausalLM {
  #main: SessionHandle;
  #blocks = new Map<number, Promise<SessionHandle>>();
  #closed = false;

  private constructor(
    readonly config: LlamaConfig,
    readonly weights: LlamaWeights,
    readonly runtime: RuntimeInfo,
    main: SessionHandle,
    private readonly choice: Choice,
    private readonly opts: OrtModelOptions,
    readonly tokenizerPath?: string,
  ) {
    this.#main = main;
  }

  /** Builds the graph for `config` + `weights` and opens a session on the chosen backend. */
  static async create(
    config: LlamaConfig,
    weights: LlamaWeights,
    opts: OrtModelOptions & { tokenizerPath?: string; choice?: Choice } = {},
  ): Promise<OrtCausalLM> {
    const t0 = performance.now();
    const choice = opts.choice ?? await chooseProvider(opts.backend ?? "wasm");
    const bytes = buildLlamaGraph({ config, weights });
    const main = await createSessionOn(bytes, choice, opts);
    const runtime: RuntimeInfo = {
      provider: main.provider,
      reason: main.reason,
      threads: main.threads,
      adapter: main.adapter,
      buildSeconds: (performance.now() - t0) / 1000,
    };
    return new OrtCausalLM(config, weights, runtime, main, choice, opts, opts.tokenizerPath);
  }

  #check(): void {
    if (this.#closed) throw new Error("OrtCausalLM: model is closed");
  }

  /** See {@link CausalLM.logits}. */
  async logits(ids: ArrayLike<number>, opts: ForwardOptions = {}): Promise<ForwardResult> {
    this.#check();
    const cfg = this.config;
    const S = ids.length;
    if (S === 0) throw new Error("OrtCausalLM.logits: empty input");
    const cache = opts.cache ?? KVCache.empty(cfg);
    const P = cache.length, T = P + S, hd = headDim(cfg), KV = cfg.num_key_value_heads;
    if (
      cache.layers.length !== cfg.num_hidden_layers || cache.kvHeads !== KV || cache.headDim !== hd
    ) {
      throw new Error("OrtCausalLM.logits: cache does not belong to a model with this config");
    }
    const mask = opts.mask ?? causalMask(S, P);
    if (mask.length !== S * T) {
      throw new Error(
        `OrtCausalLM.logits: mask has ${mask.length} values, expected S×(P+S) = ${S}×${T}`,
      );
    }
    const positions = opts.positions ?? Array.from({ length: S }, (_, i) => P + i);
    if (positions.length !== S) {
      throw new Error("OrtCausalLM.logits: positions.length ≠ ids.length");
    }
    const { ort, session } = this.#main;
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
      [LM_IO.inputIds]: new ort.Tensor("int64", toInt64(ids, cfg.vocab_size), [1, S]),
      [LM_IO.positionIds]: new ort.Tensor("int64", toInt64(positions), [1, S]),
      [LM_IO.attentionMask]: new ort.Tensor("float32", mask, [1, 1, S, T]),
    };
    for (let i = 0; i < cfg.num_hidden_layers; i++) {
      feeds[LM_IO.pastKey(i)] = new ort.Tensor("float32", cache.layers[i].key, [1, KV, P, hd]);
      feeds[LM_IO.pastValue(i)] = new ort.Tensor("float32", cache.layers[i].value, [1, KV, P, hd]);
    }
    const out = await session.run(feeds);
    const layers: LayerKV[] = [];
    for (let i = 0; i < cfg.num_hidden_layers; i++) {
      layers.push({
        key: out[LM_IO.presentKey(i)].data as Float32Array,
        value: out[LM_IO.presentValue(i)].data as Float32Array,
      });
    }
    return {
      logits: out[LM_IO.logits].data as Float32Array,
      hidden: out[LM_IO.lastHiddenState].data as Float32Array,
      cache: new KVCache(layers, T, KV, hd),
    };
  }

  /** See {@link CausalLM.blockInputs}. */
  blockInputs(ids: ArrayLike<number>): Float32Array {
    const d = this.config.hidden_size;
    const embed = this.weights.get("model.embed_tokens.weight")!;
    const x = new Float32Array(ids.length * d);
    for (let s = 0; s < ids.length; s++) {
      const id = checkId(ids[s], this.config.vocab_size);
      x.set(embed.subarray(id * d, id * d + d), s * d);
    }
    return x;
  }

  /** See {@link CausalLM.runBlock}. */
  async runBlock(
    layer: number,
    x: Float32Array,
    opts: { mask?: Float32Array; positions?: ArrayLike<number> } = {},
  ): Promise<BlockResult> {
    this.#check();
    const d = this.config.hidden_size;
    if (x.length === 0 || x.length % d !== 0) {
      throw new Error(`OrtCausalLM.runBlock: x has ${x.length} values, not a multiple of d = ${d}`);
    }
    const S = x.length / d;
    const mask = opts.mask ?? causalMask(S);
    if (mask.length !== S * S) {
      throw new Error(`OrtCausalLM.runBlock: mask must be S×S = ${S}×${S}`);
    }
    const positions = opts.positions ?? Array.from({ length: S }, (_, i) => i);
    if (positions.length !== S) throw new Error("OrtCausalLM.runBlock: positions.length ≠ S");
    let pending = this.#blocks.get(layer);
    if (!pending) {
      const bytes = buildBlockGraph({ config: this.config, weights: this.weights, layer });
      pending = createSessionOn(bytes, this.choice, this.opts);
      this.#blocks.set(layer, pending);
    }
    const { ort, session } = await pending;
    const out = await session.run({
      [BLOCK_IO.hiddenIn]: new ort.Tensor("float32", x, [1, S, d]),
      [BLOCK_IO.positionIds]: new ort.Tensor("int64", toInt64(positions), [1, S]),
      [BLOCK_IO.attentionMask]: new ort.Tensor("float32", mask, [1, 1, S, S]),
    });
    return {
      out: out[BLOCK_IO.hiddenOut].data as Float32Array,
      attnIn: out[BLOCK_IO.attnIn].data as Float32Array,
      oIn: out[BLOCK_IO.oIn].data as Float32Array,
      mlpIn: out[BLOCK_IO.mlpIn].data as Float32Array,
      downIn: out[BLOCK_IO.downIn].data as Float32Array,
    };
  }

  /** See {@link CausalLM.withWeights}. */
  async withWeights(patch: Map<string, Float32Array>): Promise<CausalLM> {
    this.#check();
    const shapes = llamaTensorShapes(this.config);
    const next: LlamaWeights = new Map(this.weights);
    for (const [name, w] of patch) {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`withWeights: "${name}" is not a tensor of this model`);
      const n = shape.reduce((a, s) => a * s, 1);
      if (w.length !== n) {
        throw new Error(`withWeights: "${name}" needs ${n} values [${shape}], got ${w.length}`);
      }
      next.set(name, w);
    }
    return await OrtCausalLM.create(this.config, next, {
      ...this.opts,
      choice: this.choice,
      tokenizerPath: this.tokenizerPath,
    });
  }

  /** See {@link CausalLM.close}. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#main.release();
    for (const p of this.#blocks.values()) await (await p).release();
    this.#blocks.clear();
  }
}

function checkId(id: number, vocab: number): number {
  if (!Number.isInteger(id) || id < 0 || id >= vocab) {
    throw new RangeError(`token id ${id} outside 0..${vocab - 1}`);
  }
  return id;
}

function toInt64(values: ArrayLike<number>, vocab?: number): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (vocab !== undefined) checkId(v, vocab);
    else if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`position ${v} is not a non-negative integer`);
    }
    out[i] = BigInt(v);
  }
  return out;
}

/**
 * Loads a Hugging Face LLaMA folder (`config.json`, safetensors, optional `tokenizer.json`) and
 * opens it on the requested backend.
 */
export async function loadModelFolder(
  path: string,
  opts: OrtModelOptions = {},
): Promise<OrtCausalLM> {
  const folder = await readHfModelFolder(path);
  return await OrtCausalLM.create(folder.config, folder.weights, {
    ...opts,
    tokenizerPath: folder.tokenizerPath,
  });
}
