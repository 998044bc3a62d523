/**
 * The result contract: one {@link RunResult} JSON file per run, under
 * `reports/runs/<suite>/<id>.json`. Later issues, the site and CI read these fields:
 *
 * - `metrics.ppl["<eval set>"]` = `{ ppl, nll, windows, tokens, seqlen }` (ppl = exp(mean NLL))
 * - `metrics.zeroshot["<task>"]` = `{ acc, acc_norm, n, acc_ci: [lo, hi], acc_norm_ci: [lo, hi] }`
 *   (95% intervals)
 * - `metrics.tau` (mean accepted length, AR = 1), `metrics.speedup` (over AR, same process),
 *   `metrics.lossless` (greedy output equal to AR token for token)
 * - any other key under `metrics` is free-form JSON (numbers must be finite)
 * - `spec.method`, `spec.pattern` (prune runs); `spec.drafter`, `spec.tree` (decode runs)
 *
 * Every number anywhere in a result must be finite: NaN and ±Infinity are rejected with a message
 * that says so (JSON cannot carry them, and a NaN perplexity is a bug to surface, not to store).
 *
 * @module
 */

import { z } from "zod";
import { describeValue, type PathSegment } from "../spec/errors.ts";
import type { RunSpec } from "../spec/plan.ts";

function finiteError(issue: { input?: unknown }): string | undefined {
  const input = issue.input;
  if (typeof input === "number" && !Number.isFinite(input)) {
    return `expected a finite number, got ${input} (NaN and Infinity are not allowed in results)`;
  }
  return undefined;
}

/** A finite number (NaN and ±Infinity rejected with an explicit message). */
export const FiniteNumber = z.number({ error: finiteError });

const NonNegInt = z.number({ error: finiteError }).int().min(0);

/** Walks a JSON-like value and reports every non-finite number or non-JSON value, with its path. */
export function findNonJson(
  value: unknown,
  path: PathSegment[] = [],
  out: { path: PathSegment[]; message: string }[] = [],
): { path: PathSegment[]; message: string }[] {
  if (value === null || typeof value === "string" || typeof value === "boolean") return out;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      out.push({
        path,
        message:
          `expected a finite number, got ${value} (NaN and Infinity are not allowed in results)`,
      });
    }
    return out;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => findNonJson(v, [...path, i], out));
    return out;
  }
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      findNonJson(v, [...path, k], out);
    }
    return out;
  }
  out.push({ path, message: `expected a JSON value, got ${describeValue(value)}` });
  return out;
}

/**
 * Free-form JSON whose numbers must all be finite (used for extra metric keys and artifacts).
 */
export const FiniteJson = z.unknown().superRefine((value, ctx) => {
  for (const problem of findNonJson(value)) {
    ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
  }
});

/** Perplexity on one evaluation set. */
export const PplMetric = z.looseObject({
  ppl: FiniteNumber.positive(),
  nll: FiniteNumber.meta({ description: "Mean token negative log-likelihood (nats)." }),
  windows: NonNegInt.meta({ description: "Number of seqlen windows evaluated." }),
  tokens: NonNegInt.meta({ description: "Number of tokens scored." }),
  seqlen: NonNegInt.min(1),
});

/** Perplexity metrics of one set. */
export type PplMetric = z.infer<typeof PplMetric>;

const Interval = z.tuple([FiniteNumber, FiniteNumber]);

/** Zero-shot accuracy on one task, with 95% intervals. */
export const ZeroshotMetric = z.looseObject({
  acc: FiniteNumber.min(0).max(1),
  acc_norm: FiniteNumber.min(0).max(1),
  n: NonNegInt.meta({ description: "Number of items scored." }),
  acc_ci: Interval,
  acc_norm_ci: Interval,
});

/** Zero-shot metrics of one task. */
export type ZeroshotMetric = z.infer<typeof ZeroshotMetric>;

const KNOWN_METRICS = new Set(["ppl", "zeroshot", "tau", "speedup", "lossless"]);

/** The metrics of a run: the contract keys, typed; any other key free-form (finite) JSON. */
export const Metrics = z.looseObject({
  ppl: z.record(z.string(), PplMetric).optional(),
  zeroshot: z.record(z.string(), ZeroshotMetric).optional(),
  tau: FiniteNumber.min(0).optional().meta({
    description: "Mean accepted length, counting the target's own token (AR = 1).",
  }),
  speedup: FiniteNumber.positive().optional().meta({
    description: "Mean per-prompt tokens/s of the method over AR.",
  }),
  lossless: z.boolean().optional().meta({
    description: "Greedy speculative output equals AR output token for token.",
  }),
}).superRefine((metrics, ctx) => {
  for (const [key, value] of Object.entries(metrics)) {
    if (KNOWN_METRICS.has(key)) continue;
    for (const problem of findNonJson(value, [key])) {
      ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
    }
  }
});

/** Metrics of a run. */
export type Metrics = z.infer<typeof Metrics>;

/** Metrics as an executor may return them. */
export type MetricsInput = z.input<typeof Metrics>;

/** Wall-clock facts of a run. */
export const Timings = z.strictObject({
  startedAt: z.iso.datetime().meta({ description: "ISO 8601 start time." }),
  finishedAt: z.iso.datetime(),
  wallSeconds: FiniteNumber.min(0),
  phases: z.record(z.string(), FiniteNumber.min(0)).optional().meta({
    description: "Seconds spent per named phase (load, prune, eval, ...).",
  }),
});

/** Timings of a run. */
export type Timings = z.infer<typeof Timings>;

/** The WebGPU adapter the process saw (`navigator.gpu.requestAdapter()`). */
export const GpuAdapterInfo = z.strictObject({
  vendor: z.string(),
  architecture: z.string(),
  device: z.string(),
  description: z.string(),
  isFallbackAdapter: z.boolean().meta({
    description: "True for software adapters (e.g. llvmpipe): not a real GPU.",
  }),
});

/** WebGPU adapter info. */
export type GpuAdapterInfo = z.infer<typeof GpuAdapterInfo>;

/** Where, with what and how a result was produced. Extra keys are allowed. */
export const Provenance = z.looseObject({
  gitCommit: z.string().nullable().meta({ description: "HEAD commit, null outside git." }),
  gitDirty: z.boolean().nullable().meta({ description: "Uncommitted changes present." }),
  deno: z.string(),
  v8: z.string(),
  typescript: z.string(),
  onnxruntimeWeb: z.string().nullable(),
  tfjs: z.string().nullable(),
  executionProvider: z.string().nullable().meta({
    description: "Execution provider actually used (webgpu, wasm, ...), null if none.",
  }),
  providerReason: z.string().nullable().meta({ description: "Why that provider was used." }),
  gpuAdapter: GpuAdapterInfo.nullable(),
  cpuModel: z.string().nullable(),
  cpuCount: NonNegInt,
  threads: NonNegInt.min(1),
  os: z.string(),
  date: z.iso.datetime(),
  seed: z.number().int(),
  formatVersion: NonNegInt.min(1),
});

/** Provenance of a result. */
export type Provenance = z.infer<typeof Provenance>;

/** Run status. */
export const RunStatus = z.enum(["ok", "failed"]);

/** Status of a run. */
export type RunStatus = z.infer<typeof RunStatus>;

/**
 * The normalised run spec inside a result: checked loosely (the planner owns its exact shape), but
 * `kind` and the fields the contract promises must be there.
 */
export const ResultSpec = z.discriminatedUnion("kind", [
  z.looseObject({
    kind: z.literal("prune"),
    method: z.string().min(1),
    pattern: z.looseObject({ type: z.string() }),
  }),
  z.looseObject({
    kind: z.literal("decode"),
    drafter: z.string().min(1),
    tree: z.looseObject({ type: z.string() }).nullable(),
  }),
]);

/** One run's result file. */
export const RunResult = z.strictObject({
  formatVersion: NonNegInt.min(1),
  id: z.string().regex(/^[0-9a-f]{16}$/, { error: "expected 16 lowercase hex digits" }),
  suite: z.string().min(1),
  label: z.string().min(1),
  kind: z.enum(["prune", "decode"]),
  spec: ResultSpec,
  status: RunStatus,
  error: z.strictObject({ message: z.string(), stack: z.string().optional() }).optional(),
  metrics: Metrics,
  timings: Timings,
  provenance: Provenance,
  artifacts: z.record(z.string(), FiniteJson).optional().meta({
    description: "Extra data (histograms, per-prompt numbers, ...).",
  }),
}).superRefine((result, ctx) => {
  if (result.spec.kind !== result.kind) {
    ctx.addIssue({
      code: "custom",
      path: ["spec", "kind"],
      message: `expected "${result.kind}" (the result's kind)`,
    });
  }
  if (result.status === "failed" && !result.error) {
    ctx.addIssue({
      code: "custom",
      path: ["error"],
      message: 'a failed result needs error: {"message": ...}',
    });
  }
  if (result.status === "ok" && result.error) {
    ctx.addIssue({ code: "custom", path: ["error"], message: 'only failed results carry "error"' });
  }
});

/**
 * One run's result. `spec` is typed as the planner's {@link RunSpec} (narrow on `spec.kind`, then
 * `spec.method` / `spec.drafter`); on reading it is checked loosely (kind, method and pattern, or
 * drafter and tree), so files from other format versions still load.
 */
export type RunResult = Omit<z.output<typeof RunResult>, "spec"> & { spec: RunSpec };
