/**
 * Comparing two sets of results (`sparsespec compare <baseline> <candidate>`): runs are matched by
 * id (same normalised run), then by kind + label; for each pair every headline metric is listed
 * with its absolute and relative change. Pure functions; the CLI does the file reading.
 *
 * @module
 */

import { formatJsonPath } from "../spec/errors.ts";
import type { Metrics, RunResult } from "./schema.ts";

/** A metric value that can be compared. */
export type MetricScalar = number | boolean;

/**
 * Flattens metrics into named scalars: `ppl[test-id]` (the perplexity), `zeroshot[task].acc`,
 * `zeroshot[task].acc_norm`, `tau`, `speedup`, `lossless`, then every other number or boolean
 * under free-form keys by JSON path (arrays skipped).
 */
export function flattenMetrics(metrics: Metrics): Map<string, MetricScalar> {
  const out = new Map<string, MetricScalar>();
  for (const [set, entry] of Object.entries(metrics.ppl ?? {})) out.set(`ppl[${set}]`, entry.ppl);
  for (const [task, entry] of Object.entries(metrics.zeroshot ?? {})) {
    out.set(`zeroshot[${task}].acc`, entry.acc);
    out.set(`zeroshot[${task}].acc_norm`, entry.acc_norm);
  }
  for (const key of ["tau", "speedup", "lossless"] as const) {
    const value = metrics[key];
    if (value !== undefined) out.set(key, value);
  }
  const walk = (value: unknown, path: string[]) => {
    if (typeof value === "number" || typeof value === "boolean") {
      out.set(formatJsonPath(path), value);
    } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    }
  };
  for (const [key, value] of Object.entries(metrics)) {
    if (!["ppl", "zeroshot", "tau", "speedup", "lossless"].includes(key)) walk(value, [key]);
  }
  return out;
}

/** One metric of one matched run pair. */
export interface CompareRow {
  /** Run label (candidate's). */
  run: string;
  /** Run id (candidate's). */
  id: string;
  /** Metric name (see {@link flattenMetrics}), or `status`. */
  metric: string;
  /** Baseline value (null when missing there). */
  baseline: MetricScalar | string | null;
  /** Candidate value (null when missing there). */
  candidate: MetricScalar | string | null;
  /** candidate − baseline for numbers, else null. */
  delta: number | null;
  /** delta / |baseline| for numbers with a nonzero baseline, else null. */
  relative: number | null;
}

/** The outcome of {@link compareResults}. */
export interface Comparison {
  /** One row per metric per matched pair, in candidate order. */
  rows: CompareRow[];
  /** Baseline results no candidate matched. */
  onlyBaseline: RunResult[];
  /** Candidate results no baseline matched. */
  onlyCandidate: RunResult[];
}

/** Matches results (id first, then kind + label) and lists the metric changes. */
export function compareResults(
  baseline: readonly RunResult[],
  candidate: readonly RunResult[],
): Comparison {
  const unmatched = new Set(baseline);
  const byId = new Map(baseline.map((r) => [r.id, r]));
  const byLabel = new Map(baseline.map((r) => [`${r.kind}\u0000${r.label}`, r]));
  const rows: CompareRow[] = [];
  const onlyCandidate: RunResult[] = [];
  for (const cand of candidate) {
    let base = byId.get(cand.id);
    if (!base || !unmatched.has(base)) base = byLabel.get(`${cand.kind}\u0000${cand.label}`);
    if (!base || !unmatched.has(base)) {
      onlyCandidate.push(cand);
      continue;
    }
    unmatched.delete(base);
    const common = { run: cand.label, id: cand.id };
    if (base.status !== "ok" || cand.status !== "ok") {
      rows.push({
        ...common,
        metric: "status",
        baseline: base.status,
        candidate: cand.status,
        delta: null,
        relative: null,
      });
    }
    const a = flattenMetrics(base.metrics);
    const b = flattenMetrics(cand.metrics);
    const names = [...new Set([...b.keys(), ...a.keys()])];
    for (const metric of names) {
      const x = a.get(metric) ?? null;
      const y = b.get(metric) ?? null;
      const numeric = typeof x === "number" && typeof y === "number";
      const delta = numeric ? y - x : null;
      rows.push({
        ...common,
        metric,
        baseline: x,
        candidate: y,
        delta,
        relative: numeric && x !== 0 ? delta! / Math.abs(x) : null,
      });
    }
  }
  return { rows, onlyBaseline: [...unmatched], onlyCandidate };
}

/** Formats a number for a table: integers as is, others with 5 significant digits. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e6)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

function cell(value: MetricScalar | string | null): string {
  if (value === null) return "-";
  return typeof value === "number" ? formatNumber(value) : String(value);
}

/** Renders rows as a plain-text table with aligned columns (numbers right-aligned). */
export function formatTable(headers: readonly string[], rows: readonly string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = headers.map((_, i) =>
    rows.length > 0 && rows.every((r) => /^[-+]?[\d.]+(e[-+]?\d+)?%?$|^-$/.test(r[i] ?? ""))
  );
  const line = (r: readonly string[]) =>
    r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Renders a comparison as plain text: the table, then unmatched runs. */
export function formatComparison(comparison: Comparison): string {
  const rows = comparison.rows.map((r) => [
    r.run,
    r.metric,
    cell(r.baseline),
    cell(r.candidate),
    r.delta === null ? "-" : `${r.delta > 0 ? "+" : ""}${formatNumber(r.delta)}`,
    r.relative === null ? "-" : `${r.relative > 0 ? "+" : ""}${(r.relative * 100).toFixed(2)}%`,
  ]);
  const parts: string[] = [];
  parts.push(
    rows.length > 0
      ? formatTable(["run", "metric", "baseline", "candidate", "delta", "rel"], rows)
      : "no matching runs with metrics",
  );
  for (const r of comparison.onlyBaseline) {
    parts.push(`only in baseline: ${r.label} (${r.id}, ${r.suite})`);
  }
  for (const r of comparison.onlyCandidate) {
    parts.push(`only in candidate: ${r.label} (${r.id}, ${r.suite})`);
  }
  return parts.join("\n");
}
