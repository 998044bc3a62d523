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
 * Early exit (recorded): step 3b is skipped when S2's mean next-token NLL on the calibration
 * sequences is already below S1's.
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

  const redenseStats = await hooks.phase(
    "sds:step2-stats",
    () => collectModelStats(params.redenseData === "dd" ? dense : s1.model, sequences),
  );
  const redenseInfo: Record<string, unknown>[] = [];
  const patch = new Map<string, Float32Array>();
  await hooks.phase("sds:step2-redense", () => {
    for (let layer = 0; layer < L; layer++) {
      for (const linear of LINEAR_NAMES) {
        const name = linearWeightName(layer, linear);
        const st = redenseStats[layer][LINEAR_INPUT[linear]];
        const cols = st.colSqNorms.length;
        const Wd = dense.weights.get(name)!;
        const r = redenseLayer({
          Wdense: Wd,
          Wsparse: s1.model.weights.get(name)!,
          rows: Wd.length / cols,
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
      }
      hooks.progress(layer + 1, L, "layers re-densified");
    }
  });
  const redense = await dense.withWeights(patch);
  const nllR = await calibrationNll(redense, sequences);
  hooks.log(`SDS step 2 (re-dense): calibration NLL ${nllR.toFixed(4)}`);

  const s2 = await hooks.phase("sds:step3-prune", () => prune(redense));
  const nllS2 = await calibrationNll(s2.model, sequences);
  hooks.log(`SDS step 3a (second prune): calibration NLL ${nllS2.toFixed(4)}`);
  await s1.model.close();

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
        for (const linear of LINEAR_NAMES) {
          const name = linearWeightName(layer, linear);
          const st = adjStats[layer][LINEAR_INPUT[linear]];
          const cols = st.colSqNorms.length;
          const Wd = dense.weights.get(name)!;
          const rows = Wd.length / cols;
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
    await s2.model.close();
    final = { model, reports };
    nllFinal = await calibrationNll(model, sequences);
    hooks.log(`SDS step 3b (adjusted): calibration NLL ${nllFinal.toFixed(4)}`);
  }

  const histLayer = linearWeightName(Math.floor(L / 2), "mlp.gate_proj");
  const Wd = dense.weights.get(histLayer)!;
  let m = 0;
  for (const v of Wd) m = Math.max(m, Math.abs(v));
  const hist = (w: Float32Array) => weightHistogram(w, { bins: 81, range: [-m, m] });
  const histograms = {
    layer: histLayer,
    dense: hist(Wd),
    step1: hist(s1.model.weights.get(histLayer)!),
    redense: hist(redense.weights.get(histLayer)!),
    final: hist(final.model.weights.get(histLayer)!),
  };
  return {
    model: final.model,
    reports: final.reports,
    redense,
    histograms,
    summary: {
      base: base.name,
      calibrationNll: { step1: nllS1, redense: nllR, step2: nllS2, final: nllFinal },
      earlyExit,
      adjusted,
      earlyExitRule: "skip step 3b when the second prune's calibration NLL is below step 1's",
    },
    details: { redense: redenseInfo, adjust: adjustInfo },
  };
}
