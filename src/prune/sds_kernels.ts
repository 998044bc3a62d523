/**
 * Numerical kernels behind SDS's layer-wise optimisation (`sds.ts`): the per-iteration product of
 * a weight-difference matrix with the symmetric input statistic ({@link SymmetricProduct}, a
 * WebAssembly SIMD kernel), a plain Float64 product for one-off use ({@link multiplySymmetric}),
 * the largest eigenvalue of the statistic, and exact mask selection from magnitudes that reuses
 * scratch memory across iterations.
 *
 * Every kernel is deterministic: a fixed operation order, no randomness, no threads, IEEE
 * arithmetic only (WebAssembly SIMD `f32x4.mul`/`f32x4.add` are exactly rounded, not fused), so
 * the same inputs give bit-identical outputs on every machine.
 *
 * @module
 */

import type { NMPattern } from "./pattern.ts";

// ---------------------------------------------------------------------------------------------
// WebAssembly SIMD product
//
// Plain TypeScript tops out near 2.5 G multiply-adds per second on one core here; SDS needs
// `rows·cols²` of them per iteration (121 M for a 256×688 down_proj, 200+ iterations per step).
// The kernel below, a few hundred bytes of hand-assembled WebAssembly, does the same product with
// 4-lane f32 SIMD at about 14 G multiply-adds per second (measured: `bench/sds_bench.ts`).
//
// Function `mul(p, s, g, rows, n, k0, kc)`, all byte offsets into one memory, f32 row-major:
//   for i in 0..rows step 4, j in 0..n step 8:
//     acc[4×8] = G[i..i+4, j..j+8]
//     for k in k0..k0+kc: acc[r, :] += P[i+r, k] · S[k, j..j+8]      (two f32x4 per row)
//     G[i..i+4, j..j+8] = acc
// `rows` must be a multiple of 4 and `n` of 8 (the caller pads with zeros); the caller walks
// `k0` in chunks of KCHUNK so that the rows of S in use stay in the L2 cache.

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function productModuleBytes(): Uint8Array<ArrayBuffer> {
  const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
  const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
  const name = (t: string) => [...uleb(t.length), ...[...t].map((c) => c.charCodeAt(0))];
  const I32 = 0x7f, V128 = 0x7b;
  const get = (i: number) => [0x20, ...uleb(i)];
  const set = (i: number) => [0x21, ...uleb(i)];
  const tee = (i: number) => [0x22, ...uleb(i)];
  const i32 = (v: number) => [0x41, ...sleb(v)];
  const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
  const v128Load = (offset: number) => simd(0x00, 4, ...uleb(offset));
  const v128Store = (offset: number) => simd(0x0b, 4, ...uleb(offset));
  const f32Load = [0x2a, 2, 0];
  const splat = simd(0x13), add = simd(0xe4), mul = simd(0xe6); // f32x4.splat/add/mul
  const ADD = 0x6a, MUL = 0x6c, SHL = 0x74, LT_U = 0x49, SUB = 0x6b;
  const LOOP = [0x03, 0x40], END = 0x0b, BR_IF0 = [0x0d, 0];
  // Parameters 0–6, then i32 locals 7–14, then v128 locals 15–25.
  const P = 0, S = 1, G = 2, ROWS = 3, N = 4, K0 = 5, KC = 6;
  const I = 7, J = 8, K = 9, RS = 10, PP = 11, SP = 12, GP = 13, RB = 14;
  const ACC = 15, H0 = 23, H1 = 24, X = 25;
  const code: number[] = [];
  const emit = (...xs: (number | number[])[]) => {
    for (const x of xs) Array.isArray(x) ? code.push(...x) : code.push(x);
  };
  const rowAddress = (base: number, r: number) => {
    emit(get(base));
    for (let q = 0; q < r; q++) emit(get(RS), ADD);
  };
  emit(get(N), i32(2), SHL, set(RS)); // row stride in bytes
  emit(i32(0), set(I));
  emit(LOOP); // rows
  emit(get(P), get(I), get(RS), MUL, ADD, get(K0), i32(2), SHL, ADD, set(RB)); // &P[i, k0]
  emit(i32(0), set(J));
  emit(LOOP); // column tiles
  emit(get(G), get(I), get(RS), MUL, ADD, get(J), i32(2), SHL, ADD, set(GP)); // &G[i, j]
  for (let r = 0; r < 4; r++) {
    rowAddress(GP, r);
    emit(v128Load(0), set(ACC + 2 * r));
    rowAddress(GP, r);
    emit(v128Load(16), set(ACC + 2 * r + 1));
  }
  emit(get(RB), set(PP));
  emit(get(S), get(K0), get(RS), MUL, ADD, get(J), i32(2), SHL, ADD, set(SP)); // &S[k0, j]
  emit(get(KC), set(K));
  emit(LOOP); // k
  emit(get(SP), v128Load(0), set(H0), get(SP), v128Load(16), set(H1));
  for (let r = 0; r < 4; r++) {
    rowAddress(PP, r);
    emit(f32Load, splat, set(X));
    emit(get(ACC + 2 * r), get(X), get(H0), mul, add, set(ACC + 2 * r));
    emit(get(ACC + 2 * r + 1), get(X), get(H1), mul, add, set(ACC + 2 * r + 1));
  }
  emit(get(PP), i32(4), ADD, set(PP));
  emit(get(SP), get(RS), ADD, set(SP));
  emit(get(K), i32(1), SUB, tee(K), BR_IF0, END);
  for (let r = 0; r < 4; r++) {
    emit(get(GP), get(ACC + 2 * r), v128Store(0), get(GP), get(ACC + 2 * r + 1), v128Store(16));
    emit(get(GP), get(RS), ADD, set(GP));
  }
  emit(get(J), i32(8), ADD, tee(J), get(N), LT_U, BR_IF0, END);
  emit(get(I), i32(4), ADD, tee(I), get(ROWS), LT_U, BR_IF0, END);
  emit(END);
  const body = [...vec([[...uleb(8), I32], [...uleb(11), V128]]), ...code];
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", version 1
  return new Uint8Array([
    ...header,
    ...section(1, vec([[0x60, ...vec(Array.from({ length: 7 }, () => [I32])), 0]])), // (i32×7) → ()
    ...section(2, vec([[...name("env"), ...name("mem"), 0x02, 0x00, 0x01]])), // import memory
    ...section(3, vec([[0]])), // one function of type 0
    ...section(7, vec([[...name("mul"), 0x00, 0]])), // export it as "mul"
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

const PRODUCT_MODULE = new WebAssembly.Module(productModuleBytes());

/** Columns of S per kernel call (keeps the rows of S in use cache-resident). */
const KCHUNK = 128;

type MulFn = (
  p: number,
  s: number,
  g: number,
  rows: number,
  n: number,
  k0: number,
  kc: number,
) => void;

/**
 * `G = D · S` for many `D` against one fixed symmetric `S` (`cols × cols`), `D` and `G` row-major
 * `rows × cols`, in f32 SIMD: `D` and `S` are rounded to f32 and each output is an f32 sum, so
 * outputs carry a relative error of about `1e-7·√cols` of the row's scale — SDS feeds it weight
 * *differences* `W − W_dense`, so the error is relative to the gradient itself, never to the
 * weights. Each instance owns its WebAssembly memory (no shared state).
 */
export class SymmetricProduct {
  readonly #rows: number;
  readonly #cols: number;
  readonly #rowsPadded: number;
  readonly #colsPadded: number;
  readonly #d: Float32Array;
  readonly #g: Float32Array;
  readonly #mul: MulFn;
  readonly #offsets: { d: number; s: number; g: number };

  /**
   * Copies `S` (rounded to f32, zero-padded) into a new WebAssembly memory.
   *
   * @param rows Rows of the matrices `D` that will be multiplied.
   * @param cols Order of `S`.
   * @param s Row-major symmetric `cols × cols`.
   */
  constructor(rows: number, cols: number, s: ArrayLike<number>) {
    this.#rows = rows;
    this.#cols = cols;
    const rp = Math.ceil(rows / 4) * 4;
    const cp = Math.ceil(cols / 8) * 8;
    this.#rowsPadded = rp;
    this.#colsPadded = cp;
    const bytes = (2 * rp * cp + cp * cp) * 4;
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) });
    const instance = new WebAssembly.Instance(PRODUCT_MODULE, { env: { mem: memory } });
    this.#mul = instance.exports.mul as MulFn;
    const d = 0, sOff = rp * cp * 4, g = sOff + cp * cp * 4;
    this.#offsets = { d, s: sOff, g };
    this.#d = new Float32Array(memory.buffer, d, rp * cp);
    this.#g = new Float32Array(memory.buffer, g, rp * cp);
    const s32 = new Float32Array(memory.buffer, sOff, cp * cp);
    for (let i = 0; i < cols; i++) {
      for (let j = 0; j < cols; j++) s32[i * cp + j] = s[i * cols + j];
    }
  }

  /**
   * `out = D · S`.
   *
   * @param d Row-major `rows × cols` (read).
   * @param out Row-major `rows × cols` (overwritten).
   */
  multiply(d: ArrayLike<number>, out: Float64Array): void {
    const rows = this.#rows, cols = this.#cols, cp = this.#colsPadded;
    const d32 = this.#d, g32 = this.#g;
    for (let r = 0; r < rows; r++) {
      const o = r * cols, op = r * cp;
      for (let c = 0; c < cols; c++) d32[op + c] = d[o + c];
    }
    g32.fill(0);
    const { d: dOff, s: sOff, g: gOff } = this.#offsets;
    for (let k0 = 0; k0 < cp; k0 += KCHUNK) {
      this.#mul(dOff, sOff, gOff, this.#rowsPadded, cp, k0, Math.min(KCHUNK, cp - k0));
    }
    for (let r = 0; r < rows; r++) {
      const o = r * cols, op = r * cp;
      for (let c = 0; c < cols; c++) out[o + c] = g32[op + c];
    }
  }
}

/**
 * `G = P · S` for a row-major `rows × cols` matrix `P` and a symmetric `cols × cols` matrix `S`
 * (so row `p` of `S` is also its column `p`), overwriting `G`.
 *
 * Loop order: four rows of `P` and two of its columns per pass, the inner loop streaming one
 * contiguous row pair of `S` into four contiguous rows of `G` (which stay in L1 cache). Passes
 * whose eight `P` values are all zero are skipped, so a sparse `P` costs less.
 *
 * @param p Row-major `rows × cols`.
 * @param s Row-major symmetric `cols × cols`.
 * @param g Output, row-major `rows × cols` (overwritten).
 * @param rows Rows of `P`.
 * @param cols Columns of `P`, order of `S`.
 */
export function multiplySymmetric(
  p: Float64Array,
  s: Float64Array,
  g: Float64Array,
  rows: number,
  cols: number,
): void {
  g.fill(0);
  let i = 0;
  for (; i + 3 < rows; i += 4) {
    const o0 = i * cols, o1 = o0 + cols, o2 = o1 + cols, o3 = o2 + cols;
    let k = 0;
    for (; k + 1 < cols; k += 2) {
      const x0 = p[o0 + k], x1 = p[o1 + k], x2 = p[o2 + k], x3 = p[o3 + k];
      const y0 = p[o0 + k + 1], y1 = p[o1 + k + 1], y2 = p[o2 + k + 1], y3 = p[o3 + k + 1];
      if (
        x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0 && y0 === 0 && y1 === 0 && y2 === 0 &&
        y3 === 0
      ) continue;
      const sk = k * cols, sl = sk + cols;
      for (let j = 0; j < cols; j++) {
        const a = s[sk + j], b = s[sl + j];
        g[o0 + j] += x0 * a + y0 * b;
        g[o1 + j] += x1 * a + y1 * b;
        g[o2 + j] += x2 * a + y2 * b;
        g[o3 + j] += x3 * a + y3 * b;
      }
    }
    for (; k < cols; k++) {
      const x0 = p[o0 + k], x1 = p[o1 + k], x2 = p[o2 + k], x3 = p[o3 + k];
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
      const sk = k * cols;
      for (let j = 0; j < cols; j++) {
        const a = s[sk + j];
        g[o0 + j] += x0 * a;
        g[o1 + j] += x1 * a;
        g[o2 + j] += x2 * a;
        g[o3 + j] += x3 * a;
      }
    }
  }
  for (; i < rows; i++) {
    const o = i * cols;
    for (let k = 0; k < cols; k++) {
      const x = p[o + k];
      if (x === 0) continue;
      const sk = k * cols;
      for (let j = 0; j < cols; j++) g[o + j] += x * s[sk + j];
    }
  }
}

/**
 * Largest eigenvalue of a symmetric positive semi-definite matrix by power iteration from the
 * all-ones vector (deterministic), stopped when the Rayleigh quotient changes by less than
 * `1e-9` relative or after `maxIters` products. Power iteration approaches the top eigenvalue
 * from below; callers that need an upper bound should add a margin.
 *
 * @param s Row-major symmetric `n × n`.
 * @param n Order.
 * @param maxIters Maximum number of matrix-vector products (default 200).
 * @returns The estimate (0 for the zero matrix).
 */
export function largestEigenvalue(s: ArrayLike<number>, n: number, maxIters = 200): number {
  let v = new Float64Array(n).fill(1 / Math.sqrt(n));
  let u = new Float64Array(n);
  let lambda = 0;
  for (let it = 0; it < maxIters; it++) {
    let norm = 0;
    let rq = 0;
    for (let i = 0; i < n; i++) {
      const o = i * n;
      let t = 0;
      for (let j = 0; j < n; j++) t += s[o + j] * v[j];
      u[i] = t;
      norm += t * t;
      rq += t * v[i];
    }
    norm = Math.sqrt(norm);
    if (norm === 0) return 0;
    const done = it > 0 && Math.abs(rq - lambda) <= 1e-9 * Math.abs(rq);
    lambda = rq;
    if (done) break;
    for (let i = 0; i < n; i++) u[i] /= norm;
    [v, u] = [u, v];
  }
  return lambda;
}

/** Histogram bins of the matrix-wide selection's first pass. */
const SELECT_BINS = 4096;

/**
 * Reusable exact k-smallest selection over magnitudes: the mask keeps everything except the
 * `k` entries of smallest `|w|` in each selection group, ties broken by the lower flat index —
 * the same (value, index) order as `matrixMaskFromScores` / `rowMaskFromScores` /
 * `nmMaskFromScores` on `|W|`, so a magnitude mask chosen here equals magnitude pruning's.
 * Scratch memory is allocated once; SDS's step 3b calls it every iteration.
 */
export class MagnitudeMasker {
  readonly #rows: number;
  readonly #cols: number;
  readonly #abs: Float64Array;
  readonly #candidates: Float64Array;
  readonly #bins = new Int32Array(SELECT_BINS);
  #rank = new Int32Array(8);

  /**
   * Creates a masker for `rows × cols` matrices.
   *
   * @param rows Output dimension.
   * @param cols Input dimension.
   */
  constructor(rows: number, cols: number) {
    this.#rows = rows;
    this.#cols = cols;
    this.#abs = new Float64Array(rows * cols);
    this.#candidates = new Float64Array(rows * cols);
  }

  /**
   * Prunes the `k` smallest `|w|` of the whole matrix (ties: lower flat index first). A
   * histogram pass over `|w|` finds the bin holding the k-th smallest value, and only that bin's
   * entries are quickselected.
   *
   * @param w Row-major weights.
   * @param k Number to prune.
   * @param mask Output mask (1 = keep), overwritten.
   */
  matrix(w: ArrayLike<number>, k: number, mask: Uint8Array): void {
    const n = w.length;
    if (k <= 0 || k >= n) {
      mask.fill(k <= 0 ? 1 : 0);
      return;
    }
    const abs = this.#abs;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const a = Math.abs(w[i]);
      abs[i] = a;
      if (a > max) max = a;
    }
    const bins = this.#bins.fill(0);
    const scale = max > 0 ? SELECT_BINS / max : 0;
    for (let i = 0; i < n; i++) {
      const b = Math.floor(abs[i] * scale);
      bins[b < SELECT_BINS ? b : SELECT_BINS - 1]++;
    }
    let bin = 0, below = 0;
    while (below + bins[bin] < k) below += bins[bin++];
    const cand = this.#candidates;
    let c = 0;
    for (let i = 0; i < n; i++) {
      const b = Math.floor(abs[i] * scale);
      if ((b < SELECT_BINS ? b : SELECT_BINS - 1) === bin) cand[c++] = abs[i];
    }
    const t = kthSmallest(cand.subarray(0, c), k - below - 1);
    markBelow(abs, 0, n, k, t, mask);
  }

  /**
   * Prunes the `k` smallest `|w|` of every row (ties: lower column first).
   *
   * @param w Row-major weights.
   * @param k Number to prune per row.
   * @param mask Output mask (1 = keep), overwritten.
   */
  row(w: ArrayLike<number>, k: number, mask: Uint8Array): void {
    const cols = this.#cols;
    const abs = this.#abs;
    for (let i = 0; i < w.length; i++) abs[i] = Math.abs(w[i]);
    for (let r = 0; r < this.#rows; r++) {
      const start = r * cols;
      if (k <= 0 || k >= cols) {
        mask.fill(k <= 0 ? 1 : 0, start, start + cols);
        continue;
      }
      const cand = this.#candidates.subarray(0, cols);
      cand.set(abs.subarray(start, start + cols));
      markBelow(abs, start, cols, k, kthSmallest(cand, k - 1), mask);
    }
  }

  /**
   * N:M: in every row and aligned group of `m` columns, prunes the `n` smallest `|w|` (ties:
   * lower column first): each entry's rank within its group is counted by comparing every pair
   * once (`m(m−1)/2` comparisons per group, no calls).
   *
   * @param w Row-major weights (`cols` a multiple of `m`).
   * @param pattern The N:M pattern.
   * @param mask Output mask (1 = keep), overwritten.
   */
  nm(w: ArrayLike<number>, pattern: NMPattern, mask: Uint8Array): void {
    const { n, m } = pattern;
    const abs = this.#abs;
    const rank = this.#rank.length >= m ? this.#rank : (this.#rank = new Int32Array(m));
    for (let i = 0; i < w.length; i++) abs[i] = Math.abs(w[i]);
    for (let g = 0; g < w.length; g += m) {
      for (let c = 0; c < m; c++) rank[c] = 0;
      for (let c = 0; c < m; c++) {
        const v = abs[g + c];
        for (let d = c + 1; d < m; d++) {
          // d is after c: it precedes c only when strictly smaller
          if (abs[g + d] < v) rank[c]++;
          else rank[d]++;
        }
      }
      for (let c = 0; c < m; c++) mask[g + c] = rank[c] < n ? 0 : 1;
    }
  }
}

/**
 * Given the k-th smallest value `t` of `abs[start .. start+count)`, prunes (mask 0) everything
 * below `t` and entries equal to `t` in index order until `k` are pruned; keeps the rest.
 */
function markBelow(
  abs: Float64Array,
  start: number,
  count: number,
  k: number,
  t: number,
  mask: Uint8Array,
): void {
  const end = start + count;
  let below = 0;
  for (let i = start; i < end; i++) if (abs[i] < t) below++;
  let ties = k - below; // entries equal to t to prune, lowest index first
  for (let i = start; i < end; i++) {
    const v = abs[i];
    if (v < t) mask[i] = 0;
    else if (v === t && ties > 0) {
      mask[i] = 0;
      ties--;
    } else mask[i] = 1;
  }
}

/** The `target`-th smallest value (0-based) of `a`, reordering `a` in place (Hoare quickselect). */
function kthSmallest(a: Float64Array, target: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = lo + ((hi - lo) >> 1);
    // Median of three as pivot value.
    const x = a[lo], y = a[mid], z = a[hi];
    const pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}
