/**
 * A byte-level BPE trainer (the GPT-2 scheme) that writes a Hugging Face `tokenizer.json`.
 *
 * Training is deterministic: words come from the GPT-2 pre-tokenisation regex, the most frequent
 * adjacent pair is merged at each step, and ties are broken by the smaller (left, right) symbol
 * id pair. The same input gives a byte-identical file.
 *
 * @module
 */

/** The pre-tokenisation regex of GPT-2 and of Hugging Face's `ByteLevel` pre-tokenizer. */
export const GPT2_SPLIT_REGEX =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible map from bytes to printable unicode characters. */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return table;
}

/** Options for {@linkcode trainByteLevelBpe}. */
export interface BpeTrainOptions {
  /** Total vocabulary size, special tokens and the 256 byte symbols included. */
  vocabSize: number;
  /** Special tokens, given the first ids (default `["<|endoftext|>"]`). */
  specialTokens?: string[];
  /** Pairs seen fewer times than this are never merged (default 2). */
  minFrequency?: number;
  /** Called every 256 merges with the number of merges done. */
  onProgress?: (merges: number, total: number) => void;
}

/** Counts the pre-tokenised words of some texts. */
export function countWords(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.matchAll(GPT2_SPLIT_REGEX)) {
      const w = m[0];
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  }
  return counts;
}

/** Max-heap of (count, pair key) with lazy invalidation. */
class PairHeap {
  #counts: number[] = [];
  #keys: number[] = [];
  get size(): number {
    return this.#counts.length;
  }
  #above(i: number, j: number): boolean {
    const c = this.#counts, k = this.#keys;
    return c[i] > c[j] || (c[i] === c[j] && k[i] < k[j]);
  }
  #swap(i: number, j: number): void {
    const c = this.#counts, k = this.#keys;
    [c[i], c[j]] = [c[j], c[i]];
    [k[i], k[j]] = [k[j], k[i]];
  }
  push(count: number, key: number): void {
    this.#counts.push(count);
    this.#keys.push(key);
    let i = this.#counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#above(i, p)) break;
      this.#swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.#counts[0], this.#keys[0]];
    const lastC = this.#counts.pop()!, lastK = this.#keys.pop()!;
    if (this.#counts.length > 0) {
      this.#counts[0] = lastC;
      this.#keys[0] = lastK;
      let i = 0;
      const n = this.#counts.length;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < n && this.#above(l, m)) m = l;
        if (r < n && this.#above(r, m)) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

const PAIR_BASE = 1 << 16;

/** The Hugging Face `tokenizer.json` object this trainer writes. */
export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: Array<Record<string, unknown>>;
  normalizer: null;
  pre_tokenizer: Record<string, unknown>;
  post_processor: Record<string, unknown>;
  decoder: Record<string, unknown>;
  model: {
    type: "BPE";
    vocab: Record<string, number>;
    merges: string[];
    [k: string]: unknown;
  };
}

/**
 * Trains byte-level BPE on word counts (see {@linkcode countWords}) and returns a Hugging Face
 * `tokenizer.json` object with ids: special tokens, then the 256 bytes in byte order, then merges.
 */
export function trainByteLevelBpe(
  wordCounts: Map<string, number>,
  opts: BpeTrainOptions,
): TokenizerJson {
  const specials = opts.specialTokens ?? ["<|endoftext|>"];
  const minFrequency = opts.minFrequency ?? 2;
  const totalMerges = opts.vocabSize - specials.length - 256;
  if (totalMerges < 0) {
    throw new Error(`vocabSize ${opts.vocabSize} is below ${specials.length + 256}`);
  }
  const b2u = bytesToUnicode();
  // Symbol table: ids 0..255 are bytes, 256.. are merges. Strings are in byte-level unicode form.
  const symbols: string[] = b2u.slice();
  const enc = new TextEncoder();
  // Sort words so that word indices (and so everything downstream) do not depend on Map order.
  const entries = [...wordCounts.entries()].sort((
    a,
    b,
  ) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const words: number[][] = entries.map(([w]) => Array.from(enc.encode(w)));
  const freq: number[] = entries.map(([, c]) => c);
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  for (let w = 0; w < words.length; w++) {
    const s = words[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i] * PAIR_BASE + s[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + freq[w]);
      let set = pairWords.get(key);
      if (!set) pairWords.set(key, set = new Set());
      set.add(w);
    }
  }
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);
  const merges: string[] = [];
  const changed = new Set<number>();
  while (merges.length < totalMerges && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCount.get(key) !== count) continue; // stale entry
    if (count < minFrequency) break;
    const a = Math.floor(key / PAIR_BASE), b = key % PAIR_BASE;
    const c = symbols.length;
    symbols.push(symbols[a] + symbols[b]);
    merges.push(`${symbols[a]} ${symbols[b]}`);
    changed.clear();
    const where = [...(pairWords.get(key) ?? [])].sort((x, y) => x - y);
    for (const w of where) {
      const s = words[w];
      let hit = false;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) hit = true;
      if (!hit) continue;
      const f = freq[w];
      for (let i = 0; i + 1 < s.length; i++) {
        const k = s[i] * PAIR_BASE + s[i + 1];
        pairCount.set(k, pairCount.get(k)! - f);
        changed.add(k);
      }
      const next: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(c);
          i++;
        } else next.push(s[i]);
      }
      words[w] = next;
      for (let i = 0; i + 1 < next.length; i++) {
        const k = next[i] * PAIR_BASE + next[i + 1];
        pairCount.set(k, (pairCount.get(k) ?? 0) + f);
        changed.add(k);
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, set = new Set());
        set.add(w);
      }
    }
    for (const k of changed) {
      const n = pairCount.get(k)!;
      if (n > 0) heap.push(n, k);
      else {
        pairCount.delete(k);
        pairWords.delete(k);
      }
    }
    if (opts.onProgress && merges.length % 256 === 0) opts.onProgress(merges.length, totalMerges);
  }
  const vocab: Record<string, number> = {};
  specials.forEach((t, i) => vocab[t] = i);
  symbols.forEach((s, i) => vocab[s] = specials.length + i);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: "ByteLevel",
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    },
    post_processor: {
      type: "ByteLevel",
      add_prefix_space: false,
      trim_offsets: false,
      use_regex: true,
    },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}
