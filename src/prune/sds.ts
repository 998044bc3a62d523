/**
 * SDS (Sparse-Dense-Sparse; Li et al., COLING 2025, arXiv 2408.10473): the pure, layer-level
 * algorithms. The model-level pipeline (step 1 with a base pruner, running calibration data
 * through the step-1 model, the second pruning, evaluation) lives elsewhere and calls these:
 *
 * - {@link redenseLayer} — step 2, re-dense: starting from the step-1 sparse weights, optimise
 *   the **full** dense matrix `W` (pruned entries start at 0 and may grow) to minimise
 *   `recon(W) + λ1‖W‖₁ + λ2‖W‖²₂`, `recon(W) = ‖W_dense·X − W·X‖²`.
 * - {@link adjustLayer} — step 3b, weight adjustment: starting from the second-pruned weights,
 *   minimise `‖W_dense·X − (M⊙W)·X‖²` with the mask `M` re-selected from `|W|` under the
 *   pattern at every iteration; the result is `M⊙W` with exactly the pattern's sparsity.
 * - {@link weightHistogram} — the weight distribution (dense → step-1 sparse → re-dense → final).
 *
 * ## The objective, computed from H
 *
 * `X` never appears: with `Δ = W − W_dense`, `‖Δ·X‖²_F = tr(Δ (XXᵀ) Δᵀ)`. The caller passes
 * SparseGPT's statistic `H = (2/n) Σ_s X_s X_sᵀ` (`HessianAccumulator`, `n` calibration
 * sequences of `S` tokens, `T = n·S` tokens in all), so `XXᵀ = (n/2)·H` and the per-token second
 * moment is `C = XXᵀ/T = H/(2S)`. The gradient of `tr(Δ H Δᵀ)` is `2·Δ·H`; one iteration costs
 * one product `W·H` (`rows·cols²` multiply-adds; `W_dense·H` is computed once).
 *
 * `reduction` fixes the scale of each term, `F(W) = a·tr(ΔHΔᵀ) + b1·Σ|W| + b2·ΣW²`:
 *
 * | reduction | `a` | `b1` | `b2` | meaning |
 * |---|---|---|---|---|
 * | `"relative"` (default) | `1/tr(W_d H W_dᵀ)` | `λ1/Σ|W_d|` | `λ2/ΣW_d²` | `‖ΔX‖²/‖W_dX‖² + λ1·‖W‖₁/‖W_d‖₁ + λ2·‖W‖²/‖W_d‖²` |
 * | `"mean"` | `1/(2S·rows)` | `λ1/(rows·cols)` | `λ2/(rows·cols)` | per-output-element MSE + per-weight means (PyTorch `mse_loss` + `W.abs().mean()`) |
 * | `"sum"` | `n/2` | `λ1` | `λ2` | the literal sums `‖ΔX‖² + λ1‖W‖₁ + λ2‖W‖²` |
 *
 * `"relative"` needs neither `S` nor `n` (the scale of H cancels) and makes λ dimensionless and
 * independent of layer size, weight scale and input scale: every term is 1 at a natural
 * reference point (the reconstruction at `W = 0`, the norms at `W = W_dense`), so `λ = 0.01`
 * means "the regulariser at its dense value is worth 1% of the dense output energy". The literal
 * `"mean"`/`"sum"` readings are scale-dependent: the same λ is strong on a layer with small
 * inputs and negligible on one with large inputs (on the embedded model the input second moments
 * of different layers differ by up to 800×), which is why they are not the default.
 *
 * ## What `lr` means
 *
 * Both optimisers take scale-free step sizes, so `lr` means the same on every layer:
 * - `"adam"`: the absolute step is `lr · rms(W_dense)`. Adam moves each weight by about its step
 *   per iteration, so `lr = 0.1` (the paper's number) means "about a tenth of a typical weight".
 *   (Taken literally, Adam with lr 0.1 on weights of rms ~0.02 would throw every weight far out
 *   of range.) `eps` is relative to the RMS of the first gradient, which makes Adam fully
 *   invariant to the scale of H and of the loss.
 * - `"sgd"` (plain full-batch gradient descent): the step is `lr / L`, `L = 2a·λmax(H) + 2b2`
 *   the Lipschitz constant of the smooth part's gradient (λmax by power iteration), so the
 *   iteration is stable for `0 < lr < 2` and `lr = 1` is the textbook step.
 *
 * ## L1 at zero
 *
 * `l1: "subgradient"` adds `b1·sign(w)` with `sign(0) = 0` to the gradient, as PyTorch autograd
 * differentiates `|w|`; entries exactly at zero then move only through the reconstruction and L2
 * gradients (research/pruning.md §5.4 item 15). `l1: "proximal"` leaves L1 out of the gradient
 * and soft-thresholds after each step, `w ← sign(w)·max(|w| − τ, 0)` with `τ = step·b1` (for
 * Adam the per-coordinate step `lr_abs/(√v̂ + ε)`), which produces exact zeros.
 *
 * ## Cost and why step 2 is iterative
 *
 * For `λ1 = 0` the minimiser has a closed form (the ridge solution
 * `W = W_d·H·(H + (b2/a)·I)⁻¹`, which is `W_d` itself when H is full rank and λ2 = 0). SDS does
 * **not** want it: run to its optimum, re-dense returns the dense weights, the second pruning then
 * repeats the first, and the "residual sparse characteristics" the paper credits are gone. What
 * re-dense contributes is a short optimisation *started from the sparse weights*: it restores the
 * output in the input directions that matter (large eigenvalues of H) while the re-grown weights
 * stay small elsewhere, which gives the three-peaked, sharp-at-zero distribution the paper shows.
 * So the iterations are the method, and each one is made cheap instead: the gradient needs
 * `Δ·H` with `Δ = W − W_dense` (`rows·cols²` multiply-adds), computed by a WebAssembly SIMD
 * kernel (`sds_kernels.ts`, f32 lanes, ~14 G multiply-adds/s on one core against ~2.5 G for
 * plain TypeScript). Because the product is of the *difference* Δ, its f32 rounding is relative
 * to the gradient itself and never cancels against the weights; everything else (weights, Adam
 * moments, errors) is Float64. Step 3b's frozen-mask phase is a least-squares problem and uses
 * conjugate gradients, which reach its optimum in ~100 products where Adam needs many hundreds.
 * Measured costs: `bench/sds_bench.ts`.
 *
 * ## Defaults, and the measurements behind them
 *
 * See {@link SDS_DEFAULTS}. Measured on real layers of the embedded model (`.cache/dev-model`, a
 * partly trained checkpoint; H from 64 windows × 256 tokens of the training text run through the
 * SparseGPT-2:4 and Wanda-2:4 step-1 models, i.e. SD-data; the second pruning by the same base
 * pruner on that H), as relative output errors `‖(W − W_d)X‖²/‖W_dX‖²` of q/o/v/up/down layers.
 * Step 1 (2:4) loses 4e-4 … 7e-2 (SparseGPT) and 1e-2 … 1.6e-1 (Wanda). Re-dense with the
 * defaults brings q/o/up/down to 4e-5 … 1.2e-4 (9–550× below step 1) while 24–48% of the
 * weights end within 0.1·rms of zero (dense: 8%; the histogram turns three-peaked). After the
 * second pruning the adjustment ends at 6e-5 (q), 1.6e-5 (o), 1.3e-4 (up), 1.05e-4 (down) for
 * SparseGPT (1.3–25× below SparseGPT alone; v_proj of block 0 is the hard case) and
 * 9e-5 / 2.4e-5 / 1.8e-4 / 1.2e-4 for Wanda (3–730× below Wanda alone). The paper's literal 3b (mask re-selected to the end, no refit, `maskFreeze: 1`)
 * ends 1.1–13× higher; a fixed-mask refit of the second pruning's mask (`maskFreeze: 0`) is
 * within 4% of the default for SparseGPT and 5–9% higher for Wanda. Skipping re-dense (adjusting
 * the step-1 weights directly) ends 0–13% higher at the layer level; the bigger effects of
 * re-dense are on the second pruning alone (2.5–5× less loss than step 1 for Wanda) and, per the
 * paper, at the model level, where later layers see the re-dense model's activations. Caveat:
 * on held-out text the converged refit (`refit: "cg"`) generalised a little worse than a partial
 * Adam refit for the Wanda layers (not for SparseGPT); the ablation should include
 * `refit: "optimizer"`.
 *
 * Determinism: no randomness, no threads, fixed operation order, IEEE arithmetic — same inputs,
 * bit-identical outputs.
 *
 * @module
 */

import {
  largestEigenvalue,
  MagnitudeMasker,
  multiplySymmetric,
  SymmetricProduct,
} from "./sds_kernels.ts";
import {
  checkNMMask,
  countPruned,
  countZeros,
  patternLabel,
  prunedCount,
  type SparsityPattern,
  validatePattern,
} from "./pattern.ts";

/** A one-shot pruner SDS wraps (steps 1 and 3a). */
export type SdsBase = "sparsegpt" | "wanda";

/** How the terms of the re-dense objective are scaled (see the module documentation). */
export type SdsReduction = "relative" | "mean" | "sum";

/** The optimiser of steps 2 and 3b. */
export type SdsOptimizer = "adam" | "sgd";

/** How the L1 term is handled at and around zero. */
export type SdsL1 = "subgradient" | "proximal";

/** Learning-rate schedule over the iterations. */
export type SdsSchedule = "constant" | "cosine";

/** Where step 3b's unstructured magnitude mask compares weights: whole matrix or each row. */
export type SdsMaskGranularity = "layer" | "row";

/**
 * Which weights step 3b's gradient updates:
 * - `"soft"`: all of them (straight-through): the loss is computed with `M⊙W`, its gradient is
 *   applied to every entry of `W`, so pruned entries keep moving and re-enter the mask when they
 *   outgrow kept ones. This is the reading under which re-selecting the mask every iteration
 *   changes anything.
 * - `"hard"`: only kept entries (`M ⊙ gradient`, what autograd gives for `loss(M(W)⊙W)` with the
 *   mask treated as a constant); pruned entries are frozen, so starting from pruned weights
 *   (exact zeros) the mask practically never changes and 3b becomes a fixed-mask refit.
 */
export type SdsMaskRule = "soft" | "hard";

/**
 * The SDS parameter block: the names and meanings of the spec's `sds` parameters
 * (`src/spec/methods.ts`), plus the layer-level knobs the paper leaves open. The first five
 * fields steer the model-level pipeline; the rest are read by {@link redenseLayer} and
 * {@link adjustLayer}. Defaults and the reasons for them are in {@link SDS_DEFAULTS}.
 */
export interface SdsParams {
  /** One-shot pruner of steps 1 and 3a (pipeline). */
  base: SdsBase;
  /** Step-2 inputs: `"sd"` from the step-1 sparse model, `"dd"` from the dense one (pipeline). */
  redenseData: "sd" | "dd";
  /**
   * Whether steps 2 and 3a run (pipeline). `false` is the paper's "no re-dense" ablation: step 3b
   * adjusts the step-1 model directly (its inputs from the step-1 model).
   */
  redense: boolean;
  /**
   * Which model the run reports (pipeline): `"final"` (the SDS result) or `"redense"` (stop after
   * step 2 and evaluate the re-dense model alone, a dense model; the paper's ablation row).
   */
  output: "final" | "redense";
  /** Whether step 3b (weight adjustment) runs (pipeline). */
  adjust: boolean;
  /** Skip step 3b when the second pruning alone already beats step 1 (pipeline; the paper's rule, off by default). */
  earlyExit: boolean;
  /** Also evaluate the re-dense model (pipeline). */
  evalRedense: boolean;
  /** L1 weight λ1 of the re-dense regulariser, scaled by `reduction`. */
  lambda1: number;
  /** Squared-L2 weight λ2 of the re-dense regulariser, scaled by `reduction`. */
  lambda2: number;
  /** Scaling of the reconstruction and regulariser terms. */
  reduction: SdsReduction;
  /** Optimiser of steps 2 and 3b. */
  optimizer: SdsOptimizer;
  /** Step size (Adam: fraction of rms(W_dense); SGD: fraction of 1/L). */
  lr: number;
  /** Iterations of step 2 (and of step 3b unless `adjustIters` is set). */
  iters: number;
  /** L1 handling at zero. */
  l1: SdsL1;
  /** Learning-rate schedule of steps 2 and 3b. */
  schedule: SdsSchedule;
  /** Adam β1. */
  beta1: number;
  /** Adam β2. */
  beta2: number;
  /** Adam ε, relative to the RMS of the first gradient. */
  eps: number;
  /** Step 3b unstructured mask comparison group. */
  maskGranularity: SdsMaskGranularity;
  /** Step 3b gradient rule for pruned entries while the mask is being re-selected. */
  maskRule: SdsMaskRule;
  /**
   * Fraction of step-3b iterations after which the mask is frozen: from then on it is no longer
   * re-selected and only kept weights move (a refit on the final mask). 1 = never frozen (the
   * paper's description), 0 = frozen from the start (a fixed-mask refit of the input's mask).
   */
  maskFreeze: number;
  /**
   * Solver of the frozen-mask phase of step 3b: `"cg"` (conjugate gradients on the fixed-mask
   * least-squares problem, reaching its optimum in far fewer iterations) or `"optimizer"` (keep
   * using `optimizer` with gradients on kept weights only).
   */
  refit: "cg" | "optimizer";
  /**
   * Step-3b step size (same meaning as `lr`); `null` = same as `lr` (the paper's "same as
   * previous step").
   */
  adjustLr: number | null;
  /** Step-3b iterations; `null` = same as `iters`. */
  adjustIters: number | null;
  /**
   * Step 3b returns the iterate with the lowest reconstruction error instead of the last one
   * (so it never ends worse than it started on the calibration objective).
   */
  keepBest: boolean;
}

/**
 * Default SDS parameters. Pipeline fields match the spec's defaults. Layer-level defaults, and
 * why (numbers: module documentation):
 *
 * - `reduction: "relative"` — λ dimensionless and comparable across layers; under the literal
 *   `"mean"` reading the same λ = 0.1 raised the re-dense error anywhere from 1.7× to 47× over
 *   λ = 0 on layers of one model.
 * - `optimizer: "adam"`, `lr: 0.1` (× rms(W_dense)), `iters: 200`, `schedule: "constant"` — the
 *   paper's 200 iterations and lr 0.1, read as Adam with a weight-relative step (the paper names
 *   no optimiser). In 200 steps Adam restores the outputs 3–7× better than gradient descent
 *   (`"sgd"`, lr 1); lr 0.03 or 0.3 end within 2× of 0.1; 100 iterations or a cosine schedule
 *   leave 1.5–2.2× more error.
 * - `lambda1: 1e-3`, `lambda2: 1e-4`, `l1: "subgradient"` — a weak regulariser (0.1% of the dense
 *   output energy at the dense weights). Against λ = 0 it raises the mass near zero from 17–27%
 *   to 24–48%, makes the second pruning alone lose 10–20% less, and leaves the final result
 *   within 3% (6% better on one layer); λ1 = λ2 = 1e-3 or λ1 = 1e-2 made the final result worse
 *   (the re-dense layer drifts too far from the dense outputs). The paper, too, reports weight
 *   regularisation as a secondary effect.
 * - Step 3b: `maskGranularity: "layer"` (the magnitude rule of magnitude pruning),
 *   `maskRule: "soft"` (straight-through, so re-selection can change the mask),
 *   `maskFreeze: 0.5` (re-select for the first half, then refit the final mask),
 *   `refit: "cg"`, `adjustLr: 0.03` (0.1 churned the mask and ended up to 2× worse),
 *   `adjustIters: null` (= `iters`), `keepBest: true`.
 * - `earlyExit: false` — the paper's early exit (skip 3b when the second pruning alone beats
 *   step 1 on calibration NLL) fired on 4 of the 6 default runs of the embedded model, on margins
 *   of 3e-4 to 1e-2 nats, and cost up to 2.8 ppl (SDS-Wanda 2:4: 60.74 with it, 57.91 without);
 *   `true` restores it.
 */
export const SDS_DEFAULTS: Readonly<SdsParams> = Object.freeze(
  {
    base: "sparsegpt",
    redenseData: "sd",
    redense: true,
    output: "final",
    adjust: true,
    earlyExit: false,
    evalRedense: false,
    lambda1: 1e-3,
    lambda2: 1e-4,
    reduction: "relative",
    optimizer: "adam",
    lr: 0.1,
    iters: 200,
    l1: "subgradient",
    schedule: "constant",
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    maskGranularity: "layer",
    maskRule: "soft",
    maskFreeze: 0.5,
    refit: "cg",
    adjustLr: 0.03,
    adjustIters: null,
    keepBest: true,
  } satisfies SdsParams,
);

/** Layer-level parameters as recorded in results (the pipeline fields left out). */
export type SdsLayerParams = Omit<
  SdsParams,
  "base" | "redenseData" | "redense" | "output" | "adjust" | "earlyExit" | "evalRedense"
>;

/** Calibration statistic of one layer's inputs, with what the literal reductions need. */
export interface SdsStatistic {
  /**
   * SparseGPT's `H = (2/n) Σ_s X_s X_sᵀ`, row-major symmetric `[cols, cols]`. Any positive
   * multiple of `XXᵀ` works with `reduction: "relative"`.
   */
  H: ArrayLike<number>;
  /** Tokens per calibration sequence `S` (required by `reduction: "mean"`). */
  tokensPerSample?: number;
  /** Number of calibration sequences `n` in H (required by `reduction: "sum"`). */
  nsamples?: number;
}

/** Input of {@link redenseLayer}. */
export interface RedenseInput extends SdsStatistic {
  /** Original dense weights `[rows, cols]` (the target `W_dense`); not modified. */
  Wdense: Float32Array;
  /** Step-1 sparse weights `[rows, cols]` (the starting point); not modified. */
  Wsparse: Float32Array;
  /** Output dimension. */
  rows: number;
  /** Input dimension. */
  cols: number;
  /** Parameters; omitted fields take {@link SDS_DEFAULTS}. */
  params?: Partial<SdsParams>;
  /** Name for error messages (e.g. `"layers.3.mlp.down_proj"`). */
  name?: string;
}

/** Diagnostics shared by both steps; JSON-ready (finite numbers, strings, arrays). */
export interface SdsRunInfo {
  /** Output dimension. */
  rows: number;
  /** Input dimension. */
  cols: number;
  /** Layer-level parameters used (defaults filled in). */
  params: SdsLayerParams;
  /** Iterations run. */
  iters: number;
  /** The absolute step `lr` became (Adam: lr·rms(W_dense); SGD: lr/L). */
  stepSize: number;
  /** `‖(W − W_d)X‖² / ‖W_d X‖²` of the starting weights (for 3b: of `M⊙W` at the start). */
  relErrorStart: number;
  /** `‖(W − W_d)X‖² / ‖W_d X‖²` of the returned weights. */
  relErrorEnd: number;
  /** Relative error of the iterate every `historyEvery` iterations, iteration 0 first. */
  relErrorHistory: number[];
  /** Spacing of `relErrorHistory`. */
  historyEvery: number;
}

/** Info of {@link redenseLayer}. */
export interface RedenseInfo extends SdsRunInfo {
  /** Which step. */
  step: "redense";
  /** Objective `F` (units of `reduction`) at the start. */
  objectiveStart: number;
  /** Objective `F` at the end. */
  objectiveEnd: number;
  /** `‖W‖₁ / ‖W_dense‖₁` of the result. */
  l1Ratio: number;
  /** `‖W‖² / ‖W_dense‖²` of the result. */
  l2Ratio: number;
  /** Fraction of weights with `|w| < 0.1·rms(W_dense)` in the start weights. */
  nearZeroStart: number;
  /** Fraction of weights with `|w| < 0.1·rms(W_dense)` in the result. */
  nearZeroEnd: number;
}

/** Result of {@link redenseLayer}. */
export interface RedenseResult {
  /** Re-dense weights `[rows, cols]` (dense: every entry may be nonzero). */
  W: Float32Array;
  /** Diagnostics. */
  info: RedenseInfo;
}

/** Input of {@link adjustLayer}. */
export interface AdjustInput extends SdsStatistic {
  /** Original dense weights `[rows, cols]` (the target); not modified. */
  Wdense: Float32Array;
  /** Second-pruned weights `[rows, cols]` (the starting point); not modified. */
  W: Float32Array;
  /** Output dimension. */
  rows: number;
  /** Input dimension. */
  cols: number;
  /** Sparsity pattern of the result (the base pruner's). */
  pattern: SparsityPattern;
  /** Parameters; omitted fields take {@link SDS_DEFAULTS}. */
  params?: Partial<SdsParams>;
  /** Name for error messages. */
  name?: string;
}

/** Info of {@link adjustLayer}. */
export interface AdjustInfo extends SdsRunInfo {
  /** Which step. */
  step: "adjust";
  /** Pattern label (`"2:4"`, `"50%"`). */
  pattern: string;
  /** Number of pruned positions (zeros of the mask). */
  pruned: number;
  /** Exact zeros in the returned weights (≥ pruned). */
  zeros: number;
  /** `zeros / (rows·cols)`. */
  sparsity: number;
  /** Positions whose mask bit differs between the start (`|W|` of the input) and the result. */
  maskChanges: number;
  /** Iterations with mask re-selection (phase 1). */
  reselectIters: number;
  /**
   * Iterations of the fixed-mask refit (phase 2) actually run: CG stops early once every row's
   * residual is at f32 precision.
   */
  refitIters: number;
}

/** Result of {@link adjustLayer}. */
export interface AdjustResult {
  /** `M⊙W`, row-major `[rows, cols]`, zero wherever `mask` is 0. */
  W: Float32Array;
  /** Final mask, 1 = kept, 0 = pruned; exactly the pattern's count / valid N:M groups. */
  mask: Uint8Array;
  /** Diagnostics. */
  info: AdjustInfo;
}

// ---------------------------------------------------------------------------------------------
// Parameters and validation

const LAYER_KEYS = [
  "lambda1",
  "lambda2",
  "reduction",
  "optimizer",
  "lr",
  "iters",
  "l1",
  "schedule",
  "beta1",
  "beta2",
  "eps",
  "maskGranularity",
  "maskRule",
  "maskFreeze",
  "refit",
  "adjustLr",
  "adjustIters",
  "keepBest",
] as const satisfies readonly (keyof SdsLayerParams)[];

function oneOf<T extends string>(
  where: string,
  field: string,
  value: unknown,
  options: readonly T[],
): T {
  if (typeof value === "string" && (options as readonly string[]).includes(value)) {
    return value as T;
  }
  throw new RangeError(
    `${where}: params.${field} = ${JSON.stringify(value)}; use one of ` +
      options.map((o) => `"${o}"`).join(", "),
  );
}

function boolean(where: string, field: string, value: unknown): boolean {
  if (typeof value === "boolean") return value;
  throw new RangeError(`${where}: params.${field} = ${JSON.stringify(value)}; use true or false`);
}

function number(
  where: string,
  field: string,
  value: unknown,
  ok: (x: number) => boolean,
  rule: string,
): number {
  if (typeof value === "number" && Number.isFinite(value) && ok(value)) return value;
  throw new RangeError(`${where}: params.${field} = ${JSON.stringify(value)} must be ${rule}`);
}

/**
 * Fills defaults into a (partial) SDS parameter block and checks every layer-level field,
 * returning only the layer-level fields (what a result records for steps 2 and 3b).
 *
 * @param params Partial parameters (unknown fields are ignored here; `undefined` means default).
 * @param where Prefix for error messages.
 * @returns The complete layer-level parameters.
 * @throws {RangeError} Naming the field and the accepted values.
 */
export function resolveSdsParams(
  params: Partial<SdsParams> = {},
  where = "sds",
): SdsLayerParams {
  const p: SdsParams = { ...SDS_DEFAULTS };
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined) (p as unknown as Record<string, unknown>)[k] = v; // undefined = default
  }
  const nonNeg = (x: number) => x >= 0;
  const out: SdsLayerParams = {
    lambda1: number(where, "lambda1", p.lambda1, nonNeg, "a finite number ≥ 0"),
    lambda2: number(where, "lambda2", p.lambda2, nonNeg, "a finite number ≥ 0"),
    reduction: oneOf(where, "reduction", p.reduction, ["relative", "mean", "sum"] as const),
    optimizer: oneOf(where, "optimizer", p.optimizer, ["adam", "sgd"] as const),
    lr: number(where, "lr", p.lr, (x) => x > 0, "a finite number > 0"),
    iters: number(where, "iters", p.iters, (x) => Number.isInteger(x) && x >= 0, "an integer ≥ 0"),
    l1: oneOf(where, "l1", p.l1, ["subgradient", "proximal"] as const),
    schedule: oneOf(where, "schedule", p.schedule, ["constant", "cosine"] as const),
    beta1: number(where, "beta1", p.beta1, (x) => x >= 0 && x < 1, "in [0, 1)"),
    beta2: number(where, "beta2", p.beta2, (x) => x >= 0 && x < 1, "in [0, 1)"),
    eps: number(where, "eps", p.eps, (x) => x > 0, "a finite number > 0"),
    maskGranularity: oneOf(where, "maskGranularity", p.maskGranularity, ["layer", "row"] as const),
    maskRule: oneOf(where, "maskRule", p.maskRule, ["soft", "hard"] as const),
    maskFreeze: number(where, "maskFreeze", p.maskFreeze, (x) => x >= 0 && x <= 1, "in [0, 1]"),
    refit: oneOf(where, "refit", p.refit, ["cg", "optimizer"] as const),
    adjustLr: p.adjustLr === null
      ? null
      : number(where, "adjustLr", p.adjustLr, (x) => x > 0, "null or a finite number > 0"),
    adjustIters: p.adjustIters === null ? null : number(
      where,
      "adjustIters",
      p.adjustIters,
      (x) => Number.isInteger(x) && x >= 0,
      "null or an integer ≥ 0",
    ),
    keepBest: boolean(where, "keepBest", p.keepBest),
  };
  return Object.fromEntries(LAYER_KEYS.map((k) => [k, out[k]])) as SdsLayerParams;
}

function checkMatrix(where: string, field: string, w: unknown, rows: number, cols: number): void {
  if (!(w instanceof Float32Array) || w.length !== rows * cols) {
    throw new RangeError(
      `${where}: ${field} must be a Float32Array of rows·cols = ${rows}·${cols} = ` +
        `${rows * cols} elements (row-major [d_out, d_in]), got ${
          w instanceof Float32Array ? w.length : typeof w
        }`,
    );
  }
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(w[i])) {
      throw new RangeError(
        `${where}: ${field}[${Math.floor(i / cols)}, ${i % cols}] is ${
          w[i]
        }; weights must be finite`,
      );
    }
  }
}

function checkShape(where: string, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new RangeError(`${where}: rows and cols must be positive integers, got ${rows}×${cols}`);
  }
}

function hessianCopy(where: string, h: ArrayLike<number>, cols: number): Float64Array {
  if (!h || h.length !== cols * cols) {
    throw new RangeError(
      `${where}: H must be a row-major ${cols}×${cols} matrix (HessianAccumulator.stats().hessian ` +
        `of this layer's inputs), got ${h ? h.length : h} elements`,
    );
  }
  const out = Float64Array.from(h);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) {
      throw new RangeError(
        `${where}: H[${Math.floor(i / cols)}, ${i % cols}] is ${out[i]}; calibration ` +
          `activations contained NaN/Inf`,
      );
    }
  }
  for (let i = 0; i < cols; i++) {
    if (out[i * cols + i] < 0) {
      throw new RangeError(
        `${where}: H[${i}, ${i}] = ${out[i * cols + i]} < 0; H must be positive semi-definite`,
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The shared optimiser

interface Scales {
  /** Coefficient of tr(ΔHΔᵀ). */
  a: number;
  /** Coefficient of Σ|W|. */
  b1: number;
  /** Coefficient of ΣW². */
  b2: number;
}

function scalesFor(
  where: string,
  reduction: SdsReduction,
  stat: SdsStatistic,
  lambda1: number,
  lambda2: number,
  dense: { energy: number; l1: number; l2: number; rows: number; cols: number },
): Scales {
  if (reduction === "relative") {
    return {
      a: dense.energy > 0 ? 1 / dense.energy : 1,
      b1: dense.l1 > 0 ? lambda1 / dense.l1 : lambda1,
      b2: dense.l2 > 0 ? lambda2 / dense.l2 : lambda2,
    };
  }
  if (reduction === "mean") {
    const s = stat.tokensPerSample;
    if (typeof s !== "number" || !(s > 0) || !Number.isFinite(s)) {
      throw new RangeError(
        `${where}: reduction "mean" needs tokensPerSample (the calibration sequence length S, ` +
          `H = (2/n)ΣXXᵀ gives XXᵀ/T = H/(2S)), got ${s}`,
      );
    }
    const n = dense.rows * dense.cols;
    return { a: 1 / (2 * s * dense.rows), b1: lambda1 / n, b2: lambda2 / n };
  }
  const n = stat.nsamples;
  if (typeof n !== "number" || !(n > 0) || !Number.isFinite(n)) {
    throw new RangeError(
      `${where}: reduction "sum" needs nsamples (the number of calibration sequences n in ` +
        `H = (2/n)ΣXXᵀ, so XXᵀ = (n/2)·H), got ${n}`,
    );
  }
  return { a: n / 2, b1: lambda1, b2: lambda2 };
}

interface OptimizeInput {
  W: Float64Array; // start, updated in place
  Wd: Float32Array;
  /** Reused `·H` product (one per layer). */
  product?: SymmetricProduct;
  /** Spacing of the error history (default: about 20 points). */
  historyEvery?: number;
  H: Float64Array;
  rows: number;
  cols: number;
  denseEnergy: number;
  scales: Scales;
  l1: SdsL1;
  optimizer: SdsOptimizer;
  stepSize: number;
  iters: number;
  schedule: SdsSchedule;
  beta1: number;
  beta2: number;
  eps: number;
  /** Step 3b: writes the mask of the current W. */
  select?: (w: Float64Array, mask: Uint8Array) => void;
  maskRule?: SdsMaskRule;
  /** Step 3b: return the iterate with the lowest reconstruction error, not the last. */
  keepBest?: boolean;
  /**
   * Step 3b: the mask is re-selected at iterates `0..freezeAfter` and kept after that; updates
   * from iterates `≥ freezeAfter` move only kept weights. Default `iters` (never frozen).
   */
  freezeAfter?: number;
}

interface OptimizeOutput {
  /** Step 3b: the mask of the returned weights. */
  mask?: Uint8Array;
  /** Step 3b: the returned weights `M⊙W` (the best iterate when `keepBest`). */
  masked?: Float64Array;
  /** `tr(ΔHΔᵀ)` of the start. */
  errorStart: number;
  /** `tr(ΔHΔᵀ)` of the returned weights. */
  errorEnd: number;
  /** Relative error every `historyEvery` iterations, then the last iterate's. */
  history: number[];
  historyEvery: number;
  /** Iterations actually run (CG stops early once every row has converged). */
  itersRun?: number;
}

const HISTORY_POINTS = 20;

/** CG stops on a row when `‖r‖² ≤ CG_TOLERANCE·‖r₀‖²` (‖r‖ at about f32 precision). */
const CG_TOLERANCE = 1e-14;

/**
 * Minimises `a·tr((P − W_d) H (P − W_d)ᵀ) + b1·Σ|W| + b2·ΣW²` over W, with `P = W` (step 2) or
 * `P = M(W)⊙W` (step 3b, mask re-selected every iteration), by Adam or gradient descent.
 */
function optimize(o: OptimizeInput): OptimizeOutput {
  const { W, Wd, H, rows, cols, iters } = o;
  const { a, b1, b2 } = o.scales;
  const n = rows * cols;
  const masked = o.select !== undefined;
  const soft = o.maskRule !== "hard";
  const mask = masked ? new Uint8Array(n) : undefined;
  const P = masked ? new Float64Array(n) : W;
  const D = new Float64Array(n); // P − W_d
  const G = new Float64Array(n); // D·H
  const product = o.product ?? new SymmetricProduct(rows, cols, H);
  const adam = o.optimizer === "adam";
  const m = adam ? new Float64Array(n) : undefined;
  const v = adam ? new Float64Array(n) : undefined;
  const proximal = o.l1 === "proximal" && b1 > 0;
  const subgradient = o.l1 === "subgradient" && b1 > 0;
  const every = o.historyEvery ?? Math.max(1, Math.ceil(iters / HISTORY_POINTS));
  const history: number[] = [];
  const inv = o.denseEnergy > 0 ? 1 / o.denseEnergy : 0;
  let epsAbs = 0;
  let b1t = 1;
  let b2t = 1;

  const freezeAfter = o.freezeAfter ?? iters;
  let frozen = false; // mask no longer re-selected; gradient only on kept weights
  // Forms P (the masked copy in step 3b), D = P − W_d, G = D·H, and returns tr(D H Dᵀ).
  const evaluate = (reselect: boolean): number => {
    if (mask && o.select) {
      if (reselect) o.select(W, mask);
      for (let i = 0; i < n; i++) P[i] = mask[i] ? W[i] : 0;
    }
    for (let i = 0; i < n; i++) D[i] = P[i] - Wd[i];
    product.multiply(D, G);
    let err = 0;
    for (let i = 0; i < n; i++) err += D[i] * G[i];
    return err;
  };
  const best = masked && o.keepBest ? { P: new Float64Array(n), mask: new Uint8Array(n) } : null;

  let err = evaluate(true);
  frozen = freezeAfter <= 0;
  const errorStart = err;
  let bestErr = Infinity;
  for (let t = 1; t <= iters; t++) {
    if ((t - 1) % every === 0) history.push(err * inv);
    if (best && mask && err < bestErr) {
      bestErr = err;
      best.P.set(P);
      best.mask.set(mask);
    }
    const scale = o.schedule === "cosine" ? 0.5 * (1 + Math.cos(Math.PI * (t - 1) / iters)) : 1;
    const lr = o.stepSize * scale;
    // The gradient overwrites G (its product is no longer needed).
    gradientInto(G, W, {
      a,
      b1: subgradient ? b1 : 0,
      b2,
      mask: frozen || !soft ? mask : undefined,
    });
    if (adam && m && v) {
      const { beta1, beta2 } = o;
      if (t === 1) {
        // ε relative to the RMS of the first gradient (scale invariance).
        let sq = 0;
        for (let i = 0; i < n; i++) sq += G[i] * G[i];
        epsAbs = o.eps * Math.sqrt(sq / n);
        if (!(epsAbs > 0)) epsAbs = o.eps;
      }
      b1t *= beta1;
      b2t *= beta2;
      const c1 = 1 / (1 - b1t);
      const c2 = 1 / (1 - b2t);
      const k1 = 1 - beta1, k2 = 1 - beta2, step = lr * c1;
      for (let i = 0; i < n; i++) {
        const g = G[i];
        const mi = beta1 * m[i] + k1 * g;
        const vi = beta2 * v[i] + k2 * g * g;
        m[i] = mi;
        v[i] = vi;
        const denom = Math.sqrt(vi * c2) + epsAbs;
        const w = W[i] - step * mi / denom;
        W[i] = proximal ? softThreshold(w, lr * b1 / denom) : w;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const w = W[i] - lr * G[i];
        W[i] = proximal ? softThreshold(w, lr * b1) : w;
      }
    }
    err = evaluate(t <= freezeAfter);
    frozen = t >= freezeAfter;
  }
  history.push(err * inv);
  if (best && mask && bestErr <= err) {
    return {
      mask: best.mask,
      masked: best.P,
      errorStart,
      errorEnd: bestErr,
      history,
      historyEvery: every,
    };
  }
  return {
    mask,
    masked: masked ? P : undefined,
    errorStart,
    errorEnd: err,
    history,
    historyEvery: every,
  };
}

/**
 * Overwrites `G` (holding `Δ·H`) with the gradient `2a·G` (zeroed where `mask` is 0, if given)
 * `+ b1·sign(W) + 2b2·W`, `sign(0) = 0`. Branches are hoisted out of the loops.
 */
function gradientInto(
  G: Float64Array,
  W: Float64Array,
  o: { a: number; b1: number; b2: number; mask?: Uint8Array },
): void {
  const n = G.length;
  const twoA = 2 * o.a, twoB2 = 2 * o.b2, b1 = o.b1, mask = o.mask;
  if (mask) {
    for (let i = 0; i < n; i++) if (mask[i] === 0) G[i] = 0;
  }
  if (b1 > 0) {
    for (let i = 0; i < n; i++) {
      const w = W[i];
      G[i] = twoA * G[i] + twoB2 * w + (w > 0 ? b1 : w < 0 ? -b1 : 0);
    }
  } else {
    for (let i = 0; i < n; i++) G[i] = twoA * G[i] + twoB2 * W[i];
  }
}

function checkFinite(where: string, w: ArrayLike<number>, cols: number, what: string): void {
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(w[i])) {
      throw new Error(
        `${where}: ${what} [${Math.floor(i / cols)}, ${i % cols}] became ${w[i]}; the ` +
          `optimisation diverged — lower params.lr (SGD is stable only for lr < 2)`,
      );
    }
  }
}

function softThreshold(w: number, tau: number): number {
  if (w > tau) return w - tau;
  if (w < -tau) return w + tau;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Step 2: re-dense

interface DenseRef {
  Wd: Float32Array;
  energy: number;
  l1: number;
  l2: number;
  rms: number;
}

function denseReference(Wd: Float32Array, H: Float64Array, rows: number, cols: number): DenseRef {
  const n = rows * cols;
  const WdH = new Float64Array(n);
  multiplySymmetric(Float64Array.from(Wd), H, WdH, rows, cols);
  let energy = 0, l1 = 0, l2 = 0;
  for (let i = 0; i < n; i++) {
    const w = Wd[i];
    energy += w * WdH[i];
    l1 += Math.abs(w);
    l2 += w * w;
  }
  return { Wd, energy: Math.max(energy, 0), l1, l2, rms: Math.sqrt(l2 / n) };
}

function adamStep(lr: number, ref: DenseRef, start: ArrayLike<number>): number {
  if (ref.rms > 0) return lr * ref.rms;
  let s = 0;
  for (let i = 0; i < start.length; i++) s += start[i] * start[i];
  const rms = Math.sqrt(s / start.length);
  return lr * (rms > 0 ? rms : 1);
}

function sgdStep(lr: number, H: Float64Array, cols: number, a: number, b2: number): number {
  // Power iteration approaches λmax from below; 1% margin keeps lr = 1 safely below 2/L.
  const L = 2 * a * largestEigenvalue(H, cols) * 1.01 + 2 * b2;
  return L > 0 ? lr / L : lr;
}

function nearZero(w: ArrayLike<number>, threshold: number): number {
  let c = 0;
  for (let i = 0; i < w.length; i++) if (Math.abs(w[i]) < threshold) c++;
  return c / w.length;
}

function norms(w: ArrayLike<number>): { l1: number; l2: number } {
  let l1 = 0, l2 = 0;
  for (let i = 0; i < w.length; i++) {
    l1 += Math.abs(w[i]);
    l2 += w[i] * w[i];
  }
  return { l1, l2 };
}

/**
 * SDS step 2, re-dense: starting from the step-1 sparse weights, optimise the full dense matrix
 * to minimise `a·‖(W − W_dense)X‖² + b1·‖W‖₁ + b2·‖W‖²` (scales from `params.reduction`, see the
 * module documentation), computed through H.
 *
 * Algorithm (per iteration `t = 1..iters`): `G = W·H` (one symmetric product; `W_dense·H` is
 * precomputed), gradient `2a(G − W_dense·H) + b1·sign(W) [subgradient] + 2b2·W`, then an Adam
 * step of `lr·rms(W_dense)` (bias-corrected moments, ε relative to the first gradient's RMS) or a
 * gradient step of `lr/L`, optionally scaled by a cosine schedule, then (proximal L1) a
 * soft-threshold. Returns the last iterate.
 *
 * Why the defaults (Adam, lr 0.1, 200 iterations, λ1 = 1e-3, λ2 = 1e-4 relative; see
 * {@link SDS_DEFAULTS}): started from the sparse weights, a bounded number of Adam steps restores
 * the layer's outputs (the reconstruction error falls 10–550× below the sparse layer's on the
 * embedded model) while the re-grown weights stay small and the weak L1 term keeps pulling the
 * unneeded ones to zero, so the distribution gains mass near zero (three peaks) and the second
 * pruning has cheap weights to remove. Running to the exact optimum instead would return
 * `W_dense` (H full rank, λ = 0) and undo that.
 *
 * @param input Dense and sparse weights, shape, H (and S / n for the literal reductions), params.
 * @returns The re-dense weights (Float32) and diagnostics.
 * @throws {RangeError} On bad shapes, non-finite input or bad parameters, naming the field.
 */
export function redenseLayer(input: RedenseInput): RedenseResult {
  const where = `sds redense${input.name ? ` (${input.name})` : ""}`;
  const { rows, cols } = input;
  checkShape(where, rows, cols);
  checkMatrix(where, "Wdense", input.Wdense, rows, cols);
  checkMatrix(where, "Wsparse", input.Wsparse, rows, cols);
  const params = resolveSdsParams(input.params, where);
  const H = hessianCopy(where, input.H, cols);
  const ref = denseReference(input.Wdense, H, rows, cols);
  const scales = scalesFor(where, params.reduction, input, params.lambda1, params.lambda2, {
    energy: ref.energy,
    l1: ref.l1,
    l2: ref.l2,
    rows,
    cols,
  });
  const stepSize = params.optimizer === "adam"
    ? adamStep(params.lr, ref, input.Wsparse)
    : sgdStep(params.lr, H, cols, scales.a, scales.b2);
  const W = Float64Array.from(input.Wsparse);
  const start = norms(W);
  const threshold = 0.1 * ref.rms;
  const nearZeroStart = nearZero(W, threshold);
  const run = optimize({
    W,
    Wd: input.Wdense,
    H,
    rows,
    cols,
    denseEnergy: ref.energy,
    scales,
    l1: params.l1,
    optimizer: params.optimizer,
    stepSize,
    iters: params.iters,
    schedule: params.schedule,
    beta1: params.beta1,
    beta2: params.beta2,
    eps: params.eps,
  });
  const out = Float32Array.from(W);
  checkFinite(where, out, cols, "re-dense weight");
  const end = norms(out);
  const inv = ref.energy > 0 ? 1 / ref.energy : 0;
  const { a, b1, b2 } = scales;
  const info: RedenseInfo = {
    step: "redense",
    rows,
    cols,
    params,
    iters: params.iters,
    stepSize,
    relErrorStart: run.errorStart * inv,
    relErrorEnd: run.errorEnd * inv,
    relErrorHistory: run.history,
    historyEvery: run.historyEvery,
    objectiveStart: a * run.errorStart + b1 * start.l1 + b2 * start.l2,
    objectiveEnd: a * run.errorEnd + b1 * end.l1 + b2 * end.l2,
    l1Ratio: ref.l1 > 0 ? end.l1 / ref.l1 : 0,
    l2Ratio: ref.l2 > 0 ? end.l2 / ref.l2 : 0,
    nearZeroStart,
    nearZeroEnd: nearZero(out, threshold),
  };
  return { W: out, info };
}

// ---------------------------------------------------------------------------------------------
// Step 3b: weight adjustment

/**
 * The magnitude mask rule of step 3b for a pattern, as a function writing the mask of `w`:
 * N:M per aligned group of each row; unstructured `floor(p·rows·cols)` smallest `|w|` of the
 * matrix (`"layer"`, the same selection as magnitude pruning) or `floor(p·cols)` of each row
 * (`"row"`, Wanda-style comparison groups). Ties go to the lower index.
 *
 * @param pattern The sparsity pattern (validated against `cols` by the caller).
 * @param rows Output dimension.
 * @param cols Input dimension.
 * @param granularity Comparison group for unstructured patterns.
 * @returns The selector.
 */
export function magnitudeMaskSelector(
  pattern: SparsityPattern,
  rows: number,
  cols: number,
  granularity: SdsMaskGranularity,
): (w: ArrayLike<number>, mask: Uint8Array) => void {
  const masker = new MagnitudeMasker(rows, cols);
  if (pattern.type === "nm") return (w, mask) => masker.nm(w, pattern, mask);
  if (granularity === "row") {
    const k = prunedCount(pattern.sparsity, cols);
    return (w, mask) => masker.row(w, k, mask);
  }
  const k = prunedCount(pattern.sparsity, rows * cols);
  return (w, mask) => masker.matrix(w, k, mask);
}

/**
 * SDS step 3b, weight adjustment: starting from the second-pruned weights, minimise
 * `‖(W_dense − M⊙W)X‖²` (through H, from the second-pruned model's inputs), re-selecting `M`
 * from `|W|` under the pattern before every gradient evaluation, and return `M⊙W`.
 *
 * Two phases over `adjustIters ?? iters` iterations:
 *
 * 1. Re-selection, `round(maskFreeze·iters)` iterations: `M = mask(|W|)`, `Δ = M⊙W − W_dense`,
 *    `G = Δ·H` (one SIMD product), gradient `2a·G` applied to every entry of `W`
 *    (`maskRule: "soft"`, straight-through) or only to kept ones (`"hard"`), then an Adam or SGD
 *    step with the same scale-free step sizes as {@link redenseLayer} (`adjustLr ?? lr`). With
 *    `keepBest` the iterate with the lowest error (and its mask) is carried forward.
 * 2. Refit, the remaining iterations, with the mask frozen: conjugate gradients on the
 *    fixed-mask least-squares problem (`refit: "cg"`; per-row step lengths, one product per
 *    iteration, stops early once every row has converged to f32 precision) or the optimiser on
 *    kept weights (`refit: "optimizer"`).
 *
 * There is no regulariser, so `reduction`, `lambda1`, `lambda2` and `l1` do not affect this step.
 * With `keepBest` (default) the result is never worse, on the calibration objective, than the
 * masked starting weights.
 *
 * The result has exactly the pattern's sparsity: N:M masks prune exactly `n` of every aligned
 * group of `m`; unstructured masks prune exactly `floor(p·rows·cols)` weights (`"layer"`) or
 * `floor(p·cols)` per row (`"row"`). Returned weights are zero wherever the mask is 0 (a kept
 * weight may also happen to be 0).
 *
 * @param input Dense target and starting weights, shape, pattern, H, params.
 * @returns `M⊙W` (Float32), the mask (1 = kept) and diagnostics.
 * @throws {RangeError} On bad shapes, patterns, non-finite input or bad parameters.
 */
export function adjustLayer(input: AdjustInput): AdjustResult {
  const where = `sds adjust${input.name ? ` (${input.name})` : ""}`;
  const { rows, cols, pattern } = input;
  checkShape(where, rows, cols);
  checkMatrix(where, "Wdense", input.Wdense, rows, cols);
  checkMatrix(where, "W", input.W, rows, cols);
  validatePattern(pattern, { cols, where });
  const params = resolveSdsParams(input.params, where);
  const H = hessianCopy(where, input.H, cols);
  const ref = denseReference(input.Wdense, H, rows, cols);
  const iters = params.adjustIters ?? params.iters;
  const lr = params.adjustLr ?? params.lr;
  const reselectIters = Math.round(params.maskFreeze * iters);
  const refitIters = iters - reselectIters;
  // Any positive scale gives the same iterates (Adam and lr/L are scale-free); use 1/energy.
  const a = ref.energy > 0 ? 1 / ref.energy : 1;
  const stepSize = params.optimizer === "adam"
    ? adamStep(lr, ref, input.W)
    : sgdStep(lr, H, cols, a, 0);
  const select = magnitudeMaskSelector(pattern, rows, cols, params.maskGranularity);
  const startMask = new Uint8Array(rows * cols);
  select(input.W, startMask);
  const historyEvery = Math.max(1, Math.ceil(iters / HISTORY_POINTS));
  const product = new SymmetricProduct(rows, cols, H);
  const common = {
    Wd: input.Wdense,
    product,
    H,
    rows,
    cols,
    denseEnergy: ref.energy,
    scales: { a, b1: 0, b2: 0 },
    l1: params.l1,
    optimizer: params.optimizer,
    stepSize,
    schedule: params.schedule,
    beta1: params.beta1,
    beta2: params.beta2,
    eps: params.eps,
    keepBest: params.keepBest,
    historyEvery,
  };
  // Phase 1: the mask is re-selected from |W| before every evaluation.
  const phase1 = optimize({
    ...common,
    W: Float64Array.from(input.W),
    iters: reselectIters,
    select,
    maskRule: params.maskRule,
  });
  let mask = phase1.mask!;
  let masked = phase1.masked!;
  let errorEnd = phase1.errorEnd;
  let history = phase1.history;
  let refitItersRun = 0;
  // Phase 2: the mask is frozen; only kept weights move (conjugate gradients or the optimiser).
  if (refitIters > 0) {
    const frozen = Uint8Array.from(mask);
    const phase2 = params.refit === "cg"
      ? conjugateGradientRefit({ ...common, start: masked, mask: frozen, iters: refitIters })
      : optimize({
        ...common,
        W: Float64Array.from(masked),
        iters: refitIters,
        select: (_w, m) => m.set(frozen),
        freezeAfter: 0,
      });
    history = [...history.slice(0, -1), ...phase2.history];
    refitItersRun = phase2.itersRun ?? refitIters;
    if (!params.keepBest || phase2.errorEnd <= errorEnd) {
      mask = phase2.mask!;
      masked = phase2.masked!;
      errorEnd = phase2.errorEnd;
    }
  }
  const out = Float32Array.from(masked);
  for (let i = 0; i < out.length; i++) if (mask[i] === 0) out[i] = 0;
  checkFinite(where, out, cols, "adjusted weight");
  if (pattern.type === "nm" && !checkNMMask(mask, { rows, cols }, pattern).valid) {
    throw new Error(
      `${where}: internal error: the final mask is not a valid ${patternLabel(pattern)} mask`,
    );
  }
  let maskChanges = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== startMask[i]) maskChanges++;
  const inv = ref.energy > 0 ? 1 / ref.energy : 0;
  const zeros = countZeros(out);
  const info: AdjustInfo = {
    step: "adjust",
    rows,
    cols,
    params,
    iters,
    stepSize,
    relErrorStart: phase1.errorStart * inv,
    relErrorEnd: errorEnd * inv,
    relErrorHistory: history,
    historyEvery,
    pattern: patternLabel(pattern),
    pruned: countPruned(mask),
    zeros,
    sparsity: zeros / (rows * cols),
    maskChanges,
    reselectIters,
    refitIters: refitItersRun,
  };
  return { W: out, mask, info };
}

interface RefitInput {
  start: Float64Array; // M⊙W, zero off the mask
  mask: Uint8Array;
  Wd: Float32Array;
  product: SymmetricProduct;
  rows: number;
  cols: number;
  denseEnergy: number;
  iters: number;
  historyEvery: number;
}

/**
 * Fixed-mask least-squares refit by conjugate gradients, all rows at once: each row r solves
 * `min (w − w_d)ᵀ H (w − w_d)` over its kept entries, with per-row step lengths. One product per
 * iteration; `G = (W − W_d)·H` is carried along (`G += α·(p·H)`), so the residual `−M⊙G` and the
 * error `Σ D⊙G` are exact up to rounding without extra products.
 */
function conjugateGradientRefit(o: RefitInput): OptimizeOutput {
  const { mask, Wd, product, rows, cols, iters } = o;
  const n = rows * cols;
  const D = new Float64Array(n); // W − W_d
  const G = new Float64Array(n); // D·H
  const r = new Float64Array(n); // −M⊙G
  const p = new Float64Array(n); // search direction (zero off the mask)
  const q = new Float64Array(n); // p·H
  const rr = new Float64Array(rows);
  for (let i = 0; i < n; i++) D[i] = o.start[i] - Wd[i];
  product.multiply(D, G);
  for (let i = 0; i < n; i++) {
    r[i] = mask[i] ? -G[i] : 0;
    p[i] = r[i];
  }
  for (let row = 0; row < rows; row++) {
    let s = 0;
    for (let c = row * cols, e = c + cols; c < e; c++) s += r[c] * r[c];
    rr[row] = s;
  }
  const inv = o.denseEnergy > 0 ? 1 / o.denseEnergy : 0;
  const error = () => {
    let e = 0;
    for (let i = 0; i < n; i++) e += D[i] * G[i];
    return e;
  };
  // A row is done once its residual has shrunk to f32 precision (the product's); its direction
  // is then zeroed, so it costs nothing and never drifts into denormal numbers.
  const done = new Uint8Array(rows);
  const tol = rr.map((x) => x * CG_TOLERANCE);
  let active = 0;
  for (let row = 0; row < rows; row++) {
    if (rr[row] <= tol[row] || rr[row] === 0) done[row] = 1;
    else active++;
  }
  let err = error();
  const errorStart = err;
  const history: number[] = [];
  let t = 0;
  while (t < iters && active > 0) {
    if (t % o.historyEvery === 0) history.push(err * inv);
    t++;
    product.multiply(p, q);
    for (let row = 0; row < rows; row++) {
      if (done[row]) continue;
      const lo = row * cols, hi = lo + cols;
      let pq = 0;
      for (let i = lo; i < hi; i++) pq += p[i] * q[i];
      if (!(pq > 0)) {
        p.fill(0, lo, hi);
        done[row] = 1;
        active--;
        continue;
      }
      const alpha = rr[row] / pq;
      let rnew = 0;
      for (let i = lo; i < hi; i++) {
        D[i] += alpha * p[i];
        G[i] += alpha * q[i];
        const ri = mask[i] ? -G[i] : 0;
        r[i] = ri;
        rnew += ri * ri;
      }
      if (rnew <= tol[row]) {
        p.fill(0, lo, hi);
        done[row] = 1;
        active--;
        continue;
      }
      const beta = rnew / rr[row];
      rr[row] = rnew;
      for (let i = lo; i < hi; i++) p[i] = r[i] + beta * p[i];
    }
    err = error();
  }
  history.push(err * inv);
  const masked = new Float64Array(n);
  for (let i = 0; i < n; i++) masked[i] = mask[i] ? D[i] + Wd[i] : 0;
  return {
    mask,
    masked,
    errorStart,
    errorEnd: err,
    history,
    historyEvery: o.historyEvery,
    itersRun: t,
  };
}

// ---------------------------------------------------------------------------------------------
// Histogram

/** Options of {@link weightHistogram}. */
export interface HistogramOptions {
  /** Number of equal-width bins (default 64). */
  bins?: number;
  /**
   * `[lo, hi]` covered by the bins (default `[−max|W|, max|W|]`). Pass the same range for the
   * dense, sparse, re-dense and final weights of a layer so their histograms line up. Values
   * outside the range are counted in the first or last bin (and in `clipped`).
   */
  range?: [number, number];
}

/** A weight histogram; JSON-ready. */
export interface WeightHistogram {
  /** `bins + 1` bin edges, ascending; bin `i` is `[edges[i], edges[i+1])`, the last is closed. */
  edges: number[];
  /** Count per bin; sums to the number of weights. */
  counts: number[];
  /** Number of weights exactly 0 (included in `counts`; shown separately by the site). */
  zeros: number;
  /** Number of weights outside `range`, counted in the edge bins. */
  clipped: number;
}

/**
 * Histogram of weight values, for the shape change SDS is about (dense bell → bimodal after
 * pruning → three peaks with a sharp one at zero after re-dense → final).
 *
 * @param W The weights.
 * @param options Bin count and range.
 * @returns Edges, counts (summing to `W.length`), exact zeros and clipped count.
 * @throws {RangeError} On a bad bin count, range or non-finite weight.
 */
export function weightHistogram(
  W: ArrayLike<number>,
  options: HistogramOptions = {},
): WeightHistogram {
  const bins = options.bins ?? 64;
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`weightHistogram: bins must be a positive integer, got ${bins}`);
  }
  let lo: number, hi: number;
  if (options.range) {
    [lo, hi] = options.range;
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo)) {
      throw new RangeError(
        `weightHistogram: range must be [lo, hi] with finite lo < hi, got [${lo}, ${hi}]`,
      );
    }
  } else {
    let max = 0;
    for (let i = 0; i < W.length; i++) {
      const a = Math.abs(W[i]);
      if (a > max) max = a;
    }
    if (!Number.isFinite(max)) {
      throw new RangeError("weightHistogram: weights must be finite");
    }
    if (max === 0) max = 1;
    lo = -max;
    hi = max;
  }
  const counts = new Array<number>(bins).fill(0);
  const width = (hi - lo) / bins;
  let zeros = 0, clipped = 0;
  for (let i = 0; i < W.length; i++) {
    const w = W[i];
    if (!Number.isFinite(w)) {
      throw new RangeError(`weightHistogram: weight ${i} is ${w}; weights must be finite`);
    }
    if (w === 0) zeros++;
    if (w < lo || w > hi) clipped++;
    let b = Math.floor((w - lo) / width);
    if (b < 0) b = 0;
    else if (b >= bins) b = bins - 1;
    counts[b]++;
  }
  const edges = Array.from({ length: bins + 1 }, (_, i) => i === bins ? hi : lo + i * width);
  return { edges, counts, zeros, clipped };
}
