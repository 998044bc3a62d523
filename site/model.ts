/**
 * What the site shows, derived from validated results: leaderboard rows, per-run chart data found
 * by shape, and the parameter choices recorded across runs. Pure functions over
 * {@link RunResult}s; no files, no HTML.
 *
 * Metric keys read besides the schema's contract (`ppl`, `zeroshot`, `tau`, `speedup`,
 * `lossless`), first match wins:
 *
 * - achieved sparsity: `metrics.sparsity`, `metrics.achievedSparsity` (a number, or an object
 *   with `overall` / `mean` / `value`);
 * - prune time: `timings.phases.prune`, else `metrics.pruneSeconds`;
 * - speedup spread: `metrics.speedupSpread`, `metrics.speedupStats` (`{mean, std, min, max, n}`
 *   as `src/decode/metrics.ts` computes it);
 * - tokens/s: `metrics.tokensPerSecond` (a number, or a spread whose `mean` is used).
 *
 * Charts of one run are found by shape anywhere under `metrics` and `artifacts` (see
 * {@link findRunCharts}), so new keys render without code changes.
 *
 * @module
 */

import { patternLabel, patternSparsity } from "../src/spec/pattern.ts";
import type { RunResult } from "../src/results/schema.ts";

/** A result together with where it came from and where the site puts it. */
export interface SiteRun {
  /** The report file it was read from. */
  file: string;
  /** The validated result. */
  result: RunResult;
  /** The run page, relative to the site root (`runs/<suite>/<id>.html`). */
  page: string;
  /** The copied JSON, relative to the site root (`data/runs/<suite>/<id>.json`). */
  download: string;
}

/** Site-relative paths of a result's page and its downloadable JSON. */
export function sitePathsOf(result: Pick<RunResult, "suite" | "id">): {
  page: string;
  download: string;
} {
  return {
    page: `runs/${result.suite}/${result.id}.html`,
    download: `data/runs/${result.suite}/${result.id}.json`,
  };
}

type Json = unknown;

function isRecord(value: Json): value is Record<string, Json> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isNumber(value: Json): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** A number, or the `overall` / `mean` / `value` field of an object; else null. */
export function scalarOf(value: Json): number | null {
  if (isNumber(value)) return value;
  if (isRecord(value)) {
    for (const key of ["overall", "mean", "value"]) {
      if (isNumber(value[key])) return value[key] as number;
    }
  }
  return null;
}

function firstScalar(record: Record<string, Json>, keys: readonly string[]): number | null {
  for (const key of keys) {
    const v = scalarOf(record[key]);
    if (v !== null) return v;
  }
  return null;
}

/** Spread of a repeated measurement, as `src/decode/metrics.ts` records it. */
export interface SpreadLike {
  /** Mean over repeats. */
  mean: number | null;
  /** Sample standard deviation, or null with fewer than two repeats. */
  std: number | null;
  /** Smallest repeat. */
  min: number | null;
  /** Largest repeat. */
  max: number | null;
  /** Repeats. */
  n: number | null;
}

function spreadOf(value: Json): SpreadLike | null {
  if (!isRecord(value)) return null;
  const get = (k: string) => (isNumber(value[k]) ? value[k] as number : null);
  const s = { mean: get("mean"), std: get("std"), min: get("min"), max: get("max"), n: get("n") };
  return s.mean === null && s.std === null && s.min === null && s.max === null ? null : s;
}

/** The display name of a pruning method: `sds(sparsegpt)` for SDS, else the method. */
export function methodLabel(spec: RunResult["spec"]): string {
  if (spec.kind !== "prune") return spec.drafter;
  if (spec.method === "sds") {
    const base = (spec.params as { base?: unknown }).base;
    return typeof base === "string" ? `sds(${base})` : "sds";
  }
  return spec.method;
}

/** A draft tree, as recorded in a decode run's spec. */
export type TreeLike = { type: string; [key: string]: unknown } | null;

/** A short label for a draft tree: `chain 3`, `medusa 16`, `paths 10`, or `—` for none. */
export function treeLabel(tree: TreeLike): string {
  if (tree === null) return "—";
  const size = treeSize(tree);
  return size === null ? tree.type : `${tree.type} ${size}`;
}

/** Number of drafted nodes of a tree (chain depth, medusa size, path count); null for none. */
export function treeSize(tree: TreeLike): number | null {
  if (tree === null) return null;
  if (tree.type === "chain" && isNumber(tree.depth)) return tree.depth;
  if (tree.type === "medusa" && isNumber(tree.size)) return tree.size;
  if (tree.type === "paths" && Array.isArray(tree.paths)) return tree.paths.length;
  return null;
}

/** Average zero-shot accuracy over tasks, with a combined 95% interval. */
export interface ZeroshotAverage {
  /** Mean `acc` over tasks. */
  mean: number;
  /** Lower end of the combined 95% interval. */
  lo: number;
  /** Upper end of the combined 95% interval. */
  hi: number;
  /** Tasks averaged. */
  tasks: number;
}

const Z95 = 1.959963984540054;

/**
 * Macro average of `acc` over tasks with a normal-approximation interval: each task's standard
 * error is read back from its recorded 95% interval (`(hi − lo) / (2·1.96)`), and the average's
 * error is `sqrt(Σ seᵢ²) / k`. Null when there are no tasks.
 */
export function zeroshotAverage(
  zeroshot:
    | Record<string, { acc: number; acc_ci: readonly [number, number] | number[] }>
    | undefined,
): ZeroshotAverage | null {
  const tasks = Object.values(zeroshot ?? {});
  if (tasks.length === 0) return null;
  const k = tasks.length;
  const mean = tasks.reduce((s, t) => s + t.acc, 0) / k;
  const variance = tasks.reduce((s, t) => s + ((t.acc_ci[1] - t.acc_ci[0]) / (2 * Z95)) ** 2, 0);
  const half = Z95 * Math.sqrt(variance) / k;
  return { mean, lo: Math.max(0, mean - half), hi: Math.min(1, mean + half), tasks: k };
}

/**
 * The average an executor recorded itself (`metrics.zeroshotAverage = {acc, acc_ci}`), when it
 * did; null otherwise (then {@link zeroshotAverage} computes one).
 */
export function recordedZeroshotAverage(
  value: Json,
  zeroshot: Record<string, unknown> | undefined,
): ZeroshotAverage | null {
  if (!isRecord(value) || !isNumber(value.acc)) return null;
  const ci = value.acc_ci;
  if (!Array.isArray(ci) || ci.length !== 2 || !isNumber(ci[0]) || !isNumber(ci[1])) return null;
  return {
    mean: value.acc,
    lo: ci[0],
    hi: ci[1],
    tasks: Object.keys(zeroshot ?? {}).length,
  };
}

/** One row of the pruning leaderboard. */
export interface PruneRow {
  /** Run id. */
  id: string;
  /** Suite name. */
  suite: string;
  /** Run label. */
  label: string;
  /** Run page (site-relative). */
  page: string;
  /** Model name. */
  model: string;
  /** Method label (see {@link methodLabel}). */
  method: string;
  /** Pattern label (`dense`, `50%`, `2:4`). */
  pattern: string;
  /** Sparsity the pattern asks for. */
  targetSparsity: number;
  /** Perplexity per evaluation set. */
  ppl: Record<string, number>;
  /** Relative perplexity change against the dense run of the same model and seqlen, per set. */
  deltaVsDense: Record<string, number>;
  /** Average zero-shot accuracy with its interval. */
  zeroshot: ZeroshotAverage | null;
  /** Achieved sparsity, when the run reports it. */
  sparsity: number | null;
  /** Seconds spent pruning, when recorded. */
  pruneSeconds: number | null;
}

/** One row of the decoding leaderboard. */
export interface DecodeRow {
  /** Run id. */
  id: string;
  /** Suite name. */
  suite: string;
  /** Run label. */
  label: string;
  /** Run page (site-relative). */
  page: string;
  /** Model name. */
  model: string;
  /** Drafter (`ar`, `medusa`, `amphista`). */
  method: string;
  /** Tree label (see {@link treeLabel}). */
  tree: string;
  /** Drafted nodes of the tree, null for AR. */
  treeSize: number | null;
  /** Acceptance rule type (`greedy`, `typical`). */
  acceptance: string;
  /** Mean accepted length τ. */
  tau: number | null;
  /** Speedup over AR. */
  speedup: number | null;
  /** Spread of the speedup over repeats. */
  speedupSpread: SpreadLike | null;
  /** Mean per-prompt tokens per second. */
  tokensPerSecond: number | null;
  /** Greedy output identical to AR. */
  lossless: boolean | null;
}

function okRuns(runs: readonly SiteRun[], kind: "prune" | "decode"): SiteRun[] {
  return runs.filter((r) => r.result.kind === kind && r.result.status === "ok");
}

function seqlenOf(result: RunResult, set: string): number | null {
  const entry = result.metrics.ppl?.[set];
  return entry ? entry.seqlen : null;
}

/** Finds the dense run a pruned run is compared with: same model, preferably same suite. */
export function denseRunFor(run: SiteRun, runs: readonly SiteRun[]): SiteRun | null {
  const spec = run.result.spec;
  if (spec.kind !== "prune") return null;
  const candidates = okRuns(runs, "prune").filter((r) => {
    const s = r.result.spec;
    return s.kind === "prune" && s.method === "dense" && s.model.name === spec.model.name;
  });
  return candidates.find((r) => r.result.suite === run.result.suite) ?? candidates[0] ?? null;
}

/** Pruning leaderboard rows (ok runs only), sorted by model, then target sparsity, then ppl. */
export function pruneRows(runs: readonly SiteRun[]): PruneRow[] {
  const rows = okRuns(runs, "prune").map((run): PruneRow => {
    const { result } = run;
    const spec = result.spec;
    if (spec.kind !== "prune") throw new Error("unreachable");
    const ppl: Record<string, number> = {};
    for (const [set, entry] of Object.entries(result.metrics.ppl ?? {})) ppl[set] = entry.ppl;
    const dense = denseRunFor(run, runs);
    const deltaVsDense: Record<string, number> = {};
    if (dense) {
      for (const [set, value] of Object.entries(ppl)) {
        const base = dense.result.metrics.ppl?.[set];
        if (base && base.seqlen === seqlenOf(result, set)) {
          deltaVsDense[set] = value / base.ppl - 1;
        }
      }
    }
    const metrics = result.metrics as Record<string, Json>;
    const phases = result.timings.phases ?? {};
    return {
      id: result.id,
      suite: result.suite,
      label: result.label,
      page: run.page,
      model: spec.model.name,
      method: methodLabel(spec),
      pattern: patternLabel(spec.pattern),
      targetSparsity: patternSparsity(spec.pattern),
      ppl,
      deltaVsDense,
      zeroshot: recordedZeroshotAverage(metrics.zeroshotAverage, result.metrics.zeroshot) ??
        zeroshotAverage(result.metrics.zeroshot),
      sparsity: firstScalar(metrics, ["sparsity", "achievedSparsity", "achieved_sparsity"]) ??
        (spec.method === "dense" ? 0 : null),
      pruneSeconds: isNumber(phases.prune) ? phases.prune : firstScalar(metrics, ["pruneSeconds"]),
    };
  });
  const firstPpl = (r: PruneRow) => Object.values(r.ppl)[0] ?? Infinity;
  return rows.sort((a, b) =>
    a.model.localeCompare(b.model) || a.targetSparsity - b.targetSparsity ||
    Number(a.pattern.includes(":")) - Number(b.pattern.includes(":")) ||
    a.pattern.localeCompare(b.pattern) || firstPpl(a) - firstPpl(b) ||
    a.label.localeCompare(b.label)
  );
}

/** Decoding leaderboard rows (ok runs only), sorted by model, then speedup (best first). */
export function decodeRows(runs: readonly SiteRun[]): DecodeRow[] {
  const rows = okRuns(runs, "decode").map((run): DecodeRow => {
    const { result } = run;
    const spec = result.spec;
    if (spec.kind !== "decode") throw new Error("unreachable");
    const metrics = result.metrics as Record<string, Json>;
    const spread = spreadOf(metrics.speedupSpread) ?? spreadOf(metrics.speedupStats);
    const tree = spec.tree as TreeLike;
    const acceptance = (spec as { acceptance?: { type?: unknown } }).acceptance?.type;
    return {
      id: result.id,
      suite: result.suite,
      label: result.label,
      page: run.page,
      model: spec.model.name,
      method: spec.drafter,
      tree: treeLabel(tree),
      treeSize: treeSize(tree),
      acceptance: typeof acceptance === "string" ? acceptance : "greedy",
      tau: result.metrics.tau ?? null,
      speedup: result.metrics.speedup ?? spread?.mean ?? null,
      speedupSpread: spread,
      tokensPerSecond: firstScalar(metrics, ["tokensPerSecond", "tokens_per_second"]),
      lossless: result.metrics.lossless ?? null,
    };
  });
  return rows.sort((a, b) =>
    a.model.localeCompare(b.model) || (b.speedup ?? -1) - (a.speedup ?? -1) ||
    a.label.localeCompare(b.label)
  );
}

/** Every evaluation set that appears in the rows, in first-seen order. */
export function evalSets(rows: readonly PruneRow[]): string[] {
  return [...new Set(rows.flatMap((r) => Object.keys(r.ppl)))];
}

// ---------------------------------------------------------------------------------------------
// Chart data found by shape

/** A histogram with explicit bin edges (`edges.length = counts.length + 1`). */
export interface Histogram {
  /** Bin edges. */
  edges: number[];
  /** Count per bin. */
  counts: number[];
}

/** Chart data found in one run's metrics or artifacts (`source` is the JSON it came from). */
export type RunChart =
  & { path: string; source: unknown }
  & (
    | { kind: "acceptLength"; bins: { length: number; count: number }[] }
    | { kind: "depthAcceptance"; depths: { depth: number; rate: number | null }[] }
    | {
      kind: "categories";
      categories: { category: string; tau: number; speedup: number | null }[];
    }
    | { kind: "histograms"; series: { name: string; histogram: Histogram }[] }
    | { kind: "perItem"; field: string; items: { name: string; value: number }[] }
  );

function numberArray(value: Json): number[] | null {
  return Array.isArray(value) && value.length > 0 && value.every(isNumber) ? value : null;
}

/**
 * Reads a histogram in any of the shapes a pruner may record: `{edges, counts}` (n + 1 edges),
 * `{bins|centers, counts}` (n centres, equal spacing assumed) or `{min, max, counts}`.
 */
export function histogramOf(value: Json): Histogram | null {
  if (!isRecord(value)) return null;
  const counts = numberArray(value.counts);
  if (!counts) return null;
  const edges = numberArray(value.edges);
  if (edges && edges.length === counts.length + 1) return { edges, counts };
  const centres = numberArray(value.centers) ?? numberArray(value.centres) ??
    numberArray(value.bins);
  if (centres && centres.length === counts.length) {
    const step = centres.length > 1
      ? (centres[centres.length - 1] - centres[0]) /
        (centres.length - 1)
      : 1;
    return { edges: [...centres.map((c) => c - step / 2), centres.at(-1)! + step / 2], counts };
  }
  if (isNumber(value.min) && isNumber(value.max) && value.max > value.min) {
    const step = (value.max - value.min) / counts.length;
    return {
      edges: counts.map((_, i) => (value.min as number) + i * step).concat(value.max),
      counts,
    };
  }
  return null;
}

function acceptBins(value: Json): { length: number; count: number }[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const ok = value.every((v) => isRecord(v) && isNumber(v.length) && isNumber(v.count));
  return ok ? value.map((v) => ({ length: v.length as number, count: v.count as number })) : null;
}

function depthRates(value: Json): { depth: number; rate: number | null }[] | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const ok = value.every((v) =>
    isRecord(v) && isNumber(v.depth) && (v.rate === null || isNumber(v.rate))
  );
  return ok
    ? value.map((v) => ({ depth: v.depth as number, rate: v.rate as number | null }))
    : null;
}

function categoryStats(
  value: Json,
): { category: string; tau: number; speedup: number | null }[] | null {
  if (!isRecord(value)) return null;
  const entries = Object.entries(value);
  if (entries.length === 0) return null;
  const ok = entries.every(([, v]) => isRecord(v) && isNumber(v.tau));
  if (!ok) return null;
  return entries.map(([category, v]) => ({
    category,
    tau: (v as Record<string, Json>).tau as number,
    speedup: scalarOf((v as Record<string, Json>).speedup),
  }));
}

const SHAPE_FIELDS = new Set(["rows", "cols", "index", "layer", "pruned", "zeros", "count"]);

/**
 * Per-item numbers (e.g. per-layer reconstruction error): an array of objects that each have a
 * string `name`; every top-level numeric field that varies across items (shape fields excluded)
 * becomes one chart. Null when the shape does not match or nothing varies.
 */
function perItemFields(value: Json): [string, { name: string; value: number }[]][] | null {
  if (!Array.isArray(value) || value.length < 2) return null;
  if (!value.every((v) => isRecord(v) && typeof v.name === "string")) return null;
  const rows = value as Record<string, Json>[];
  const fields = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((f) =>
    !SHAPE_FIELDS.has(f) && rows.every((r) => isNumber(r[f])) &&
    new Set(rows.map((r) => r[f])).size > 1
  );
  if (fields.length === 0) return null;
  return fields.slice(0, 4).map((field) => [
    field,
    rows.map((r) => ({ name: r.name as string, value: r[field] as number })),
  ]);
}

function pathText(path: readonly string[]): string {
  return path.join(".");
}

/** Limits how many charts one run page draws (per-layer histograms can be many). */
export const MAX_RUN_CHARTS = 48;

/**
 * Finds chart data by shape under a run's `metrics` (headline keys excluded) and `artifacts`:
 * accept-length histograms (`[{length, count}]`), per-depth acceptance (`[{depth, rate}]`),
 * per-category breakdowns (`{category: {tau, speedup}}`), per-item numbers (`[{name, x, ...}]`,
 * e.g. per-layer reconstruction error) and weight histograms (see {@link histogramOf}); sibling
 * histograms (e.g. `{dense, sparse, redense}`) share one chart.
 */
export function findRunCharts(result: RunResult): RunChart[] {
  const charts: RunChart[] = [];
  const walk = (value: Json, path: string[], depth: number) => {
    if (charts.length >= MAX_RUN_CHARTS || depth > 8) return;
    const at = { path: pathText(path), source: value };
    const bins = acceptBins(value);
    if (bins) return void charts.push({ kind: "acceptLength", ...at, bins });
    const depths = depthRates(value);
    if (depths) return void charts.push({ kind: "depthAcceptance", ...at, depths });
    const categories = categoryStats(value);
    if (categories) return void charts.push({ kind: "categories", ...at, categories });
    const perItem = perItemFields(value);
    if (perItem) {
      for (const [field, items] of perItem) charts.push({ kind: "perItem", ...at, field, items });
      return;
    }
    const single = histogramOf(value);
    if (single) {
      return void charts.push({
        kind: "histograms",
        ...at,
        series: [{ name: path.at(-1) ?? "weights", histogram: single }],
      });
    }
    if (!isRecord(value)) return;
    const entries = Object.entries(value);
    const histos = entries.map(([k, v]) => [k, histogramOf(v)] as const);
    if (entries.length > 0 && histos.every(([, h]) => h !== null)) {
      return void charts.push({
        kind: "histograms",
        ...at,
        series: histos.map(([name, histogram]) => ({ name, histogram: histogram! })),
      });
    }
    for (const [k, v] of entries) walk(v, [...path, k], depth + 1);
  };
  for (const [key, value] of Object.entries(result.metrics)) {
    if (["ppl", "zeroshot", "tau", "speedup", "lossless"].includes(key)) continue;
    walk(value, ["metrics", key], 1);
  }
  for (const [key, value] of Object.entries(result.artifacts ?? {})) {
    walk(value, ["artifacts", key], 1);
  }
  return charts;
}

/** Leaves of a JSON value as `[path, value]` pairs (arrays of numbers kept whole). */
export function flattenJson(value: Json, path = "", out: [string, Json][] = []): [string, Json][] {
  if (isRecord(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) out.push([path, "{}"]);
    for (const [k, v] of entries) {
      const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k);
      flattenJson(
        v,
        path === "" ? key : /^"/.test(key) ? `${path}[${key}]` : `${path}.${key}`,
        out,
      );
    }
  } else if (Array.isArray(value) && value.some((v) => isRecord(v) || Array.isArray(v))) {
    value.forEach((v, i) => flattenJson(v, `${path}[${i}]`, out));
  } else {
    out.push([path, value]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parameter choices recorded across runs (methodology page)

/** One recorded parameter of a method and the values runs used. */
export interface RecordedChoice {
  /** Method or drafter (`sds`, `medusa`, ...), or `calibration` / `acceptance`. */
  owner: string;
  /** Parameter path inside the block (`lambda1`, `baseParams.damp`). */
  name: string;
  /** Distinct values (JSON text) and how many runs used each. */
  values: { value: string; runs: number }[];
}

/**
 * Collects, per method, every parameter value the results recorded (`spec.params` of prune runs,
 * `spec.calibration`, and `spec.options` / `spec.acceptance` / `spec.tree` of decode runs), with
 * how many runs used each value. Owners and names come out sorted.
 */
export function recordedChoices(runs: readonly SiteRun[]): RecordedChoice[] {
  const table = new Map<string, Map<string, Map<string, number>>>();
  const add = (owner: string, block: Json) => {
    for (const [name, value] of flattenJson(block)) {
      if (name === "") continue;
      const byName = table.get(owner) ?? new Map<string, Map<string, number>>();
      table.set(owner, byName);
      const byValue = byName.get(name) ?? new Map<string, number>();
      byName.set(name, byValue);
      const text = JSON.stringify(value);
      byValue.set(text, (byValue.get(text) ?? 0) + 1);
    }
  };
  for (const { result } of runs) {
    const spec = result.spec as unknown as Record<string, Json>;
    if (result.kind === "prune") {
      add(String(spec.method), spec.params);
      if (spec.calibration) add("calibration", spec.calibration);
    } else {
      add(String(spec.drafter), spec.options);
      if (spec.drafter !== "ar") add("acceptance", spec.acceptance);
    }
  }
  const out: RecordedChoice[] = [];
  for (const owner of [...table.keys()].sort()) {
    const byName = table.get(owner)!;
    for (const name of [...byName.keys()].sort()) {
      out.push({
        owner,
        name,
        values: [...byName.get(name)!.entries()].map(([value, n]) => ({ value, runs: n })),
      });
    }
  }
  return out;
}
