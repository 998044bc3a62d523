/**
 * AdamW (decoupled weight decay) over plain Float32Arrays, so that the trainer owns the whole
 * optimizer state and can checkpoint and resume it exactly.
 *
 * @module
 */

/** AdamW hyper-parameters. */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay, applied to parameters for which `decay(name)` is true. */
  weightDecay: number;
}

/** The optimizer's state: first and second moments per parameter, and the step count. */
export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

/** Zero state for a set of parameters. */
export function initAdamW(params: Map<string, Float32Array>): AdamWState {
  const m = new Map<string, Float32Array>(), v = new Map<string, Float32Array>();
  for (const [n, p] of params) {
    m.set(n, new Float32Array(p.length));
    v.set(n, new Float32Array(p.length));
  }
  return { step: 0, m, v };
}

/** Global L2 norm of a set of gradients. */
export function globalNorm(grads: Map<string, Float32Array>): number {
  let s = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/**
 * One AdamW step in place: `p -= lr·(m̂/(√v̂+ε) + wd·p)` (weight decay only where `decay(name)`).
 */
export function adamWStep(
  params: Map<string, Float32Array>,
  grads: Map<string, Float32Array>,
  state: AdamWState,
  lr: number,
  opts: AdamWOptions & { decay: (name: string) => boolean },
): void {
  state.step++;
  const { beta1: b1, beta2: b2, eps } = opts;
  const c1 = 1 - Math.pow(b1, state.step), c2 = 1 - Math.pow(b2, state.step);
  for (const [name, p] of params) {
    const g = grads.get(name);
    if (!g) throw new Error(`no gradient for ${name}`);
    const m = state.m.get(name)!, v = state.v.get(name)!;
    const wd = opts.decay(name) ? opts.weightDecay : 0;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      p[i] -= lr * ((m[i] / c1) / (Math.sqrt(v[i] / c2) + eps) + wd * p[i]);
    }
  }
}

/** Linear warm-up then cosine decay from `peak` to `floor` over `total` steps. */
export function cosineLr(
  step: number,
  o: { peak: number; floor: number; warmup: number; total: number },
): number {
  if (step < o.warmup) return o.peak * (step + 1) / o.warmup;
  const t = Math.min(1, (step - o.warmup) / Math.max(1, o.total - o.warmup));
  return o.floor + 0.5 * (o.peak - o.floor) * (1 + Math.cos(Math.PI * t));
}
