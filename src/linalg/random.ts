/**
 * Small deterministic pseudo-random generators for tests, benches and synthetic data.
 *
 * `mulberry32` is a 32-bit state generator (public-domain algorithm by Tommy Ettinger); it is
 * fast, has a period of 2³², and, given the same seed, yields the same sequence on every platform
 * (it only uses 32-bit integer arithmetic). It is **not** cryptographic.
 *
 * @module
 */

import { addGramUpper, symmetrizeFromUpper } from "./matrix.ts";

/** A source of uniform numbers in [0, 1). */
export type UniformSource = () => number;

/**
 * Creates a mulberry32 generator.
 *
 * @param seed Any number; it is reduced to an unsigned 32-bit integer.
 * @returns A function returning uniform numbers in [0, 1) with 32 bits of resolution.
 * @example
 * ```ts
 * const rand = mulberry32(42);
 * const u = rand(); // same value on every run
 * ```
 */
export function mulberry32(seed: number): UniformSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Turns a uniform source into a standard-normal source (Box–Muller, both values of each pair
 * used, so the output is deterministic given the uniform source).
 *
 * @param uniform A uniform [0, 1) source such as {@link mulberry32}.
 * @returns A function returning N(0, 1) samples.
 */
export function gaussian(uniform: UniformSource): () => number {
  let spare = 0;
  let hasSpare = false;
  return () => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    // 1 - u is in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    hasSpare = true;
    return r * Math.cos(theta);
  };
}

/** Options for {@link fillGaussian}. */
export interface FillGaussianOptions {
  /** Mean of the samples (default 0). */
  mean?: number;
  /** Standard deviation of the samples (default 1). */
  std?: number;
}

/**
 * Fills an array in place with normal samples drawn from `normal`.
 *
 * @param out Array to fill.
 * @param normal A standard-normal source such as `gaussian(mulberry32(seed))`.
 * @param options Mean and standard deviation.
 * @returns `out`, for chaining.
 */
export function fillGaussian<T extends Float32Array | Float64Array>(
  out: T,
  normal: () => number,
  options: FillGaussianOptions = {},
): T {
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  for (let i = 0; i < out.length; i++) out[i] = mean + std * normal();
  return out;
}

/** Options for {@link randomSpd}. */
export interface RandomSpdOptions {
  /** Seed of the generator (default 0). */
  seed?: number;
  /** Number of random samples behind the Gram matrix (default 2n); fewer than n is singular. */
  samples?: number;
  /** Added to the diagonal (default 0). */
  ridge?: number;
}

/**
 * A random symmetric positive-(semi)definite n×n matrix `GᵀG / samples + ridge·I` with G a
 * `samples × n` standard-normal matrix, deterministic given the seed.
 *
 * @param n Order.
 * @param options Seed, sample count, ridge.
 * @returns Row-major n×n matrix.
 */
export function randomSpd(n: number, options: RandomSpdOptions = {}): Float64Array {
  const samples = options.samples ?? 2 * n;
  const g = fillGaussian(new Float64Array(samples * n), gaussian(mulberry32(options.seed ?? 0)));
  const a = new Float64Array(n * n);
  addGramUpper(a, g, { rows: samples, cols: n, scale: 1 / samples });
  symmetrizeFromUpper(a, n);
  const ridge = options.ridge ?? 0;
  for (let i = 0; i < n; i++) a[i * n + i] += ridge;
  return a;
}
