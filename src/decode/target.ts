/**
 * {@linkcode TreeTarget} over an onnxruntime-web {@linkcode CausalLM}: the one target both decoding
 * loops run on (same session, same KV cache, same additive-mask path), so a measured speedup is
 * never an artefact of two different implementations.
 *
 * The cache is the model's immutable {@linkcode KVCache}: `forward` feeds it as the past and keeps
 * the returned `present` (prefix + new rows); `selectCache` compacts it along the accepted path
 * (`KVCache.select(tail, prefix)`: the untouched prefix, then the accepted tree rows), so no row of
 * a rejected branch survives.
 *
 * @module
 */

import { type CausalLM, KVCache } from "../model/causal_lm.ts";
import type {
  PrefillOutput,
  TargetForwardInput,
  TargetForwardOutput,
  TreeTarget,
} from "./speculative_loop.ts";

/** Options of {@linkcode OrtTreeTarget}. */
export interface OrtTreeTargetOptions {
  /**
   * Prompt rows whose hidden states `prefill` returns (default 1: the last row, all a Medusa
   * drafter reads; pass `Infinity` for every row, as sequence drafters such as Amphista need).
   */
  prefillHiddenRows?: number;
  /** Cache capacity in rows (default the model's `max_position_embeddings`). */
  maxCacheLength?: number;
}

/** Counters of the work a target did (for tests and diagnostics). */
export interface TargetCounters {
  /** Prefill calls. */
  prefills: number;
  /** Forward calls after prefill. */
  forwards: number;
  /** Tokens run through forward calls (tree sizes summed). */
  forwardTokens: number;
  /** Cache compactions that dropped at least one row. */
  compactions: number;
}

/** The target model and its KV cache, batch 1, backed by a {@linkcode CausalLM}. */
export class OrtTreeTarget implements TreeTarget {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly maxCacheLength: number;
  /** Work counters since construction. */
  readonly counters: TargetCounters = {
    prefills: 0,
    forwards: 0,
    forwardTokens: 0,
    compactions: 0,
  };
  #cache: KVCache;
  #prefillRows: number;

  /**
   * Wraps a loaded model.
   *
   * @param model the target model (not closed by this wrapper).
   * @param options prefill hidden rows, cache capacity.
   */
  constructor(readonly model: CausalLM, options: OrtTreeTargetOptions = {}) {
    this.vocabSize = model.config.vocab_size;
    this.hiddenSize = model.config.hidden_size;
    this.maxCacheLength = options.maxCacheLength ?? model.config.max_position_embeddings;
    this.#prefillRows = options.prefillHiddenRows ?? 1;
    if (!(this.#prefillRows >= 1)) {
      throw new RangeError(
        `OrtTreeTarget: prefillHiddenRows must be ≥ 1, got ${options.prefillHiddenRows}`,
      );
    }
    this.#cache = KVCache.empty(model.config);
  }

  /** Number of valid KV rows now. */
  get cacheLength(): number {
    return this.#cache.length;
  }

  /** The current cache (immutable; for tests that compare it with a fresh forward). */
  get cache(): KVCache {
    return this.#cache;
  }

  /** See {@linkcode TreeTarget.prefill}. */
  async prefill(ids: Int32Array): Promise<PrefillOutput> {
    if (ids.length === 0) throw new Error("OrtTreeTarget.prefill: the prompt is empty");
    if (ids.length > this.maxCacheLength) {
      throw new RangeError(
        `OrtTreeTarget.prefill: prompt of ${ids.length} tokens exceeds the cache capacity ` +
          `${this.maxCacheLength}; truncate the prompt`,
      );
    }
    this.counters.prefills++;
    const out = await this.model.logits(ids);
    this.#cache = out.cache;
    const V = this.vocabSize, d = this.hiddenSize, S = ids.length;
    const m = Math.min(S, this.#prefillRows);
    return {
      logits: out.logits.slice((S - 1) * V, S * V),
      hidden: out.hidden.slice((S - m) * d, S * d),
    };
  }

  /** See {@linkcode TreeTarget.forward}. */
  async forward(input: TargetForwardInput): Promise<TargetForwardOutput> {
    const T = input.tokens.length;
    const P = this.#cache.length;
    if (T === 0) throw new Error("OrtTreeTarget.forward: no tokens");
    if (input.positions.length !== T) {
      throw new Error(
        `OrtTreeTarget.forward: ${input.positions.length} positions for ${T} tokens`,
      );
    }
    if (input.attentionBias.length !== T * (P + T)) {
      throw new Error(
        `OrtTreeTarget.forward: attentionBias has ${input.attentionBias.length} values, ` +
          `expected [T, cacheLength + T] = ${T}×${P + T}`,
      );
    }
    if (P + T > this.maxCacheLength) {
      throw new RangeError(
        `OrtTreeTarget.forward: ${P} cached + ${T} new rows exceed the capacity ${this.maxCacheLength}`,
      );
    }
    this.counters.forwards++;
    this.counters.forwardTokens += T;
    const out = await this.model.logits(input.tokens, {
      cache: this.#cache,
      mask: input.attentionBias,
      positions: input.positions,
    });
    this.#cache = out.cache;
    return { logits: out.logits, hidden: out.hidden };
  }

  /** See {@linkcode TreeTarget.selectCache}. */
  selectCache(rows: Int32Array): void {
    const L = this.#cache.length;
    // Keep the longest identity prefix untouched; gather only the tail.
    let prefix = 0;
    while (prefix < rows.length && rows[prefix] === prefix) prefix++;
    if (prefix === rows.length && prefix === L) return;
    for (let i = prefix; i < rows.length; i++) {
      if (rows[i] >= L || (i > 0 && rows[i] <= rows[i - 1])) {
        throw new RangeError(
          `OrtTreeTarget.selectCache: rows must be strictly increasing and < ${L}; rows[${i}] = ${
            rows[i]
          }`,
        );
      }
    }
    this.counters.compactions++;
    this.#cache = compactCache(this.#cache, prefix, rows.subarray(prefix));
  }

  /** Drops the cache (the next call must be `prefill`). */
  reset(): void {
    this.#cache = KVCache.empty(this.model.config);
  }
}

/**
 * `cache.select(tail, prefix)` with the identity prefix copied as one block per kv head (the
 * general `select` copies row by row): keeps rows `0..prefix−1`, then `tail`.
 *
 * @param cache the cache to compact.
 * @param prefix rows kept as they are.
 * @param tail further rows to keep, in order (each `≥ prefix` and `< cache.length`).
 * @returns the compacted cache.
 */
export function compactCache(cache: KVCache, prefix: number, tail: ArrayLike<number>): KVCache {
  const H = cache.kvHeads, hd = cache.headDim, P = cache.length;
  const L = prefix + tail.length;
  const gather = (src: Float32Array): Float32Array => {
    const out = new Float32Array(H * L * hd);
    for (let h = 0; h < H; h++) {
      out.set(src.subarray(h * P * hd, (h * P + prefix) * hd), h * L * hd);
      for (let i = 0; i < tail.length; i++) {
        const from = (h * P + tail[i]) * hd;
        out.set(src.subarray(from, from + hd), (h * L + prefix + i) * hd);
      }
    }
    return out;
  };
  return new KVCache(
    cache.layers.map((l) => ({ key: gather(l.key), value: gather(l.value) })),
    L,
    H,
    hd,
  );
}
