/**
 * The regression gate as a pure function: candidate results against baseline entries, with the
 * suite's tolerances. A check fails when
 *
 * - perplexity rises by more than `pplRel` (relative) on any evaluation set;
 * - a zero-shot `acc` or `acc_norm` falls below the lower end of its baseline 95% interval;
 * - τ falls by more than `tauRel` (relative);
 * - speedup falls by more than `speedupRel` (relative);
 * - `lossless` was true and is now false (or missing);
 * - a gated metric of the baseline is missing from the candidate, the candidate run failed, or a
 *   baseline run is not among the candidates at all.
 *
 * Runs are matched by id only (same normalised run and format version): a run whose spec changed
 * is a different run, and the baseline must be updated on purpose. Candidate runs without a
 * baseline are listed as new and do not fail the gate, unless they failed to run.
 *
 * @module
 */

import { formatNumber, formatTable } from "../results/compare.ts";
import type { RunResult } from "../results/schema.ts";
import type { Suite } from "../spec/schema.ts";
import type { BaselineEntry } from "./baseline.ts";

/** Tolerances of the gate (a suite's `regress` block). */
export type Tolerances = Pick<Suite["regress"], "pplRel" | "tauRel" | "speedupRel">;

/** A candidate as the gate needs it: a result, or anything with the same fields. */
export type Candidate = Pick<RunResult, "id" | "label" | "kind" | "status" | "metrics"> & {
  error?: { message: string };
};

/** Outcome of one check. */
export type Verdict = "ok" | "FAIL" | "new";

/** One line of the gate's table. */
export interface GateRow {
  /** Run label. */
  run: string;
  /** Run id. */
  id: string;
  /** What is checked (`ppl[test-id]`, `zeroshot[lastword].acc`, `tau`, `run`, ...). */
  metric: string;
  /** Baseline value. */
  baseline: number | boolean | string | null;
  /** Candidate value. */
  candidate: number | boolean | string | null;
  /** candidate − baseline (numbers only). */
  delta: number | null;
  /** delta / baseline (numbers with a nonzero baseline only). */
  relative: number | null;
  /** The rule, in words (`≤ +0.50%`, `≥ 0.3120`, `stays true`). */
  allowed: string;
  /** Outcome. */
  verdict: Verdict;
  /** Longer explanation printed under the table (a failed run's error message). */
  note?: string;
}

/** What the gate found. */
export interface GateReport {
  /** Every check, in baseline order, then new runs. */
  rows: GateRow[];
  /** The failed checks. */
  failures: GateRow[];
  /** True when nothing failed. */
  passed: boolean;
}

/** Slack for floating-point noise when a change sits exactly on a tolerance. */
const EPSILON = 1e-12;

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

function numericRow(
  base: Omit<GateRow, "delta" | "relative" | "verdict" | "candidate" | "baseline">,
  baseline: number,
  candidate: number,
  fails: (relative: number) => boolean,
): GateRow {
  const delta = candidate - baseline;
  const relative = baseline !== 0 ? delta / Math.abs(baseline) : (delta === 0 ? 0 : Infinity);
  return {
    ...base,
    baseline,
    candidate,
    delta,
    relative: baseline !== 0 ? relative : null,
    verdict: fails(relative) ? "FAIL" : "ok",
  };
}

function missing(
  base: Omit<GateRow, "delta" | "relative" | "verdict" | "candidate" | "baseline">,
  baseline: number | boolean,
): GateRow {
  return { ...base, baseline, candidate: null, delta: null, relative: null, verdict: "FAIL" };
}

/** Checks one candidate run against its baseline entry. */
function checkRun(entry: BaselineEntry, cand: Candidate, tol: Tolerances): GateRow[] {
  const rows: GateRow[] = [];
  const at = (metric: string, allowed: string) => ({
    run: entry.label,
    id: entry.id,
    metric,
    allowed,
  });
  if (cand.status !== "ok") {
    rows.push({
      ...at("status", "ok"),
      baseline: "ok",
      candidate: "failed",
      delta: null,
      relative: null,
      verdict: "FAIL",
      note: cand.error?.message ?? "no message",
    });
    return rows;
  }
  const b = entry.metrics;
  const c = cand.metrics;
  for (const [set, base] of Object.entries(b.ppl ?? {})) {
    const r = at(`ppl[${set}]`, `≤ +${pct(tol.pplRel)}`);
    const value = c.ppl?.[set]?.ppl;
    rows.push(
      value === undefined
        ? missing(r, base.ppl)
        : numericRow(r, base.ppl, value, (rel) => rel > tol.pplRel + EPSILON),
    );
  }
  for (const [task, base] of Object.entries(b.zeroshot ?? {})) {
    for (const key of ["acc", "acc_norm"] as const) {
      const lo = key === "acc" ? base.acc_ci[0] : base.acc_norm_ci[0];
      const r = at(`zeroshot[${task}].${key}`, `≥ ${formatNumber(lo)} (CI low)`);
      const value = c.zeroshot?.[task]?.[key];
      rows.push(
        value === undefined ? missing(r, base[key]) : {
          ...numericRow(r, base[key], value, () => false),
          verdict: value < lo ? "FAIL" : "ok",
        },
      );
    }
  }
  if (b.tau !== undefined) {
    const r = at("tau", `≥ −${pct(tol.tauRel)}`);
    rows.push(
      c.tau === undefined
        ? missing(r, b.tau)
        : numericRow(r, b.tau, c.tau, (rel) => rel < -tol.tauRel - EPSILON),
    );
  }
  if (b.speedup !== undefined) {
    const r = at("speedup", `≥ −${pct(tol.speedupRel)}`);
    rows.push(
      c.speedup === undefined
        ? missing(r, b.speedup)
        : numericRow(r, b.speedup, c.speedup, (rel) => rel < -tol.speedupRel - EPSILON),
    );
  }
  if (b.lossless !== undefined) {
    const r = at("lossless", b.lossless ? "stays true" : "any");
    const value = c.lossless;
    rows.push({
      ...r,
      baseline: b.lossless,
      candidate: value ?? null,
      delta: null,
      relative: null,
      verdict: b.lossless && value !== true ? "FAIL" : "ok",
    });
  }
  return rows;
}

/**
 * Compares candidates with the baseline (see the module doc). Pure: no files, no clock.
 *
 * @param options `baseline` entries, `candidates` (results of the same suite), `tolerances`.
 * @returns every check and whether the gate passes.
 */
export function checkAgainstBaseline(options: {
  baseline: readonly BaselineEntry[];
  candidates: readonly Candidate[];
  tolerances: Tolerances;
}): GateReport {
  const { baseline, candidates, tolerances } = options;
  const byId = new Map(candidates.map((c) => [c.id, c]));
  const rows: GateRow[] = [];
  for (const entry of baseline) {
    const cand = byId.get(entry.id);
    if (!cand) {
      rows.push({
        run: entry.label,
        id: entry.id,
        metric: "run",
        baseline: "present",
        candidate: "missing",
        delta: null,
        relative: null,
        allowed: "present",
        verdict: "FAIL",
      });
      continue;
    }
    rows.push(...checkRun(entry, cand, tolerances));
  }
  const known = new Set(baseline.map((e) => e.id));
  for (const cand of candidates) {
    if (known.has(cand.id)) continue;
    const failed = cand.status !== "ok";
    rows.push({
      run: cand.label,
      id: cand.id,
      metric: failed ? "status" : "run",
      baseline: null,
      candidate: cand.status,
      delta: null,
      relative: null,
      allowed: failed ? "ok" : "no baseline yet",
      verdict: failed ? "FAIL" : "new",
      ...(failed ? { note: cand.error?.message ?? "no message" } : {}),
    });
  }
  const failures = rows.filter((r) => r.verdict === "FAIL");
  return { rows, failures, passed: failures.length === 0 };
}

function cell(value: number | boolean | string | null): string {
  if (value === null) return "-";
  return typeof value === "number" ? formatNumber(value) : String(value);
}

/**
 * Renders the gate's table, failed runs' messages and (unless `verdict` is false) the list of
 * new runs and a one-line verdict, as plain text.
 */
export function formatGateReport(report: GateReport, suite: string, verdict = true): string {
  const rows = report.rows.map((r) => [
    r.run,
    r.metric,
    cell(r.baseline),
    cell(r.candidate),
    r.delta === null ? "-" : formatNumber(r.delta),
    r.relative === null ? "-" : `${(r.relative * 100).toFixed(2)}%`,
    r.allowed,
    r.verdict,
  ]);
  const table = rows.length > 0
    ? formatTable(["run", "metric", "baseline", "candidate", "Δ", "Δ%", "allowed", "verdict"], rows)
    : "(nothing to compare)";
  const checks = report.rows.filter((r) => r.verdict !== "new").length;
  const news = report.rows.filter((r) => r.verdict === "new");
  const lines = [table, ""];
  for (const r of report.rows) if (r.note) lines.push(`${r.run}: ${r.note}`);
  if (report.rows.some((r) => r.note)) lines.push("");
  if (!verdict) return lines.join("\n").trimEnd();
  if (news.length > 0) {
    lines.push(
      `new runs without a baseline (not gated): ${news.map((r) => r.run).join(", ")}; ` +
        `add them with: deno task regress --update-baseline`,
    );
  }
  lines.push(
    report.passed
      ? `regress: PASS: suite "${suite}", ${checks} checks, none failed`
      : `regress: FAIL: suite "${suite}", ${report.failures.length} of ${checks} checks failed: ${
        report.failures.map((f) => `${f.run} ${f.metric}`).join("; ")
      }`,
  );
  return lines.join("\n");
}
