/**
 * SDS (Sparse-Dense-Sparse) at the model level, over a base one-shot pruner:
 *
 * 1. prune the dense model with the base pruner (sequential calibration) → S1;
 * 2. re-dense: every pruned linear is re-optimised as a dense matrix, starting from S1's weights,
 *    to reproduce the dense layer's outputs on the layer's inputs from S1 ("SD-data") or from
 *    the dense model ("DD"), with sparse regularisation ({@linkcode redenseLayer}) → R;
 * 3. prune R again with the same base pruner and pattern → S2; then, unless the early exit
 *    applies, adjust S2's weights under a magnitude mask re-selected every iteration, with inputs
 *    from S2 ({@linkcode adjustLayer}) → final.
 *
 * Early exit (`earlyExit`, off by default; recorded): step 3b is skipped when S2's mean
 * next-token NLL on the calibration
 * sequences is already below S1's.
 *
 * Ablations (the paper's axes, all spec parameters): `redense: false` skips steps 2 and 3a so 3b
 * adjusts S1 directly; `output: "redense"` stops after step 2 and reports R; `adjust: false`
 * reports S2; `redenseData: "dd"` feeds step 2 the dense model's inputs.
 *
 * @module
 */

import type { CausalLM } from "../model/causal_lm.ts";
import { LINEAR_NAMES, linearWeightName } from "../model/weights.ts";
import { windowMeanNll } from "../eval/perplexity.ts";
import {
  collectModelStats,
  LINEAR_INPUT,
  type LinearReport,
  sequentialPrune,
  zeroFraction,
} from "./driver.ts";
import type { SparsityPattern } from "./pattern.ts";
import type { PrunerEntry } from "./registry.ts";
import { adjustLayer, redenseLayer, type SdsParams, weightHistogram } from "./sds.ts";
import { reconstructionErrorFromHessian } from "./reconstruction.ts";

/** Effects the pipeline needs from its caller (the executor context). */
export interface SdsHooks {
  phase<T>(name: string, fn: () => Promise<T> | T): Promise<T>;
  log(message: string): void;
  progress(done: number, total: number, note?: string): void;
}

/** Options for {@linkcode runSds}. */
export interface SdsPipelineOptions {
  base: PrunerEntry;
  baseParams: Record<string, unknown>;
  pattern: SparsityPattern;
  params: SdsParams;
  sequences: readonly number[][];
  hooks: SdsHooks;
}

/** What {@linkcode runSds} returns. */
export interface SdsOutcome {
  /** The final model (caller closes it). */
  model: CausalLM;
  /** Per-linear reports of the final weights. */
  reports: LinearReport[];
  /** Diagnostics recorded in the result (`metrics.sds` and artifacts). */
  summary: Record<string, unknown>;
  histograms: Record<string, unknown>;
  /** Per-linear diagnostics of steps 2 and 3b (stored as artifacts). */
  details: Record<string, unknown>;
  /** Intermediate models the caller may evaluate before closing (e.g. the re-dense model). */
  redense?: CausalLM;
}

/** Mean next-token NLL over calibration sequences. */
export async function calibrationNll(
  model: CausalLM,
  sequences: readonly number[][],
): Promise<number> {
  let sum = 0;
  for (const ids of sequences) {
    const { logits } = await model.logits(ids);
    sum += windowMeanNll(logits, ids, model.config.vocab_size);
  }
  return sum / sequences.length;
}

/** Runs the three SDS steps. */
export async function runSds(dense: CausalLM, o: SdsPipelineOptions): Promise<SdsOutcome> {
  const { base, baseParams, pattern, params, sequences, hooks } = o;
  if (!params.redense && params.output === "redense") {
    throw new RangeError(
      'sds: output "redense" needs the re-dense step; set redense: true or output: "final"',
    );
  }
  const L = dense.config.num_hidden_layers;
  const prune = (model: CausalLM) =>
    sequentialPrune(model, sequences, {
      pruneLinear: (l) =>
        base.prune(
          { W: l.W, rows: l.rows, cols: l.cols, stats: l.stats, name: l.name },
          pattern,
          baseParams,
        ),
      onBlock: (d, t) => hooks.progress(d, t, "blocks pruned"),
    });

  const s1 = await hooks.phase("sds:step1-prune", () => prune(dense));
  const nllS1 = await calibrationNll(s1.model, sequences);
  hooks.log(`SDS step 1 (${base.name}): calibration NLL ${nllS1.toFixed(4)}`);

  // Step 2 (re-dense) and 3a (second prune); skipped by the "no re-dense" ablation, which
  // adjusts the step-1 model directly.
  let redense: CausalLM | undefined;
  let nllR: number | null = null;
  let s2 = s1;
  let nllS2 = nllS1;
  const redenseInfo: Record<string, unknown>[] = [];
  const redenseReports: LinearReport[] = [];
  if (params.redense) {
    const redenseStats = await hooks.phase(
      "sds:step2-stats",
      () => collectModelStats(params.redenseData === "dd" ? dense : s1.model, sequences),
    );
    const patch = new Map<string, Float32Array>();
    await hooks.phase("sds:step2-redense", () => {
      for (let layer = 0; layer < L; layer++) {
        for (const { name, st, cols, rows, Wd } of blockLinears(dense, redenseStats, layer)) {
          const r = redenseLayer({
            Wdense: Wd,
            Wsparse: s1.model.weights.get(name)!,
            rows,
            cols,
            H: st.hessian,
            tokensPerSample: sequences[0].length,
            nsamples: st.nsamples,
            params,
            name,
          });
          patch.set(name, r.W);
          redenseInfo.push({
            name,
            relErrorStart: r.info.relErrorStart,
            relErrorEnd: r.info.relErrorEnd,
            nearZeroEnd: r.info.nearZeroEnd,
          });
          const zeros = countExactZeros(r.W);
          redenseReports.push({
            name,
            rows,
            cols,
            sparsity: zeros / r.W.length,
            relativeReconstructionError: r.info.relErrorEnd,
            info: {
              method: `sds-${base.name}:redense`,
              pattern: "dense",
              rows,
              cols,
              pruned: 0,
              zeros,
              sparsity: zeros / r.W.length,
            },
          });
        }
        hooks.progress(layer + 1, L, "layers re-densified");
      }
    });
    redense = await dense.withWeights(patch);
    nllR = await calibrationNll(redense, sequences);
    hooks.log(`SDS step 2 (re-dense): calibration NLL ${nllR.toFixed(4)}`);
    if (params.output === "redense") {
      await s1.model.close();
      return {
        model: redense,
        reports: redenseReports,
        histograms: histograms(dense, { step1: s1.model, redense, final: redense }),
        summary: summary(base.name, params, {
          calibrationNll: { step1: nllS1, redense: nllR, step2: null, final: nllR },
          earlyExit: false,
          adjusted: false,
        }),
        details: { redense: redenseInfo, adjust: [] },
      };
    }
    s2 = await hooks.phase("sds:step3-prune", () => prune(redense!));
    nllS2 = await calibrationNll(s2.model, sequences);
    hooks.log(`SDS step 3a (second prune): calibration NLL ${nllS2.toFixed(4)}`);
  }

  let final = s2;
  let nllFinal = nllS2;
  const earlyExit = params.earlyExit && nllS2 < nllS1;
  const adjusted = params.adjust && !earlyExit;
  const adjustInfo: Record<string, unknown>[] = [];
  if (adjusted) {
    const adjStats = await hooks.phase(
      "sds:step3-stats",
      () => collectModelStats(s2.model, sequences),
    );
    const adj = new Map<string, Float32Array>();
    const reports: LinearReport[] = [];
    await hooks.phase("sds:step3-adjust", () => {
      for (let layer = 0; layer < L; layer++) {
        for (const { name, st, cols, rows, Wd } of blockLinears(dense, adjStats, layer)) {
          const r = adjustLayer({
            Wdense: Wd,
            W: s2.model.weights.get(name)!,
            rows,
            cols,
            pattern,
            H: st.hessian,
            tokensPerSample: sequences[0].length,
            nsamples: st.nsamples,
            params,
            name,
          });
          adj.set(name, r.W);
          adjustInfo.push({
            name,
            relErrorStart: r.info.relErrorStart,
            relErrorEnd: r.info.relErrorEnd,
            maskChanges: r.info.maskChanges,
          });
          const denom = reconstructionErrorFromHessian({
            W: Wd,
            What: new Float32Array(Wd.length),
            rows,
            cols,
          }, st.hessian);
          const err = reconstructionErrorFromHessian({ W: Wd, What: r.W, rows, cols }, st.hessian);
          reports.push({
            name,
            rows,
            cols,
            sparsity: zeroFraction(r.W),
            relativeReconstructionError: denom > 0 ? err / denom : 0,
            info: {
              method: `sds-${base.name}`,
              pattern: r.info.pattern,
              rows,
              cols,
              pruned: r.info.pruned,
              zeros: r.info.zeros,
              sparsity: r.info.sparsity,
            },
          });
        }
        hooks.progress(layer + 1, L, "layers adjusted");
      }
    });
    const model = await s2.model.withWeights(adj);
    if (s2 !== s1) await s2.model.close();
    final = { model, reports };
    nllFinal = await calibrationNll(model, sequences);
    hooks.log(`SDS step 3b (adjusted): calibration NLL ${nllFinal.toFixed(4)}`);
  }

  const hist = histograms(dense, {
    step1: s1.model,
    redense: redense ?? s1.model,
    final: final.model,
  });
  if (final !== s1) await s1.model.close();
  return {
    model: final.model,
    reports: final.reports,
    redense,
    histograms: hist,
    summary: summary(base.name, params, {
      calibrationNll: {
        step1: nllS1,
        redense: nllR,
        step2: params.redense ? nllS2 : null,
        final: nllFinal,
      },
      earlyExit,
      adjusted,
    }),
    details: { redense: redenseInfo, adjust: adjustInfo },
  };
}

/** Exact zeros in a weight array. */
function countExactZeros(w: Float32Array): number {
  let z = 0;
  for (let i = 0; i < w.length; i++) if (w[i] === 0) z++;
  return z;
}

/**
 * Weight histograms of one representative layer (the middle block's `mlp.gate_proj`) on the
 * dense model's symmetric range: dense, step 1, re-dense (step 1 again when re-dense is skipped)
 * and final.
 */
function histograms(
  dense: CausalLM,
  models: { step1: CausalLM; redense: CausalLM; final: CausalLM },
): Record<string, unknown> {
  const layer = linearWeightName(Math.floor(dense.config.num_hidden_layers / 2), "mlp.gate_proj");
  const Wd = dense.weights.get(layer)!;
  let m = 0;
  for (const v of Wd) m = Math.max(m, Math.abs(v));
  const hist = (w: Float32Array) => weightHistogram(w, { bins: 81, range: [-m, m] });
  return {
    layer,
    dense: hist(Wd),
    step1: hist(models.step1.weights.get(layer)!),
    redense: hist(models.redense.weights.get(layer)!),
    final: hist(models.final.weights.get(layer)!),
  };
}

/** The run summary recorded as `metrics.sds`. */
function summary(
  base: string,
  params: SdsParams,
  o: {
    calibrationNll: Record<string, number | null>;
    earlyExit: boolean;
    adjusted: boolean;
  },
): Record<string, unknown> {
  return {
    base,
    redense: params.redense,
    output: params.output,
    calibrationNll: o.calibrationNll,
    earlyExit: o.earlyExit,
    adjusted: o.adjusted,
    earlyExitRule: "skip step 3b when the second prune's calibration NLL is below step 1's",
  };
}

/** The linears of block `layer`: name, calibration statistic of their input, dense weights. */
function blockLinears(
  dense: CausalLM,
  stats: Awaited<ReturnType<typeof collectModelStats>>,
  layer: number,
) {
  return LINEAR_NAMES.map((linear) => {
    const name = linearWeightName(layer, linear);
    const st = stats[layer][LINEAR_INPUT[linear]];
    const cols = st.colSqNorms.length;
    const Wd = dense.weights.get(name)!;
    return { name, st, cols, rows: Wd.length / cols, Wd };
  });
}
