/**
 * Charts as static SVG markup: Observable Plot rendered on a linkedom document, so pages need no
 * JavaScript and load nothing from elsewhere. Every function returns HTML text (an `<svg>`, or a
 * `<figure>` when Plot adds a legend) ready to inline.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";
import type { CurvePoint } from "./curves.ts";
import type { DecodeRow, Histogram, PruneRow, RunChart } from "./model.ts";

const { document: DOCUMENT } = parseHTML("<!doctype html><html><head></head><body></body></html>");

/** Width of every chart in CSS pixels (they scale down with the page). */
export const CHART_WIDTH = 720;

const STYLE = {
  background: "transparent",
  fontSize: "12px",
  overflow: "visible",
} as const;

function render(options: Plot.PlotOptions): string {
  const node = Plot.plot({
    width: CHART_WIDTH,
    height: 280,
    marginLeft: 56,
    style: STYLE,
    ...options,
    document: DOCUMENT as unknown as Document,
  });
  return (node as unknown as { outerHTML: string }).outerHTML;
}

function methodOrder(values: readonly string[]): string[] {
  const known = ["dense", "magnitude", "wanda", "sparsegpt", "sds", "ar", "medusa", "amphista"];
  const rank = (m: string) => {
    const i = known.findIndex((k) => m === k || m.startsWith(`${k}(`));
    return i < 0 ? known.length : i;
  };
  return [...new Set(values)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * Perplexity on one evaluation set by method (colour) and pattern (panel), with the dense
 * perplexity as a dashed rule. Null when no row has that set.
 */
export function pplByMethodChart(rows: readonly PruneRow[], set: string): string | null {
  const withSet = rows.filter((r) => r.ppl[set] !== undefined);
  if (withSet.length === 0) return null;
  const dense = withSet.filter((r) => r.method === "dense");
  const sparse = withSet.filter((r) => r.method !== "dense");
  const data = (sparse.length > 0 ? sparse : dense).map((r) => ({
    method: r.method,
    pattern: r.pattern,
    ppl: r.ppl[set],
  }));
  const patterns = [...new Set(data.map((d) => d.pattern))];
  const order = new Map(withSet.map((r) => [r.pattern, r.targetSparsity]));
  patterns.sort((a, b) =>
    (order.get(a) ?? 0) - (order.get(b) ?? 0) ||
    Number(a.includes(":")) - Number(b.includes(":")) || a.localeCompare(b)
  );
  const marks: Plot.Markish[] = [
    Plot.barY(data, { fx: "pattern", x: "method", y: "ppl", fill: "method" }),
    Plot.text(data, {
      fx: "pattern",
      x: "method",
      y: "ppl",
      text: (d: { ppl: number }) => d.ppl.toFixed(1),
      dy: -6,
      fontSize: 10,
    }),
    Plot.ruleY([0]),
  ];
  if (sparse.length > 0 && dense.length > 0) {
    const densePpl = dense[0].ppl[set];
    marks.push(
      Plot.ruleY([densePpl], { stroke: "currentColor", strokeDasharray: "4,3" }),
      Plot.text([densePpl], {
        y: (d: number) => d,
        text: (d: number) => `dense ${d.toFixed(1)}`,
        frameAnchor: "right",
        textAnchor: "end",
        dy: -6,
        fontSize: 10,
      }),
    );
  }
  return render({
    ariaLabel: `Perplexity on ${set} by method and pattern`,
    fx: { label: "pattern", domain: patterns },
    x: { axis: null, domain: methodOrder(data.map((d) => d.method)) },
    y: { label: `perplexity (${set})`, grid: true, nice: true },
    color: { legend: true, domain: methodOrder(data.map((d) => d.method)) },
    marks,
  });
}

/**
 * τ or speedup by drafter (colour) and tree (panel); speedup bars carry min–max whiskers over
 * repeats, and a dashed rule marks AR (1.0). Null when no speculative row has the metric.
 */
export function decodeChart(rows: readonly DecodeRow[], metric: "tau" | "speedup"): string | null {
  const data = rows
    .filter((r) => r.method !== "ar" && r[metric] !== null)
    .map((r) => ({
      method: r.method,
      tree: r.tree,
      size: r.treeSize ?? 0,
      value: r[metric] as number,
      lo: metric === "speedup" ? r.speedupSpread?.min ?? null : null,
      hi: metric === "speedup" ? r.speedupSpread?.max ?? null : null,
    }));
  if (data.length === 0) return null;
  const trees = [...new Set(data.map((d) => d.tree))];
  const sizes = new Map(data.map((d) => [d.tree, d.size]));
  trees.sort((a, b) => (sizes.get(a) ?? 0) - (sizes.get(b) ?? 0) || a.localeCompare(b));
  const whiskers = data.filter((d) => d.lo !== null && d.hi !== null);
  const methods = methodOrder(data.map((d) => d.method));
  return render({
    ariaLabel: `${metric === "tau" ? "Mean accepted length" : "Speedup"} by drafter and tree`,
    fx: { label: "tree (drafted nodes)", domain: trees },
    x: { axis: null, domain: methods },
    y: {
      label: metric === "tau" ? "τ (mean accepted length)" : "speedup over AR (×)",
      grid: true,
      nice: true,
      zero: true,
    },
    color: { legend: true, domain: methods },
    marks: [
      Plot.barY(data, { fx: "tree", x: "method", y: "value", fill: "method" }),
      Plot.ruleX(whiskers, { fx: "tree", x: "method", y1: "lo", y2: "hi", strokeWidth: 1.5 }),
      Plot.text(data, {
        fx: "tree",
        x: "method",
        y: (d: { value: number; hi: number | null }) => Math.max(d.value, d.hi ?? d.value),
        text: (d: { value: number }) => d.value.toFixed(2),
        dy: -6,
        fontSize: 10,
      }),
      Plot.ruleY([1], { stroke: "currentColor", strokeDasharray: "4,3" }),
      Plot.ruleY([0]),
    ],
  });
}

/** Loss against step, one line per series (train, validation, per head). */
export function trainingCurveChart(points: readonly CurvePoint[], title: string): string | null {
  if (points.length === 0) return null;
  const series = [...new Set(points.map((p) => p.series))];
  return render({
    ariaLabel: `Training curve of ${title}`,
    x: { label: "step", grid: true },
    y: { label: "loss (nats / token)", grid: true, nice: true },
    color: { legend: series.length > 1, domain: series },
    marks: [
      Plot.line(points, { x: "step", y: "value", stroke: "series", strokeWidth: 1.5 }),
      Plot.dot(points.filter((p) => /val/i.test(p.series)), {
        x: "step",
        y: "value",
        stroke: "series",
        r: 2.5,
      }),
    ],
  });
}

/** Zero-shot accuracy per task as dots with their 95% intervals. */
export function zeroshotChart(
  tasks: readonly { task: string; acc: number; lo: number; hi: number }[],
): string | null {
  if (tasks.length === 0) return null;
  return render({
    ariaLabel: "Zero-shot accuracy per task with 95% intervals",
    height: 50 + 34 * tasks.length,
    marginLeft: 110,
    x: { label: "accuracy (%)", domain: [0, 100], grid: true, percent: true },
    y: { label: null },
    marks: [
      Plot.ruleY(tasks, { y: "task", x1: "lo", x2: "hi", strokeWidth: 2 }),
      Plot.dot(tasks, { y: "task", x: "acc", fill: "currentColor", r: 4 }),
    ],
  });
}

function histogramRects(series: readonly { name: string; histogram: Histogram }[]) {
  return series.flatMap(({ name, histogram }) =>
    histogram.counts.map((count, i) => ({
      series: name,
      x1: histogram.edges[i],
      x2: histogram.edges[i + 1],
      count,
    }))
  );
}

/** Renders one chart found in a run's metrics or artifacts (see `findRunCharts`). */
export function runChart(chart: RunChart): string {
  switch (chart.kind) {
    case "acceptLength": {
      const total = chart.bins.reduce((s, b) => s + b.count, 0) || 1;
      const data = chart.bins.map((b) => ({ ...b, fraction: b.count / total }));
      return render({
        ariaLabel: "Accepted length histogram",
        height: 240,
        x: { label: "tokens committed per step", type: "band" },
        y: { label: "share of steps (%)", percent: true, grid: true },
        marks: [
          Plot.barY(data, { x: "length", y: "fraction", fill: "steelblue" }),
          Plot.ruleY([0]),
        ],
      });
    }
    case "depthAcceptance": {
      const data = chart.depths.filter((d) => d.rate !== null);
      return render({
        ariaLabel: "Per-depth acceptance rate",
        height: 240,
        x: { label: "draft depth", type: "band" },
        y: { label: "P(accept | reached) (%)", domain: [0, 100], percent: true, grid: true },
        marks: [Plot.barY(data, { x: "depth", y: "rate", fill: "seagreen" }), Plot.ruleY([0])],
      });
    }
    case "categories": {
      const long = chart.categories.flatMap((c) => [
        { category: c.category, metric: "τ", value: c.tau },
        ...(c.speedup === null
          ? []
          : [{ category: c.category, metric: "speedup", value: c.speedup }]),
      ]);
      return render({
        ariaLabel: "Per-category τ and speedup",
        height: 60 + 28 * chart.categories.length,
        marginLeft: 110,
        fx: { label: null, domain: ["τ", "speedup"] },
        x: { grid: true, label: null, nice: true, zero: true },
        y: { label: null, domain: chart.categories.map((c) => c.category) },
        color: { legend: true, domain: ["τ", "speedup"] },
        marks: [
          Plot.barX(long, { fx: "metric", y: "category", x: "value", fill: "metric" }),
          Plot.text(long, {
            fx: "metric",
            y: "category",
            x: "value",
            text: (d: { value: number }) => d.value.toFixed(2),
            dx: 16,
            fontSize: 10,
          }),
        ],
      });
    }
    case "perItem": {
      const names = chart.items.map((i) => i.name.replace(/^model\./, "").replace(/\.weight$/, ""));
      const data = chart.items.map((i, k) => ({ name: names[k], value: i.value }));
      return render({
        ariaLabel: `${chart.field} per item`,
        height: 50 + 15 * data.length,
        marginLeft: Math.min(300, 12 + 6.2 * Math.max(...names.map((n) => n.length))),
        x: { label: chart.field, grid: true, nice: true, zero: true },
        y: { label: null, domain: names, tickSize: 0 },
        marks: [Plot.barX(data, { y: "name", x: "value", fill: "slategray" }), Plot.ruleX([0])],
      });
    }
    case "histograms": {
      const rects = histogramRects(chart.series);
      const facet = chart.series.length > 1;
      return render({
        ariaLabel: `Weight histogram ${chart.path}`,
        height: facet ? 70 + 90 * chart.series.length : 220,
        x: { label: "weight value", grid: true },
        y: { label: "count", grid: true, nice: true },
        fy: facet ? { label: null, domain: chart.series.map((s) => s.name) } : undefined,
        color: { domain: chart.series.map((s) => s.name) },
        marks: [
          Plot.rectY(rects, {
            x1: "x1",
            x2: "x2",
            y: "count",
            fill: "series",
            ...(facet ? { fy: "series" } : {}),
          }),
          Plot.ruleY([0]),
        ],
      });
    }
  }
}
