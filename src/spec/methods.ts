/**
 * The registries of known pruning methods and drafters, and the parameter block each one accepts
 * in a spec. This is the one place later issues extend: add a name to the list, its parameter
 * schema (with documented defaults) to the table, and the spec schema, planner, labels and the
 * published JSON Schema follow.
 *
 * @module
 */

import { z } from "zod";
import { describeValue } from "./errors.ts";

/** Pruning methods a spec may name, in the order they are listed in messages. */
export const PRUNE_METHODS = ["dense", "magnitude", "wanda", "sparsegpt", "sds"] as const;

/** A known pruning method name. */
export type PruneMethod = typeof PRUNE_METHODS[number];

/** Drafters a spec may name (`ar` is plain autoregressive decoding: no drafter at all). */
export const DRAFTERS = ["ar", "medusa", "amphista"] as const;

/** A known drafter name. */
export type Drafter = typeof DRAFTERS[number];

/** One-shot pruners SDS can wrap (its step 1 and step 3a). */
export const SDS_BASES = ["sparsegpt", "wanda"] as const;

/** A pruner SDS can wrap. */
export type SdsBase = typeof SDS_BASES[number];

/** What the planner needs to know about a pruning method. */
export interface PruneMethodInfo {
  /** One line for `--help` and the leaderboard. */
  description: string;
  /** Whether it reads calibration data (if not, the run spec carries `calibration: null`). */
  usesCalibration: boolean;
}

/** Facts about each pruning method. */
export const PRUNE_METHOD_INFO: Record<PruneMethod, PruneMethodInfo> = {
  dense: { description: "no pruning (the baseline)", usesCalibration: false },
  magnitude: { description: "drop the smallest |W|", usesCalibration: false },
  wanda: { description: "drop the smallest |W|·‖X‖ per output row", usesCalibration: true },
  sparsegpt: { description: "OBS-style pruning with weight reconstruction", usesCalibration: true },
  sds: {
    description: "sparse-dense-sparse: prune, re-dense with regularised reconstruction, re-prune",
    usesCalibration: true,
  },
};

/** What the planner needs to know about a drafter. */
export interface DrafterInfo {
  /** One line for `--help` and the leaderboard. */
  description: string;
  /** Whether it drafts a token tree (if not, the run spec carries `tree: null`). */
  usesTree: boolean;
}

/** Facts about each drafter. */
export const DRAFTER_INFO: Record<Drafter, DrafterInfo> = {
  ar: { description: "plain autoregressive decoding (speedup 1.00, tau 1.00)", usesTree: false },
  medusa: { description: "Medusa heads, tree attention", usesTree: true },
  amphista: { description: "Amphista non-autoregressive heads, tree attention", usesTree: true },
};

function quoteList(names: readonly string[]): string {
  return names.map((n) => `"${n}"`).join(", ");
}

function unknownName(kind: string, names: readonly string[]) {
  return (issue: { input?: unknown }) =>
    typeof issue.input === "string"
      ? `unknown ${kind} ${describeValue(issue.input)}; known ${kind}s: ${quoteList(names)}`
      : `expected a ${kind} name (one of ${quoteList(names)}), got ${describeValue(issue.input)}`;
}

/** Schema of a pruning method name; an unknown name's error lists the known ones. */
export const PruneMethodName = z.enum(PRUNE_METHODS, {
  error: unknownName("pruning method", PRUNE_METHODS),
});

/** Schema of a drafter name; an unknown name's error lists the known ones. */
export const DrafterName = z.enum(DRAFTERS, { error: unknownName("drafter", DRAFTERS) });

/** Schema of an SDS base pruner name. */
export const SdsBaseName = z.enum(SDS_BASES, { error: unknownName("SDS base pruner", SDS_BASES) });

/**
 * SparseGPT parameters.
 * - `damp` (default 0.01): dampening `H += damp·mean(diag H)·I` before the Cholesky factor.
 * - `blocksize` (default 128): columns processed per lazy-update block.
 */
export const SparseGptParams = z.strictObject({
  damp: z.number().positive().default(0.01).meta({ description: "Relative Hessian dampening." }),
  blocksize: z.number().int().min(1).default(128).meta({
    description: "Columns per lazy-update block.",
  }),
});

/** Wanda parameters (none yet). */
export const WandaParams = z.strictObject({});

/** Magnitude-pruning parameters (none yet). */
export const MagnitudeParams = z.strictObject({});

/** Dense (no pruning) parameters: none. */
export const DenseParams = z.strictObject({});

/**
 * SDS parameters. Known fields are validated here; the layer-level knobs not listed
 * (`l1`, `schedule`, `beta1`, `beta2`, `eps`, `maskRule`, `maskFreeze`, `refit`, `adjustLr`,
 * `adjustIters`, `keepBest`) pass through and are checked by `resolveSdsParams` in
 * `src/prune/sds.ts`, whose `SDS_DEFAULTS` documents them. Defaults (see research/pruning.md and
 * the measurements recorded in `src/prune/sds.ts`):
 * - `base` (`"sparsegpt"`): one-shot pruner for steps 1 and 3a; a list expands into one run each.
 * - `reduction` (`"relative"`): reconstruction as ‖ΔX‖²/‖W_dX‖² and the regularisers as
 *   ‖W‖₁/‖W_d‖₁ and ‖W‖²/‖W_d‖², so λ means the same on every layer; `"mean"` (per entry and
 *   token) and `"sum"` are the literal readings, whose strength depends on each layer's scale.
 * - `lambda1` (1e-3), `lambda2` (1e-4): L1 / L2 weights of the re-dense regulariser; measured on
 *   the embedded model's layers, larger values made the final model worse.
 * - `optimizer` (`"adam"`; the paper names none), `lr` (0.1, as a fraction of rms(W_dense) per
 *   step), `iters` (200): the paper's 200 iterations and lr 0.1.
 * - `redenseData` (`"sd"`): inputs from the sparse model (SD-data); `"dd"` from the dense one.
 * - `redense` (true): run steps 2 and 3a; `false` adjusts the step-1 model directly (ablation).
 * - `output` (`"final"`): `"redense"` stops after step 2 and reports the re-dense model (ablation).
 * - `adjust` (true): run step 3b, the masked weight adjustment after the second pruning.
 * - `maskGranularity` (`"layer"`): how step 3b's magnitude mask ranks unstructured weights:
 *   per layer or per output row.
 * - `earlyExit` (false): `true` applies the paper's rule, skipping 3b when the second pruning
 *   alone beats step 1 on calibration NLL. The paper saw it fire on models above ~3B; on the
 *   embedded model it fires on margins of 3e-4 to 1e-2 nats and skips the step that carries SDS's gain
 *   (`bench/specs/sds-ablation.json`, before this default changed: SDS-Wanda 2:4 60.74 with the
 *   rule, 57.91 without; Wanda alone 61.27), so it is off by default and kept as an ablation.
 * - `evalRedense` (false): also evaluate the re-dense model (`metrics.redensePpl`).
 */
export const SdsParams = z.looseObject({
  base: z.union([SdsBaseName, z.array(SdsBaseName).min(1)]).default("sparsegpt").meta({
    description: "One-shot pruner SDS wraps; a list expands into one run per base.",
  }),
  lambda1: z.number().nonnegative().default(1e-3).meta({ description: "L1 regulariser weight." }),
  lambda2: z.number().nonnegative().default(1e-4).meta({ description: "L2 regulariser weight." }),
  reduction: z.enum(["relative", "mean", "sum"]).default("relative").meta({
    description:
      "Scale of loss and regularisers: relative to the dense layer, per entry, or summed.",
  }),
  optimizer: z.enum(["adam", "sgd"]).default("adam"),
  lr: z.number().positive().default(0.1),
  iters: z.number().int().min(0).default(200),
  redenseData: z.enum(["sd", "dd"]).default("sd").meta({
    description: "Re-dense inputs from the sparse (sd) or dense (dd) model.",
  }),
  redense: z.boolean().default(true).meta({
    description:
      "Run the re-dense step and the second pruning; false adjusts the step-1 model directly.",
  }),
  output: z.enum(["final", "redense"]).default("final").meta({
    description: "Report the final SDS model, or stop after re-dense and report that model.",
  }),
  adjust: z.boolean().default(true).meta({ description: "Run the masked weight adjustment." }),
  maskGranularity: z.enum(["layer", "row"]).default("layer"),
  earlyExit: z.boolean().default(false).meta({
    description:
      "Apply the paper's early exit: skip the adjustment when the second prune alone beats step 1.",
  }),
  evalRedense: z.boolean().default(false),
});

/** Parameter block schema of each pruning method; a spec entry may carry one per method. */
export const PRUNE_PARAMS = {
  dense: DenseParams,
  magnitude: MagnitudeParams,
  wanda: WandaParams,
  sparsegpt: SparseGptParams,
  sds: SdsParams,
} as const satisfies Record<PruneMethod, z.ZodType>;

/** Options of a drafter: free-form knobs passed through to the drafter implementation. */
export const DrafterOptions = z.record(z.string(), z.unknown()).meta({
  description: "Drafter knobs, passed through to the implementation.",
});

/** Options block schema of each drafter; a decode entry may carry one per drafter. */
export const DRAFTER_OPTIONS = {
  ar: z.strictObject({}),
  medusa: DrafterOptions,
  amphista: DrafterOptions,
} as const satisfies Record<Drafter, z.ZodType>;
