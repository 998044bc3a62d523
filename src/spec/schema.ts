/**
 * The spec language: zod schemas of a benchmark Suite as written in `bench/specs/*.json`.
 *
 * Every object is `.strict()` (an unknown field is an error, with a "did you mean" hint), every
 * default is filled by parsing, and lists in `method`, `pattern`, `drafter`, `tree`, `seeds` and
 * `sds.base` expand into one run per combination (see `plan.ts`). The published JSON Schema
 * (`reports/schema/spec.schema.json`) is generated from {@link Suite}.
 *
 * @module
 */

import { z } from "zod";
import { describeValue } from "./errors.ts";
import {
  type Drafter,
  DRAFTER_OPTIONS,
  DrafterName,
  DRAFTERS,
  PRUNE_METHODS,
  PRUNE_PARAMS,
  type PruneMethod,
  PruneMethodName,
} from "./methods.ts";
import { type Pattern, PatternInput } from "./pattern.ts";

/** Accepts one item or a non-empty list of items (a list expands into one run per item). */
function oneOrMany<T extends z.ZodType>(item: T) {
  return z.union([item, z.array(item).min(1)]);
}

/** Normalises a one-or-many value to a list. */
export function asList<T>(value: T | readonly T[]): T[] {
  return Array.isArray(value) ? [...value] : [value as T];
}

function uniqueStrings(item: z.ZodString) {
  return z.array(item).superRefine((values, ctx) => {
    values.forEach((v, i) => {
      const first = values.indexOf(v);
      if (first !== i) {
        ctx.addIssue({
          code: "custom",
          path: [i],
          message: `duplicate entry ${JSON.stringify(v)} (already at index ${first})`,
        });
      }
    });
  });
}

const Int = z.number().int();
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Name of the embedded default model. */
export const DEFAULT_MODEL_NAME = "sparsespec-tiny";

/** Folder of the embedded default model (Hugging Face layout), relative to the repository root. */
export const DEFAULT_MODEL_PATH = "bench/models/sparsespec-tiny";

/** Execution backends: WebGPU, wasm (CPU), or auto (WebGPU when a real adapter exists). */
export const Backend = z.enum(["webgpu", "wasm", "auto"]);

/** An execution backend name. */
export type Backend = z.infer<typeof Backend>;

/**
 * A model: a folder in Hugging Face layout (`config.json`, `model.safetensors`,
 * `tokenizer.json`), optionally with trained drafter folders.
 */
export const ModelSpec = z.strictObject({
  name: z.string().regex(NAME_RE, {
    error: (issue) =>
      `expected a model name of letters, digits, '.', '_' or '-', got ${
        describeValue(issue.input)
      }`,
  }),
  path: z.string().min(1).meta({ description: "Model folder (Hugging Face layout)." }),
  drafters: z.strictObject({
    medusa: z.string().min(1).optional().meta({ description: "Medusa heads folder." }),
    amphista: z.string().min(1).optional().meta({ description: "Amphista heads folder." }),
  }).optional(),
});

/** A model entry after parsing. */
export type ModelSpec = z.infer<typeof ModelSpec>;

/** Perplexity evaluation (SparseGPT/Wanda protocol: non-overlapping windows, tail dropped). */
export const PplEval = z.strictObject({
  sets: uniqueStrings(z.string().min(1)).default(["test-id", "test-ood"]).meta({
    description: "Evaluation sets (split names or text file paths).",
  }),
  seqlen: Int.min(2).default(256).meta({ description: "Window length in tokens." }),
  maxWindows: Int.min(1).optional().meta({ description: "Evaluate at most this many windows." }),
});

/** Zero-shot multiple-choice evaluation (lm-eval-harness style log-likelihood). */
export const ZeroshotEval = z.strictObject({
  tasks: uniqueStrings(z.string().min(1)).default([
    "lastword",
    "nextsent4",
    "wncloze4",
    "swappairs",
  ]).meta({ description: "Task names or lm-eval JSONL paths." }),
  limit: Int.min(1).optional().meta({ description: "Use at most this many items per task." }),
});

/** What every prune run measures. */
export const EvalSettings = z.strictObject({
  ppl: PplEval.prefault({}),
  zeroshot: ZeroshotEval.prefault({}),
});

/** Evaluation settings after parsing. */
export type EvalSettings = z.infer<typeof EvalSettings>;

/** Calibration data for data-aware pruners. */
export const Calibration = z.strictObject({
  samples: Int.min(1).default(128).meta({ description: "Number of calibration sequences." }),
  seqlen: Int.min(2).default(256).meta({ description: "Tokens per calibration sequence." }),
  split: z.string().min(1).default("train").meta({ description: "Split they are drawn from." }),
  seed: Int.optional().meta({ description: "Sampling seed (default: the run's seed)." }),
});

/** Calibration settings after parsing. */
export type Calibration = z.infer<typeof Calibration>;

const pruneParamBlocks = Object.fromEntries(
  PRUNE_METHODS.map((m) => [m, PRUNE_PARAMS[m].optional()]),
) as { [M in PruneMethod]: z.ZodOptional<typeof PRUNE_PARAMS[M]> };

/** Methods whose parameter block an entry may carry, given its methods and SDS bases. */
function methodsUsingParams(methods: PruneMethod[], sdsBase: unknown): Set<string> {
  const used = new Set<string>(methods);
  if (methods.includes("sds")) {
    for (const b of asList(sdsBase ?? "sparsegpt")) {
      used.add(String(b));
    }
  }
  return used;
}

/**
 * One prune entry: methods × patterns × seeds (× SDS bases), each with calibration and a
 * parameter block per method (`sparsegpt: {damp, blocksize}`, `sds: {...}`, ...).
 */
export const PruneEntry = z.strictObject({
  method: oneOrMany(PruneMethodName).meta({ description: "Pruning method(s)." }),
  pattern: oneOrMany(PatternInput).prefault("dense").meta({
    description: 'Sparsity pattern(s); "dense" only with method "dense".',
  }),
  calibration: Calibration.prefault({}),
  seeds: z.array(Int).min(1).optional().meta({
    description: "Seeds to repeat each run with (default: the suite seed).",
  }),
  tag: z.string().regex(/^[\w.-]+$/, {
    error: "expected a tag of letters, digits, '.', '_' or '-'",
  }).optional().meta({
    description:
      "Names this entry's variant: appended to its run labels as `+tag` (e.g. `sds(sparsegpt)-2:4+no-reg`). Not part of the run id.",
  }),
  ...pruneParamBlocks,
}).superRefine((entry, ctx) => {
  const methods = asList(entry.method);
  const patterns = asList<Pattern>(entry.pattern);
  const sparseMethods = methods.filter((m) => m !== "dense");
  patterns.forEach((p, i) => {
    if (p.type === "dense" && sparseMethods.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: Array.isArray(entry.pattern) ? ["pattern", i] : ["pattern"],
        message: `method "${sparseMethods[0]}" needs a sparse pattern such as "50%" or "2:4"; ` +
          `"dense" goes with method "dense" (the unpruned baseline)`,
      });
    }
  });
  const used = methodsUsingParams(methods, entry.sds?.base);
  for (const m of PRUNE_METHODS) {
    if (entry[m] !== undefined && !used.has(m)) {
      ctx.addIssue({
        code: "custom",
        path: [m],
        message: `parameters for "${m}" given, but this entry runs ${
          methods.map((x) => `"${x}"`).join(", ")
        }; add "${m}" to method or remove the block`,
      });
    }
  }
  if (entry.seeds) {
    entry.seeds.forEach((s, i) => {
      if (entry.seeds!.indexOf(s) !== i) {
        ctx.addIssue({ code: "custom", path: ["seeds", i], message: `duplicate seed ${s}` });
      }
    });
  }
});

/** A prune entry after parsing (lists not yet expanded). */
export type PruneEntry = z.infer<typeof PruneEntry>;

/** A straight chain of `depth` drafted tokens (top-1 of each head). */
export const ChainTree = z.strictObject({
  type: z.literal("chain"),
  depth: Int.min(1).max(64),
});

/** Medusa's default sparse tree with `size` nodes (the published `mc_sim_7b_63` ordering). */
export const MedusaTree = z.strictObject({
  type: z.literal("medusa"),
  size: Int.min(1).max(1024),
});

/**
 * An explicit tree: each path lists top-k indices per head (`[0, 1]` = head 1's top-1, then head
 * 2's top-2). Every prefix of a path must itself be a path.
 */
export const PathsTree = z.strictObject({
  type: z.literal("paths"),
  paths: z.array(z.array(Int.min(0)).min(1)).min(1),
}).superRefine((tree, ctx) => {
  const keys = tree.paths.map((p) => p.join(","));
  const present = new Set(keys);
  tree.paths.forEach((p, i) => {
    if (keys.indexOf(keys[i]) !== i) {
      ctx.addIssue({ code: "custom", path: ["paths", i], message: `duplicate path [${p}]` });
    }
    for (let len = 1; len < p.length; len++) {
      const prefix = p.slice(0, len).join(",");
      if (!present.has(prefix)) {
        ctx.addIssue({
          code: "custom",
          path: ["paths", i],
          message: `path [${p}] needs its prefix [${prefix}] listed too (a tree is prefix-closed)`,
        });
        break;
      }
    }
  });
});

/** A draft tree shape. */
export const TreeSpec = z.discriminatedUnion("type", [ChainTree, MedusaTree, PathsTree], {
  error: 'expected a tree: {"type": "chain", "depth"}, {"type": "medusa", "size"} or ' +
    '{"type": "paths", "paths": [[0], [0, 0], ...]}',
});

/** A draft tree after parsing. */
export type TreeSpec = z.infer<typeof TreeSpec>;

/**
 * How drafted tokens are accepted: greedy (lossless; output equals AR) or Medusa's typical
 * acceptance (`epsilon` 0.09, `delta` 0.3, sampling `temperature` 0.7).
 */
export const Acceptance = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("greedy") }),
  z.strictObject({
    type: z.literal("typical"),
    epsilon: z.number().positive().default(0.09).meta({ description: "Hard threshold." }),
    delta: z.number().nonnegative().default(0.3).meta({ description: "Entropy-scaled threshold." }),
    temperature: z.number().positive().default(0.7),
  }),
], { error: 'expected an acceptance rule: {"type": "greedy"} or {"type": "typical", ...}' });

/** An acceptance rule after parsing. */
export type Acceptance = z.infer<typeof Acceptance>;

const drafterOptionBlocks = Object.fromEntries(
  DRAFTERS.map((d) => [d, DRAFTER_OPTIONS[d].optional()]),
) as { [D in Drafter]: z.ZodOptional<typeof DRAFTER_OPTIONS[D]> };

/**
 * One decode entry: drafters × trees × seeds on a prompt set, with an options block per drafter
 * (`medusa: {...}`, `amphista: {...}`, passed through to the implementation).
 */
export const DecodeEntry = z.strictObject({
  drafter: oneOrMany(DrafterName).meta({ description: "Drafter(s); ar = no drafter." }),
  tag: z.string().regex(/^[\w.-]+$/, {
    error: "expected a tag of letters, digits, '.', '_' or '-'",
  }).optional().meta({
    description:
      "Names this entry's variant: appended to its run labels as `+tag` (e.g. `sds(sparsegpt)-2:4+no-reg`). Not part of the run id.",
  }),
  tree: oneOrMany(TreeSpec).prefault({ type: "medusa", size: 16 }).meta({
    description: "Draft tree(s); ignored for ar.",
  }),
  acceptance: Acceptance.prefault({ type: "greedy" }),
  prompts: z.string().min(1).default("prompts-heldout").meta({
    description: "Prompt set name or JSONL path.",
  }),
  maxNewTokens: Int.min(1).default(64),
  limit: Int.min(1).optional().meta({ description: "Use at most this many prompts." }),
  repeats: Int.min(1).optional().meta({ description: "Timed repeats (default: suite repeats)." }),
  warmup: Int.min(0).optional().meta({ description: "Warm-up runs (default: suite warmup)." }),
  seeds: z.array(Int).min(1).optional(),
  ...drafterOptionBlocks,
}).superRefine((entry, ctx) => {
  const drafters = new Set<string>(asList(entry.drafter));
  for (const d of DRAFTERS) {
    if (entry[d] !== undefined && !drafters.has(d)) {
      ctx.addIssue({
        code: "custom",
        path: [d],
        message: `options for "${d}" given, but this entry runs ${
          [...drafters].map((x) => `"${x}"`).join(", ")
        }; add "${d}" to drafter or remove the block`,
      });
    }
  }
});

/** A decode entry after parsing (lists not yet expanded). */
export type DecodeEntry = z.infer<typeof DecodeEntry>;

/** Regression gates CI applies against the committed baseline (relative tolerances). */
export const RegressTolerances = z.strictObject({
  pplRel: z.number().nonnegative().default(0.005).meta({
    description: "Allowed relative perplexity increase.",
  }),
  tauRel: z.number().nonnegative().default(0.02).meta({
    description: "Allowed relative drop in mean accepted length.",
  }),
  speedupRel: z.number().nonnegative().default(0.10).meta({
    description: "Allowed relative drop in speedup.",
  }),
  zeroshot: z.enum(["interval"]).default("interval").meta({
    description: "Zero-shot accuracy fails when it falls below the baseline's 95% interval.",
  }),
});

/**
 * A benchmark suite: models × prune entries and models × decode entries, with shared evaluation
 * settings, runtime, seeds and regression tolerances.
 */
export const Suite = z.strictObject({
  $schema: z.string().optional().meta({ description: "Path or URL of this JSON Schema." }),
  name: z.string().regex(NAME_RE, {
    error: (issue) =>
      `expected a suite name of letters, digits, '.', '_' or '-' (it names a folder), got ${
        describeValue(issue.input)
      }`,
  }),
  description: z.string().optional(),
  seed: Int.default(0).meta({ description: "Default seed of every run." }),
  backend: Backend.default("auto"),
  threads: Int.min(1).default(2).meta({ description: "wasm threads." }),
  models: z.array(ModelSpec).min(1).default([
    { name: DEFAULT_MODEL_NAME, path: DEFAULT_MODEL_PATH },
  ]).superRefine((models, ctx) => {
    const names = models.map((m) => m.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) {
        ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate model name "${n}"` });
      }
    });
  }),
  eval: EvalSettings.prefault({}),
  prune: z.array(PruneEntry).default([]),
  decode: z.array(DecodeEntry).default([]),
  repeats: Int.min(1).default(3).meta({ description: "Timed repeats per decode run." }),
  warmup: Int.min(0).default(1).meta({ description: "Warm-up runs per decode run." }),
  regress: RegressTolerances.prefault({}),
}).meta({
  title: "sparsespec suite",
  description: "A sparsespec benchmark suite (bench/specs/*.json).",
});

/** A suite after parsing: every default filled, lists not yet expanded. */
export type Suite = z.infer<typeof Suite>;

/** A suite as written in a file (the schema's input type). */
export type SuiteInput = z.input<typeof Suite>;
