/**
 * Distributions over a vocabulary and a seeded random source: argmax, softmax with temperature,
 * entropy, top-k, a mulberry32 PRNG and seeded sampling. Pure functions over typed arrays.
 *
 * A "logits row" is a contiguous slice of a row-major `[rows, vocabSize]` array; every function
 * here takes an optional `offset` so callers can pass the whole matrix and a row start without
 * copying.
 *
 * @module
 */

/** Anything indexable like a typed array of numbers (logits, probabilities). */
export type NumericArray = ArrayLike<number>;

/** A source of uniform random numbers in [0, 1). */
export type RandomSource = () => number;

/**
 * Index of the largest value in `x[offset, offset + length)`, relative to `offset`; the first
 * index wins on ties (like `torch.argmax`). NaN entries are never chosen unless all are NaN.
 *
 * @param x values.
 * @param offset start of the row (default 0).
 * @param length length of the row (default `x.length - offset`).
 * @returns the row-relative index of the maximum; -1 for an empty row.
 */
export function argmax(x: NumericArray, offset = 0, length: number = x.length - offset): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = x[offset + i];
    if (v > bestValue) {
      best = i;
      bestValue = v;
    }
  }
  // A row of only -Infinity / NaN: the first index, as torch would for -Infinity.
  return best < 0 && length > 0 ? 0 : best;
}

/**
 * Indices of the `k` largest values of a row, in descending order of value; ties keep the lower
 * index first (a stable order, so results are reproducible across runtimes).
 *
 * @param x values.
 * @param k how many indices to return (clamped to the row length).
 * @param offset start of the row (default 0).
 * @param length length of the row (default `x.length - offset`).
 * @returns row-relative indices, best first.
 */
export function topK(
  x: NumericArray,
  k: number,
  offset = 0,
  length: number = x.length - offset,
): Int32Array {
  const n = Math.max(0, Math.min(k, length));
  const out = new Int32Array(n);
  const vals = new Float64Array(n);
  let filled = 0;
  for (let i = 0; i < length; i++) {
    const v = Number.isNaN(x[offset + i]) ? -Infinity : x[offset + i];
    if (filled === n && !(v > vals[n - 1])) continue;
    // Insertion position: after every entry with value >= v (stable on ties).
    let pos = filled === n ? n - 1 : filled;
    while (pos > 0 && vals[pos - 1] < v) {
      if (pos < n) {
        vals[pos] = vals[pos - 1];
        out[pos] = out[pos - 1];
      }
      pos--;
    }
    vals[pos] = v;
    out[pos] = i;
    if (filled < n) filled++;
  }
  return out;
}

/**
 * Softmax of `logits / temperature` over one row, computed in float64 with the maximum subtracted.
 *
 * @param logits values.
 * @param options `temperature` (> 0, default 1), `offset`, `length` of the row.
 * @returns probabilities summing to 1, as a new Float64Array of the row's length.
 */
export function softmax(
  logits: NumericArray,
  options: { temperature?: number; offset?: number; length?: number } = {},
): Float64Array {
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0)) {
    throw new RangeError(
      `softmax: temperature must be > 0, got ${temperature}; use argmax for greedy decoding`,
    );
  }
  const offset = options.offset ?? 0;
  const length = options.length ?? logits.length - offset;
  const p = new Float64Array(length);
  let max = -Infinity;
  for (let i = 0; i < length; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const e = Math.exp((logits[offset + i] - max) / temperature);
    p[i] = e;
    sum += e;
  }
  for (let i = 0; i < length; i++) p[i] /= sum;
  return p;
}

/**
 * Shannon entropy in nats, `−Σ p·log(p + eps)`. With `eps = 0` (the default) zero-probability
 * terms contribute 0; Medusa's typical acceptance uses `eps = 1e-5`.
 *
 * @param p probabilities.
 * @param eps smoothing added inside the logarithm (default 0).
 * @returns the entropy in nats.
 */
export function entropy(p: NumericArray, eps = 0): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (v > 0 || eps > 0) h -= v * Math.log(v + eps);
  }
  return h;
}

/**
 * mulberry32: a small, fast, seeded 32-bit PRNG. The same seed gives the same sequence on every
 * runtime.
 *
 * @param seed any integer (taken modulo 2³²).
 * @returns a function returning uniform numbers in [0, 1).
 */
export function mulberry32(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Draws an index from a probability vector by inverse CDF with one uniform number.
 *
 * @param p probabilities (need not be exactly normalised; the total is used).
 * @param random the uniform source.
 * @returns the sampled index.
 */
export function sampleIndex(p: NumericArray, random: RandomSource): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i];
  const u = random() * total;
  let acc = 0;
  let last = -1;
  for (let i = 0; i < p.length; i++) {
    if (p[i] <= 0) continue;
    acc += p[i];
    last = i;
    if (u < acc) return i;
  }
  return last < 0 ? 0 : last;
}

/** Options of {@linkcode sampleFromLogits}. */
export interface SampleOptions {
  /** Softmax temperature; 0 means greedy (argmax, no random number drawn). */
  temperature: number;
  /** Uniform source, e.g. `mulberry32(seed)`; required when `temperature > 0`. */
  random?: RandomSource;
  /** Nucleus filter: keep the smallest set of top tokens whose mass reaches `topP` (default 1). */
  topP?: number;
  /** Start of the row in `logits` (default 0). */
  offset?: number;
  /** Length of the row (default `logits.length - offset`). */
  length?: number;
}

/**
 * Picks the next token from a logits row: argmax at temperature 0, otherwise a seeded draw from
 * `softmax(logits / T)`, optionally nucleus-filtered.
 *
 * @param logits the row (or a matrix plus `offset`/`length`).
 * @param options temperature, random source, top-p.
 * @returns the chosen token id (row-relative).
 */
export function sampleFromLogits(logits: NumericArray, options: SampleOptions): number {
  const offset = options.offset ?? 0;
  const length = options.length ?? logits.length - offset;
  if (options.temperature === 0) return argmax(logits, offset, length);
  if (options.random === undefined) {
    throw new Error("sampleFromLogits: options.random is required when temperature > 0");
  }
  const p = softmax(logits, { temperature: options.temperature, offset, length });
  const topP = options.topP ?? 1;
  if (topP < 1) {
    const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a] || a - b);
    let mass = 0;
    let cut = order.length;
    for (let i = 0; i < order.length; i++) {
      mass += p[order[i]];
      if (mass >= topP) {
        cut = i + 1;
        break;
      }
    }
    for (let i = cut; i < order.length; i++) p[order[i]] = 0;
  }
  return sampleIndex(p, options.random);
}
