/**
 * Matrix expansion: a parsed {@link Suite} becomes a list of fully normalised {@link Run}s, each
 * with every default filled, only its own method's parameters, a stable id and a readable label.
 *
 * Prune runs: models × entries × methods × patterns × SDS bases × seeds.
 * Decode runs: models × entries × drafters × trees × seeds.
 * Identical normalised runs (e.g. the dense baseline listed twice) are planned once.
 *
 * @module
 */

import type { z } from "zod";
import { runId } from "./canonical.ts";
import {
  type Drafter,
  DRAFTER_INFO,
  DRAFTER_OPTIONS,
  PRUNE_METHOD_INFO,
  PRUNE_PARAMS,
  type PruneMethod,
  type SdsBase,
  type SdsParams,
  type SparseGptParams,
} from "./methods.ts";
import { type Pattern, patternLabel } from "./pattern.ts";
import {
  type Acceptance,
  asList,
  type Backend,
  type DecodeEntry,
  type ModelSpec,
  type PruneEntry,
  type Suite,
  type TreeSpec,
} from "./schema.ts";

/** Kinds of run. */
export const RUN_KINDS = ["prune", "decode"] as const;

/** A kind of run: `prune` (prune then evaluate) or `decode` (speculative decoding benchmark). */
export type RunKind = typeof RUN_KINDS[number];

/** Where and how a run executes. */
export interface RuntimeSpec {
  /** Requested backend (`auto` picks WebGPU when a real adapter exists; see provenance). */
  backend: Backend;
  /** wasm thread count. */
  threads: number;
}

/** The model a run uses. */
export interface ModelRef {
  /** Model name from the spec. */
  name: string;
  /** Model folder (Hugging Face layout). */
  path: string;
}

/** Calibration settings of a data-aware pruner, with the seed filled in. */
export interface RunCalibration {
  /** Number of calibration sequences. */
  samples: number;
  /** Tokens per sequence. */
  seqlen: number;
  /** Split they are drawn from. */
  split: string;
  /** Sampling seed (defaults to the run's seed). */
  seed: number;
}

/** Evaluation settings of a prune run (absent optional limits are `null`). */
export interface RunEval {
  /** Perplexity: sets, window length, optional window cap. */
  ppl: { sets: string[]; seqlen: number; maxWindows: number | null };
  /** Zero-shot: tasks and optional per-task item cap. */
  zeroshot: { tasks: string[]; limit: number | null };
}

/** SDS parameters in a run: one base pruner, with that pruner's own parameters. */
export type SdsRunParams = Omit<z.output<typeof SdsParams>, "base"> & {
  /** The one-shot pruner SDS wraps in this run. */
  base: SdsBase;
  /** Parameters of the base pruner (e.g. SparseGPT's damp and blocksize). */
  baseParams: Record<string, unknown>;
};

/** Parameters a prune run carries, by method. */
export interface PruneRunParams {
  /** Dense: none. */
  dense: Record<string, never>;
  /** Magnitude: none yet. */
  magnitude: Record<string, never>;
  /** Wanda: none yet. */
  wanda: Record<string, never>;
  /** SparseGPT: damp, blocksize. */
  sparsegpt: z.output<typeof SparseGptParams>;
  /** SDS: see {@link SdsRunParams}. */
  sds: SdsRunParams;
}

/** The normalised spec of a prune run of method `M` (what `result.spec` holds). */
export interface PruneRunSpecOf<M extends PruneMethod> {
  /** Discriminator. */
  kind: "prune";
  /** Model pruned and evaluated. */
  model: ModelRef;
  /** Pruning method. */
  method: M;
  /** Sparsity pattern (`{type: "dense"}` for method dense). */
  pattern: Pattern;
  /** The method's parameters, defaults filled. */
  params: PruneRunParams[M];
  /** Calibration, or null for methods that read no data (dense, magnitude). */
  calibration: RunCalibration | null;
  /** What to measure. */
  eval: RunEval;
  /** The run's seed. */
  seed: number;
  /** Backend and threads. */
  runtime: RuntimeSpec;
}

/** The normalised spec of any prune run; narrowing `method` narrows `params`. */
export type PruneRunSpec = { [M in PruneMethod]: PruneRunSpecOf<M> }[PruneMethod];

/** The normalised spec of a decode run (what `result.spec` holds). */
export interface DecodeRunSpec {
  /** Discriminator. */
  kind: "decode";
  /** Target model. */
  model: ModelRef;
  /** Drafter (`ar` = plain autoregressive decoding). */
  drafter: Drafter;
  /** Drafter folder from the model entry, or null for `ar` or when the spec gives none. */
  drafterPath: string | null;
  /** Draft tree, or null for `ar`. */
  tree: TreeSpec | null;
  /** Acceptance rule. */
  acceptance: Acceptance;
  /** Prompt set name or path. */
  prompts: string;
  /** New tokens generated per prompt. */
  maxNewTokens: number;
  /** Prompt cap, or null for all prompts. */
  limit: number | null;
  /** Timed repeats. */
  repeats: number;
  /** Untimed warm-up runs. */
  warmup: number;
  /** Drafter options passed through from the spec (`{}` when none). */
  options: Record<string, unknown>;
  /** The run's seed. */
  seed: number;
  /** Backend and threads. */
  runtime: RuntimeSpec;
}

/** The normalised spec of any run. */
export type RunSpec = PruneRunSpec | DecodeRunSpec;

/** A planned run. */
export interface Run<S extends RunSpec = RunSpec> {
  /** Stable id: 16 hex digits of SHA-256 over the canonical spec and the format version. */
  id: string;
  /** Human-readable label, unique within the plan (e.g. `sparsegpt-2:4`). */
  label: string;
  /** Same as `spec.kind`. */
  kind: S["kind"];
  /** The normalised run. */
  spec: S;
}

/** A planned run of one kind. */
export type RunOfKind<K extends RunKind> = Run<Extract<RunSpec, { kind: K }>>;

function modelRef(model: ModelSpec): ModelRef {
  return { name: model.name, path: model.path };
}

function runtimeOf(suite: Suite): RuntimeSpec {
  return { backend: suite.backend, threads: suite.threads };
}

function treeLabel(tree: TreeSpec): string {
  switch (tree.type) {
    case "chain":
      return `chain${tree.depth}`;
    case "medusa":
      return `tree${tree.size}`;
    case "paths":
      return `paths${tree.paths.length}`;
  }
}

/** The label a run gets before disambiguation (model and seed parts added when they vary). */
export function baseLabel(spec: RunSpec): string {
  if (spec.kind === "prune") {
    if (spec.method === "dense") return "dense";
    const method = spec.method === "sds" ? `sds(${spec.params.base})` : spec.method;
    return `${method}-${patternLabel(spec.pattern)}`;
  }
  const parts: string[] = [spec.drafter];
  if (spec.tree) parts.push(treeLabel(spec.tree));
  if (spec.acceptance.type !== "greedy") parts.push(spec.acceptance.type);
  return parts.join("-");
}

function pruneParams(method: PruneMethod, entry: PruneEntry, base?: SdsBase): unknown {
  const given = entry[method] ?? {};
  const params = PRUNE_PARAMS[method].parse(given) as Record<string, unknown>;
  if (method !== "sds" || base === undefined) return params;
  return {
    ...params,
    base,
    baseParams: PRUNE_PARAMS[base].parse(entry[base] ?? {}),
  };
}

function planPrune(suite: Suite, model: ModelSpec, entry: PruneEntry): PruneRunSpec[] {
  const specs: PruneRunSpec[] = [];
  const seeds = entry.seeds ?? [suite.seed];
  const evalSettings: RunEval = {
    ppl: {
      sets: [...suite.eval.ppl.sets],
      seqlen: suite.eval.ppl.seqlen,
      maxWindows: suite.eval.ppl.maxWindows ?? null,
    },
    zeroshot: {
      tasks: [...suite.eval.zeroshot.tasks],
      limit: suite.eval.zeroshot.limit ?? null,
    },
  };
  for (const method of asList(entry.method)) {
    const patterns: Pattern[] = method === "dense" ? [{ type: "dense" }] : asList(entry.pattern);
    const bases: (SdsBase | undefined)[] = method === "sds"
      ? asList(entry.sds?.base ?? "sparsegpt")
      : [undefined];
    for (const pattern of patterns) {
      for (const base of bases) {
        for (const seed of seeds) {
          const calibration = PRUNE_METHOD_INFO[method].usesCalibration
            ? {
              samples: entry.calibration.samples,
              seqlen: entry.calibration.seqlen,
              split: entry.calibration.split,
              seed: entry.calibration.seed ?? seed,
            }
            : null;
          specs.push({
            kind: "prune",
            model: modelRef(model),
            method,
            pattern: structuredClone(pattern),
            params: pruneParams(method, entry, base),
            calibration,
            eval: structuredClone(evalSettings),
            seed,
            runtime: runtimeOf(suite),
          } as PruneRunSpec);
        }
      }
    }
  }
  return specs;
}

function planDecode(suite: Suite, model: ModelSpec, entry: DecodeEntry): DecodeRunSpec[] {
  const specs: DecodeRunSpec[] = [];
  const seeds = entry.seeds ?? [suite.seed];
  for (const drafter of asList(entry.drafter)) {
    const trees: (TreeSpec | null)[] = DRAFTER_INFO[drafter].usesTree ? asList(entry.tree) : [null];
    const options = DRAFTER_OPTIONS[drafter].parse(entry[drafter] ?? {}) as Record<
      string,
      unknown
    >;
    const drafterPath = drafter === "ar"
      ? null
      : model.drafters?.[drafter as Exclude<Drafter, "ar">] ?? null;
    for (const tree of trees) {
      for (const seed of seeds) {
        specs.push({
          kind: "decode",
          model: modelRef(model),
          drafter,
          drafterPath,
          tree: tree === null ? null : structuredClone(tree),
          acceptance: structuredClone(entry.acceptance),
          prompts: entry.prompts,
          maxNewTokens: entry.maxNewTokens,
          limit: entry.limit ?? null,
          repeats: entry.repeats ?? suite.repeats,
          warmup: entry.warmup ?? suite.warmup,
          options: structuredClone(options),
          seed,
          runtime: runtimeOf(suite),
        });
      }
    }
  }
  return specs;
}

/**
 * Expands a parsed suite into its runs, in spec order (models outermost, then entries, then the
 * lists inside each entry). Pure: no files, no clock. Labels are unique within the result: the
 * entry's `tag` is appended as `+tag`, the model name is prefixed when the suite has several
 * models, `-seedN` appended when a run's seed
 * differs from the suite seed or its entry lists several, and `~<id prefix>` as a last resort.
 */
export function planSuite(suite: Suite): Run[] {
  const planned: { spec: RunSpec; multiSeed: boolean; tag?: string }[] = [];
  for (const model of suite.models) {
    for (const entry of suite.prune) {
      const multiSeed = (entry.seeds?.length ?? 1) > 1;
      for (const spec of planPrune(suite, model, entry)) {
        planned.push({ spec, multiSeed, tag: entry.tag });
      }
    }
    for (const entry of suite.decode) {
      const multiSeed = (entry.seeds?.length ?? 1) > 1;
      for (const spec of planDecode(suite, model, entry)) {
        planned.push({ spec, multiSeed, tag: entry.tag });
      }
    }
  }
  const seen = new Set<string>();
  const runs: Run[] = [];
  for (const { spec, multiSeed, tag } of planned) {
    const id = runId(spec);
    if (seen.has(id)) continue;
    seen.add(id);
    let label = baseLabel(spec);
    if (tag !== undefined) label = `${label}+${tag}`;
    if (suite.models.length > 1) label = `${spec.model.name}:${label}`;
    if (multiSeed || spec.seed !== suite.seed) label = `${label}-seed${spec.seed}`;
    runs.push({ id, label, kind: spec.kind, spec });
  }
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.label, (counts.get(run.label) ?? 0) + 1);
  for (const run of runs) {
    if ((counts.get(run.label) ?? 0) > 1) run.label = `${run.label}~${run.id.slice(0, 6)}`;
  }
  return runs;
}

/** Counts runs per kind (for `validate` and `--dry-run` summaries). */
export function countByKind(runs: readonly Run[]): Record<RunKind, number> {
  const counts: Record<RunKind, number> = { prune: 0, decode: 0 };
  for (const run of runs) counts[run.kind]++;
  return counts;
}
