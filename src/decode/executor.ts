/**
 * Executes a `decode` run (Spec-Bench conventions, research/decoding.md §4.3–4.4, §5): load the
 * target and the drafter on the same provider, load the prompts, build the tree, then — in this
 * one process, on the one session and KV-cache path — run warm-up generations followed by
 * `repeats` timed rounds in which every prompt is decoded autoregressively and speculatively
 * (interleaved per prompt, AR first on even repeats and second on odd ones, so drift on a shared
 * machine hits both alike).
 *
 * Reported (`metrics`): `tau` (mean committed tokens per step, the target's own token included),
 * `speedup` (mean over repeats of mean per-prompt method tokens/s ÷ mean per-prompt AR tokens/s),
 * `lossless` (greedy speculative output equals AR output token for token on every prompt and
 * repeat; exceptions with their first divergence), their spreads, tokens/s, per-depth acceptance,
 * the accepted-length histogram, the step latency split (draft / verify / bookkeeping), overhead
 * (speculative step ÷ AR step), τ ÷ overhead, the per-category breakdown, and the drafter's
 * parameter count and milliseconds per step. A drafter `ar` run reports AR alone (τ 1, speedup 1;
 * `lossless` there means AR repeats agree with each other).
 *
 * A prompt cap (`limit`) takes prompts round-robin over the categories ({@linkcode selectPrompts}).
 * Prompts longer than the context allows are cut from the left so that prompt + max new tokens +
 * the largest tree (65 query tokens, or the run's tree when larger) fit `max_position_embeddings`;
 * the cut is the same for every tree size, so AR outputs agree across the runs of a sweep.
 *
 * @module
 */

import type { Executor } from "../results/executor.ts";
import type { DecodeRunSpec } from "../spec/plan.ts";
import { loadModelFolder, type OrtCausalLM } from "../model/causal_lm.ts";
import { loadPromptSet, type Prompt } from "../data/prompts.ts";
import { loadTokenizer } from "../data/tokenizer.ts";
import {
  type DrafterFolder,
  openDrafter,
  readDrafterFolder,
  targetLmHead,
  weightsFingerprint,
} from "../draft/folder.ts";
import type { DraftHeads } from "../draft/types.ts";
import { medusaParameterCount } from "../draft/medusa.ts";
import {
  type AmphistaFolder,
  amphistaParameterCount,
  openAmphistaDrafter,
  readAmphistaFolder,
} from "../draft/amphista.ts";
import type { AcceptanceRule } from "./acceptance.ts";
import {
  type DecodeMetrics,
  decodeMetrics,
  latencySplit,
  losslessCheck,
  meanTokensPerSecond,
  type PromptRun,
  spread,
} from "./metrics.ts";
import {
  autoregressiveGenerate,
  type Drafter,
  type DraftInput,
  type GenerationResult,
  speculativeGenerate,
} from "./speculative_loop.ts";
import { OrtTreeTarget } from "./target.ts";
import { buildTreeBuffers, chainTree, type TreeBuffers } from "./tree.ts";
import { buildTreeFromAccuracies, expectedAcceptLength } from "./tree_builder.ts";

/** Query tokens of the largest canonical tree (64 nodes + root): the prompt budget reserves them. */
export const RESERVED_TREE_TOKENS = 65;

function resolve(root: string, path: string): string {
  return path.startsWith("/") ? path : `${root}/${path}`;
}

/** Medusa-family drafter options a spec may give (`medusa: {...}` in a decode entry). */
export interface DrafterRunOptions {
  /** Candidates kept per head (Medusa's TOPK, default 10); tree ranks must be below it. */
  topk: number;
}

/**
 * Reads the drafter options block of a run.
 *
 * @param options the run's `options`.
 * @returns the options with defaults.
 * @throws Error naming the field for an unknown key or a bad value
 */
export function drafterRunOptions(options: Record<string, unknown>): DrafterRunOptions {
  const out: DrafterRunOptions = { topk: 10 };
  for (const [k, v] of Object.entries(options)) {
    if (k === "folder") {
      if (typeof v !== "string" || v === "") {
        throw new Error(`decode options: field "folder" must be a drafter folder path, got ${v}`);
      }
    } else if (k === "topk") {
      if (!Number.isInteger(v) || (v as number) < 1) {
        throw new Error(`decode options: field "topk" must be a positive integer, got ${v}`);
      }
      out.topk = v as number;
    } else {
      throw new Error(`decode options: unknown field "${k}"; known fields: "topk"`);
    }
  }
  return out;
}

/**
 * The rank paths of a run's tree.
 *
 * @param tree the run's tree spec.
 * @param accuracy per-rank head accuracies (needed for `medusa` trees).
 * @param topk candidates per head.
 * @param where drafter folder, for messages.
 * @returns the paths.
 */
export function treePaths(
  tree: NonNullable<DecodeRunSpec["tree"]>,
  accuracy: readonly (readonly number[])[] | undefined,
  topk: number,
  where: string,
): number[][] {
  switch (tree.type) {
    case "chain":
      return chainTree(tree.depth);
    case "paths":
      return tree.paths.map((p) => [...p]);
    case "medusa":
      if (!accuracy) {
        throw new Error(
          `${where}/accuracy.json: missing; a {"type": "medusa", "size"} tree is built from the heads' measured accuracy. Fix: retrain the heads with scripts/train_heads.ts or use a chain/paths tree`,
        );
      }
      return buildTreeFromAccuracies(accuracy, tree.size, { topk });
  }
}

/**
 * The prompts a run uses: all of them, or `limit` taken round-robin over the categories (in order
 * of first appearance, file order within a category), so a capped run still covers every
 * category instead of only the first one in the file.
 *
 * @param prompts the whole set.
 * @param limit prompt cap.
 * @returns the selected prompts, in selection order.
 */
export function selectPrompts<P extends { category: string }>(
  prompts: readonly P[],
  limit?: number,
): P[] {
  if (limit === undefined || limit >= prompts.length) return [...prompts];
  const groups = new Map<string, P[]>();
  for (const p of prompts) {
    const g = groups.get(p.category);
    if (g) g.push(p);
    else groups.set(p.category, [p]);
  }
  const out: P[] = [];
  for (let i = 0; out.length < limit; i++) {
    for (const g of groups.values()) {
      if (i < g.length && out.length < limit) out.push(g[i]);
    }
  }
  return out;
}

/** Maps a spec acceptance rule onto the loop's rule. */
export function acceptanceRule(a: DecodeRunSpec["acceptance"]): AcceptanceRule {
  return a.type === "greedy" ? { kind: "greedy" } : {
    kind: "typical",
    temperature: a.temperature,
    posteriorThreshold: a.epsilon,
    posteriorAlpha: a.delta,
  };
}

/** Replaces non-finite numbers by null, deeply (results must be finite JSON). */
export function finiteJson<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v)),
  );
}

/** A drafter wrapper that times `propose` (drafter latency per step, candidates excluded). */
class TimedDrafter implements Drafter {
  calls = 0;
  ms = 0;
  constructor(readonly inner: DraftHeads) {}
  get numHeads(): number {
    return this.inner.numHeads;
  }
  reset(): void | Promise<void> {
    return this.inner.reset?.();
  }
  async propose(input: DraftInput): Promise<Float32Array> {
    const t0 = performance.now();
    const out = await this.inner.propose(input);
    this.ms += performance.now() - t0;
    this.calls++;
    return out;
  }
}

interface EncodedPrompt extends Prompt {
  ids: Int32Array;
  originalLength: number;
}

function toRun(p: EncodedPrompt, g: GenerationResult): PromptRun {
  return {
    prompt: p.id,
    category: p.category,
    newTokens: g.tokens.length,
    wallMs: g.wallMs,
    acceptLengths: g.acceptLengths,
    steps: g.steps,
  };
}

/** The `decode` executor. */
export const execute: Executor<"decode"> = async (run, ctx) => {
  const spec = run.spec;
  const modelDir = resolve(ctx.root, spec.model.path);
  const model: OrtCausalLM = await ctx.phase(
    "load",
    () =>
      loadModelFolder(modelDir, { backend: spec.runtime.backend, threads: spec.runtime.threads }),
  );
  let heads: DraftHeads | undefined;
  try {
    const cfg = model.config;
    const options = drafterRunOptions(spec.drafter === "ar" ? {} : spec.options);
    const rule = acceptanceRule(spec.acceptance);

    // Drafter and tree.
    let folder: DrafterFolder | AmphistaFolder | undefined;
    let tree: TreeBuffers | undefined;
    let paths: number[][] | undefined;
    let drafter: TimedDrafter | undefined;
    let baseModelMatches: boolean | null = null;
    if (spec.drafter !== "ar") {
      if (spec.drafter !== "medusa" && spec.drafter !== "amphista") {
        throw new Error(`drafter "${spec.drafter}" is not implemented yet`);
      }
      if (!spec.tree) throw new Error(`spec.tree: drafter "${spec.drafter}" needs a tree`);
      const folderPath = resolve(
        ctx.root,
        (spec.options.folder as string | undefined) ?? spec.drafterPath ??
          `${spec.model.path}/${spec.drafter}`,
      );
      const amphista = spec.drafter === "amphista";
      folder = await ctx.phase<DrafterFolder | AmphistaFolder>(
        "load",
        () => amphista ? readAmphistaFolder(folderPath) : readDrafterFolder(folderPath),
      );
      paths = treePaths(spec.tree, folder.accuracy?.perRank, options.topk, folderPath);
      tree = buildTreeBuffers(paths, { topk: options.topk });
      if (tree.maxDepth > folder.config.num_heads) {
        throw new Error(
          `spec.tree: the tree is ${tree.maxDepth} deep but ${folderPath} has ${folder.config.num_heads} heads; use a shallower tree`,
        );
      }
      const f = folder, depth = tree.maxDepth;
      heads = await ctx.phase("load", () =>
        amphista
          ? openAmphistaDrafter(f as AmphistaFolder, {
            hiddenSize: cfg.hidden_size,
            vocabSize: cfg.vocab_size,
            lmHead: targetLmHead(model),
            runtime: model.runtime,
          }, { heads: depth })
          : openDrafter(f as DrafterFolder, {
            hiddenSize: cfg.hidden_size,
            vocabSize: cfg.vocab_size,
            lmHead: targetLmHead(model),
            runtime: model.runtime,
          }, { heads: depth }));
      if (folder.baseModel) {
        baseModelMatches = folder.baseModel.fingerprint === await weightsFingerprint(model.weights);
        if (!baseModelMatches) {
          ctx.log(
            `warning: ${folderPath} was trained on another version of the target (fingerprint ${folder.baseModel.fingerprint}); retrain with scripts/train_heads.ts`,
          );
        }
      }
      drafter = new TimedDrafter(heads);
    }

    // Prompts.
    const tokenizer = loadTokenizer(modelDir);
    const prompts = selectPrompts(
      await loadPromptSet(spec.prompts, { root: ctx.root }),
      spec.limit ?? undefined,
    );
    const reserve = spec.maxNewTokens + Math.max(RESERVED_TREE_TOKENS, tree?.size ?? 0);
    const budget = cfg.max_position_embeddings - reserve;
    if (budget < 1) {
      throw new Error(
        `spec.maxNewTokens: ${spec.maxNewTokens} new tokens plus ${
          reserve - spec.maxNewTokens
        } tree tokens leave no room for a prompt in the context of ${cfg.max_position_embeddings}; lower maxNewTokens`,
      );
    }
    const encoded: EncodedPrompt[] = prompts.map((p) => {
      const all = tokenizer.encode(p.prompt);
      if (all.length === 0) throw new Error(`prompt "${p.id}" encodes to no tokens`);
      return { ...p, ids: Int32Array.from(all.slice(-budget)), originalLength: all.length };
    });
    const eos = cfg.eos_token_id === undefined || cfg.eos_token_id === null
      ? (tokenizer.eosId === undefined ? [] : [tokenizer.eosId])
      : ([] as number[]).concat(cfg.eos_token_id);

    // Amphista's adapters read a bounded history: the prefill returns that many hidden rows.
    const historyRows = (heads as { historyRows?: number } | undefined)?.historyRows ?? 1;
    const target = new OrtTreeTarget(model, { prefillHiddenRows: historyRows });
    const loop = { maxNewTokens: spec.maxNewTokens, eosTokenIds: eos };
    const ar = (p: EncodedPrompt) => autoregressiveGenerate(target, p.ids, loop);
    const sp = (p: EncodedPrompt) =>
      speculativeGenerate(target, drafter!, p.ids, { ...loop, tree: tree!, acceptance: rule });

    // Warm-up (untimed): Spec-Bench generates the first question before timing.
    await ctx.phase("warmup", async () => {
      for (let w = 0; w < spec.warmup; w++) {
        await ar(encoded[0]);
        if (drafter) await sp(encoded[0]);
      }
    });
    if (drafter) drafter.calls = drafter.ms = 0;

    const arRuns: PromptRun[][] = [], spRuns: PromptRun[][] = [];
    const arOut: Record<string, number[]>[] = [], spOut: Record<string, number[]>[] = [];
    const stopReasons: Record<string, number> = {};
    const total = spec.repeats * encoded.length;
    await ctx.phase("decode", async () => {
      for (let r = 0; r < spec.repeats; r++) {
        arRuns.push([]);
        spRuns.push([]);
        arOut.push({});
        spOut.push({});
        for (const [i, p] of encoded.entries()) {
          // Alternate which method goes first, so neither always runs on a warmer machine.
          const specFirst = drafter !== undefined && r % 2 === 1;
          const s = specFirst ? await sp(p) : undefined;
          const a = await ar(p);
          arRuns[r].push(toRun(p, a));
          arOut[r][p.id] = a.tokens;
          if (drafter) {
            const g = s ?? await sp(p);
            spRuns[r].push(toRun(p, g));
            spOut[r][p.id] = g.tokens;
            stopReasons[g.stopReason] = (stopReasons[g.stopReason] ?? 0) + 1;
          } else stopReasons[a.stopReason] = (stopReasons[a.stopReason] ?? 0) + 1;
          ctx.progress(r * encoded.length + i + 1, total, `repeat ${r + 1}/${spec.repeats}`);
        }
      }
    });

    // Lossless: every repeat's speculative output against the same repeat's AR output (for `ar`,
    // every repeat against the first).
    const exceptions: Array<Record<string, unknown>> = [];
    for (let r = 0; r < spec.repeats; r++) {
      const check = drafter ? losslessCheck(arOut[r], spOut[r]) : losslessCheck(arOut[0], arOut[r]);
      for (const e of check.exceptions) exceptions.push({ repeat: r, ...e });
    }
    const promptStats = {
      count: encoded.length,
      meanPromptTokens: encoded.reduce((s, p) => s + p.ids.length, 0) / encoded.length,
      truncated: encoded.filter((p) => p.originalLength > p.ids.length).length,
      promptBudget: budget,
      meanNewTokens: arRuns.flat().reduce((s, x) => s + x.newTokens, 0) / arRuns.flat().length,
      stopReasons,
    };
    const arLatency = latencySplit(arRuns.flat());
    const arTps = spread(arRuns.map(meanTokensPerSecond));
    const perPrompt = encoded.map((p, i) => {
      const a = arRuns.map((rr) => rr[i]);
      const s = spRuns.map((rr) => rr[i]).filter(Boolean);
      const tps = (xs: PromptRun[]) =>
        xs.reduce((acc, x) => acc + x.newTokens / (x.wallMs / 1000), 0) / xs.length;
      const steps = s.flatMap((x) => x.acceptLengths);
      return {
        id: p.id,
        category: p.category,
        promptTokens: p.ids.length,
        newTokens: a[0].newTokens,
        arTokensPerSecond: tps(a),
        ...(s.length
          ? {
            tokensPerSecond: tps(s),
            tau: steps.reduce((x, y) => x + y, 0) / steps.length,
          }
          : {}),
      };
    });

    let metrics: Record<string, unknown>;
    if (!drafter) {
      metrics = {
        tau: 1,
        speedup: 1,
        lossless: exceptions.length === 0,
        tokensPerSecond: arTps,
        baselineTokensPerSecond: arTps,
        latency: arLatency,
        baselineLatency: arLatency,
        overhead: 1,
        prompts: promptStats,
        losslessReport: {
          checked: encoded.length * spec.repeats,
          against: "first AR repeat",
          exceptions,
        },
      };
    } else {
      const m: DecodeMetrics = decodeMetrics({
        method: spRuns,
        baseline: arRuns,
        maxDepth: tree!.maxDepth,
      });
      const predicted = folder?.accuracy
        ? expectedAcceptLength(folder.accuracy.perRank, paths!)
        : null;
      metrics = {
        tau: m.tau,
        speedup: m.speedup.mean,
        // Greedy only: typical acceptance is not meant to reproduce AR output.
        ...(spec.acceptance.type === "greedy" ? { lossless: exceptions.length === 0 } : {}),
        matchesAr: 1 - exceptions.length / (encoded.length * spec.repeats),
        speedupSpread: m.speedup,
        tokensPerSecond: m.tokensPerSecond,
        baselineTokensPerSecond: m.baselineTokensPerSecond,
        aggregateTokensPerSecond: m.aggregateTokensPerSecond,
        perDepthAcceptance: m.perDepthAcceptance,
        acceptHistogram: m.acceptLengthHistogram,
        latency: m.latency,
        baselineLatency: m.baselineLatency,
        overhead: m.overhead,
        predictedSpeedup: m.predictedSpeedup,
        perCategory: m.perCategory,
        losslessReport: {
          checked: encoded.length * spec.repeats,
          acceptance: spec.acceptance.type,
          exceptions,
        },
        drafter: {
          type: spec.drafter,
          path: folder!.path.startsWith(ctx.root + "/")
            ? folder!.path.slice(ctx.root.length + 1)
            : folder!.path,
          parameters: folder!.config.drafter_type === "amphista"
            ? amphistaParameterCount(folder!.config)
            : medusaParameterCount(folder!.config),
          parametersUsed: heads!.parameterCount,
          heads: folder!.config.num_heads,
          headsUsed: heads!.numHeads,
          config: folder!.config,
          msPerStep: drafter.calls ? drafter.ms / drafter.calls : null,
          baseModelMatches,
          heldoutTop1: folder!.accuracy?.top1 ?? null,
        },
        tree: {
          nodes: tree!.numNodes,
          queryTokens: tree!.size,
          depth: tree!.maxDepth,
          depthCounts: tree!.depthCounts,
          topk: tree!.topk,
          expectedTau: predicted,
          paths: tree!.paths,
        },
        prompts: promptStats,
      };
    }
    return {
      metrics: finiteJson(metrics) as never,
      artifacts: finiteJson({
        perPrompt,
        counters: target.counters,
        exampleOutput: {
          prompt: encoded[0].prompt,
          ar: tokenizer.decode(arOut[0][encoded[0].id]),
        },
      }),
      providerUsed: model.runtime.provider,
      providerReason: model.runtime.reason,
    };
  } finally {
    await heads?.close();
    await model.close();
  }
};
