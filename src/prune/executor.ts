/**
 * Executes a `prune` run: load the model, prune it with the run's method and pattern (sequential
 * calibration for data-aware pruners), then evaluate perplexity and zero-shot tasks.
 *
 * @module
 */

import type { Executor, ExecutorContext } from "../results/executor.ts";
import type { PruneRunSpec } from "../spec/plan.ts";
import type { Pattern } from "../spec/pattern.ts";
import { type CausalLM, loadModelFolder } from "../model/causal_lm.ts";
import { writeHfModelFolder } from "../model/weights.ts";
import { mulberry32 } from "../linalg/random.ts";
import { SPLIT_NAMES, type SplitName } from "../data/splits.ts";
import { splitTokens } from "../data/token_cache.ts";
import { loadTokenizer } from "../data/tokenizer.ts";
import { loadTask } from "../data/tasks.ts";
import { perplexity } from "../eval/perplexity.ts";
import { evaluateZeroShot } from "../eval/zeroshot.ts";
import { causalLmScorer } from "../eval/lm_scorer.ts";
import { nm, type SparsityPattern, unstructured } from "./pattern.ts";
import { getPruner } from "./registry.ts";
import { type LinearReport, sequentialPrune } from "./driver.ts";
import { runSds } from "./sds_pipeline.ts";
import { SDS_DEFAULTS, type SdsParams } from "./sds.ts";

/**
 * The pruners' pattern for a spec pattern. Specs use NVIDIA's N:M convention (n kept of m);
 * the pruners count zeros, as the SparseGPT/Wanda code does (`--prunen` zeroes n of m).
 */
export function prunerPattern(p: Pattern): SparsityPattern {
  if (p.type === "unstructured") return unstructured(p.sparsity);
  if (p.type === "nm") return nm(p.m - p.n, p.m);
  throw new Error(`pattern ${JSON.stringify(p)} prunes nothing`);
}

function resolve(root: string, path: string): string {
  return path.startsWith("/") ? path : `${root}/${path}`;
}

/** Token ids of an eval set: a corpus split name or a path to a UTF-8 text file. */
async function evalTokens(root: string, set: string, modelDir: string): Promise<Int32Array> {
  if ((SPLIT_NAMES as readonly string[]).includes(set)) {
    return await splitTokens(set as SplitName, { root, tokenizer: modelDir });
  }
  const path = resolve(root, set);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(
      `eval.ppl.sets: "${set}" is neither a split (${SPLIT_NAMES.join(", ")}) nor a readable ` +
        `text file (${(e as Error).message})`,
    );
  }
  return Int32Array.from(loadTokenizer(modelDir).encode(text));
}

/**
 * Calibration for methods that read no data (magnitude): the driver still collects layer
 * statistics so that every result reports the same per-layer reconstruction error.
 */
export const REPORT_CALIBRATION = { samples: 128, seqlen: 256, split: "train" } as const;

/** Seeded calibration windows of `seqlen` tokens from a split's token stream. */
export function sampleCalibration(
  tokens: Int32Array,
  o: { samples: number; seqlen: number; seed: number },
): number[][] {
  if (tokens.length <= o.seqlen) throw new Error("calibration split is shorter than one window");
  const rnd = mulberry32(o.seed >>> 0);
  const out: number[][] = [];
  for (let s = 0; s < o.samples; s++) {
    const off = Math.floor(rnd() * (tokens.length - o.seqlen));
    out.push(Array.from(tokens.subarray(off, off + o.seqlen)));
  }
  return out;
}

/** Prunes a loaded model as the run says; returns the pruned model and per-linear reports. */
async function pruneModel(
  model: CausalLM,
  spec: PruneRunSpec,
  ctx: ExecutorContext,
): Promise<{ model: CausalLM; reports: LinearReport[]; extra: Record<string, unknown> }> {
  if (spec.method === "dense") return { model, reports: [], extra: {} };
  const modelDir = resolve(ctx.root, spec.model.path);
  const pattern = prunerPattern(spec.pattern);
  const cal = spec.calibration ?? { ...REPORT_CALIBRATION, seed: spec.seed };
  const calTokens = await splitTokens(cal.split as SplitName, {
    root: ctx.root,
    tokenizer: modelDir,
  });
  const sequences = sampleCalibration(calTokens, cal);
  if (spec.method === "sds") {
    const { base, baseParams, ...rest } = spec.params;
    const pruner = getPruner(base, "spec.params.base");
    const params: SdsParams = { ...SDS_DEFAULTS, ...(rest as Partial<SdsParams>), base };
    const out = await runSds(model, {
      base: pruner,
      baseParams: { ...pruner.defaults, ...baseParams },
      pattern,
      params,
      sequences,
      hooks: ctx,
    });
    const extra: Record<string, unknown> = {
      sds: out.summary,
      histograms: out.histograms,
      sdsLayers: out.details,
    };
    if (params.evalRedense && out.redense) {
      const ppl: Record<string, unknown> = {};
      for (const set of spec.eval.ppl.sets) {
        const ids = await evalTokens(ctx.root, set, modelDir);
        ppl[set] = await perplexity(out.redense, ids, {
          seqlen: spec.eval.ppl.seqlen,
          maxWindows: spec.eval.ppl.maxWindows ?? undefined,
        });
      }
      extra.redensePpl = ppl;
    }
    await out.redense?.close();
    return { model: out.model, reports: out.reports, extra };
  }
  const pruner = getPruner(spec.method, "spec.method");
  const params = { ...pruner.defaults, ...(spec.params as Record<string, unknown>) };
  const { model: pruned, reports } = await sequentialPrune(model, sequences, {
    pruneLinear: (l) =>
      pruner.prune(
        { W: l.W, rows: l.rows, cols: l.cols, stats: l.stats, name: l.name },
        pattern,
        params,
      ),
    onBlock: (done, total) => ctx.progress(done, total, "blocks pruned"),
  });
  return { model: pruned, reports, extra: {} };
}

/** Mean of the zero-shot `acc` over tasks, with the mean of the interval bounds. */
function zeroShotAverage(z: Record<string, { acc: number; acc_ci: [number, number] }>) {
  const rows = Object.values(z);
  if (rows.length === 0) return undefined;
  const mean = (f: (r: typeof rows[number]) => number) =>
    rows.reduce((a, r) => a + f(r), 0) / rows.length;
  return { acc: mean((r) => r.acc), acc_ci: [mean((r) => r.acc_ci[0]), mean((r) => r.acc_ci[1])] };
}

/** The `prune` executor. */
export const execute: Executor<"prune"> = async (run, ctx) => {
  const spec = run.spec;
  const modelDir = resolve(ctx.root, spec.model.path);
  const dense = await ctx.phase(
    "load",
    () =>
      loadModelFolder(modelDir, { backend: spec.runtime.backend, threads: spec.runtime.threads }),
  );
  let model: CausalLM = dense;
  try {
    const t0 = performance.now();
    const pruned = await ctx.phase("prune", () => pruneModel(dense, spec, ctx));
    const pruneSeconds = (performance.now() - t0) / 1000;
    model = pruned.model;
    const metrics: Record<string, unknown> = {};
    const ppl: Record<string, unknown> = {};
    for (const set of spec.eval.ppl.sets) {
      const ids = await evalTokens(ctx.root, set, modelDir);
      ppl[set] = await ctx.phase(`ppl:${set}`, () =>
        perplexity(model, ids, {
          seqlen: spec.eval.ppl.seqlen,
          maxWindows: spec.eval.ppl.maxWindows ?? undefined,
          onProgress: (d, t) => ctx.progress(d, t, `ppl ${set}`),
        }));
    }
    metrics.ppl = ppl;
    const zeroshot: Record<string, { acc: number; acc_ci: [number, number] }> = {};
    const tok = loadTokenizer(modelDir);
    for (const task of spec.eval.zeroshot.tasks) {
      const loaded = await loadTask(task, {
        root: ctx.root,
        limit: spec.eval.zeroshot.limit ?? undefined,
      });
      zeroshot[loaded.name] = await ctx.phase(
        `zeroshot:${loaded.name}`,
        () =>
          evaluateZeroShot(causalLmScorer(model), loaded.items, {
            tokenizer: tok,
            onProgress: (d, t) => ctx.progress(d, t, `zero-shot ${loaded.name}`),
          }),
      );
    }
    if (Object.keys(zeroshot).length) {
      metrics.zeroshot = zeroshot;
      metrics.zeroshotAverage = zeroShotAverage(zeroshot);
    }
    if (pruned.reports.length) {
      let zeros = 0, total = 0;
      for (const r of pruned.reports) {
        zeros += r.sparsity * r.rows * r.cols;
        total += r.rows * r.cols;
      }
      metrics.sparsity = { overall: zeros / total, linears: pruned.reports.length };
      metrics.pruneSeconds = pruneSeconds;
      metrics.meanRelativeReconstructionError = pruned.reports.reduce(
        (a, r) => a + r.relativeReconstructionError,
        0,
      ) / pruned.reports.length;
    } else {
      metrics.sparsity = { overall: 0, linears: 0 };
    }
    if (pruned.extra.sds) metrics.sds = pruned.extra.sds;
    if (pruned.extra.redensePpl) metrics.redensePpl = pruned.extra.redensePpl;
    if (ctx.saveModelDir && model !== dense) {
      const out = `${resolve(ctx.root, ctx.saveModelDir)}/${run.label.replace(/[^\w.-]+/g, "_")}`;
      await writeHfModelFolder(out, model.config, model.weights);
      for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
        await Deno.copyFile(`${modelDir}/${f}`, `${out}/${f}`).catch(() => {});
      }
      ctx.log(`saved the pruned model to ${out}`);
    }
    return {
      metrics: metrics as never,
      artifacts: JSON.parse(JSON.stringify({
        layers: pruned.reports,
        histograms: pruned.extra.histograms,
        sdsLayers: pruned.extra.sdsLayers,
      })),
      providerUsed: dense.runtime.provider,
      providerReason: dense.runtime.reason,
    };
  } finally {
    if (model !== dense) await model.close();
    await dense.close();
  }
};
