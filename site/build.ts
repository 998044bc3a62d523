/**
 * Builds the static leaderboard site (`deno task site`): reads and validates every result under
 * `reports/runs/`, renders Preact pages to HTML with Observable Plot charts inlined as SVG, and
 * writes `_site/`:
 *
 * ```
 * index.html            leaderboards (pruning, decoding) and failed runs
 * charts.html           ppl by method × pattern, τ / speedup by drafter × tree, training curves
 * methodology.html      protocols, "-style" tasks, recorded parameter choices, environments
 * downloads.html        every result JSON, all results in one file, the spec JSON Schema
 * runs/<suite>/<id>.html  one page per run
 * data/...              the downloads; assets/ the stylesheet and the sort script
 * ```
 *
 * Pages are plain HTML readable with JavaScript off; `assets/sort.js` only adds click-to-sort.
 * All links are relative (the site works from `file://` and under any path prefix), and nothing
 * is loaded from another origin (no CDN, no web fonts).
 *
 * A corrupt or schema-invalid result file fails the build, naming the file and the JSON path.
 *
 * Why no Eleventy: the site is six kinds of page generated from data the harness already
 * validates; a plain Deno module with Preact + preact-render-to-string renders them in well under
 * a second, type-checks with the rest of the project, and needs no template-engine conventions
 * (`.11ty.tsx` registration, `_data` folders, pagination front matter).
 *
 * @module
 */

import { h, type VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import { readResultsUnder, type ResultFileError } from "../src/results/store.ts";
import { TASK_REGISTRY } from "../src/data/tasks.ts";
import { DEFAULT_MODEL_NAME, DEFAULT_MODEL_PATH } from "../src/spec/schema.ts";
import {
  decodeChart,
  pplByMethodChart,
  runChart,
  trainingCurveChart,
  zeroshotChart,
} from "./charts.ts";
import { loadTrainingCurves } from "./curves.ts";
import { leaf } from "./format.ts";
import {
  decodeRows,
  denseRunFor,
  evalSets,
  findRunCharts,
  pruneRows,
  recordedChoices,
  type RunChart,
  sitePathsOf,
  type SiteRun,
} from "./model.ts";
import { describeParam } from "./params.ts";
import { type CaptionedChart, ChartsPage } from "./pages/charts_page.tsx";
import { DownloadsPage } from "./pages/downloads.tsx";
import { HomePage } from "./pages/home.tsx";
import { MethodologyPage, type SettingsRow, type TaskRow } from "./pages/methodology.tsx";
import { type RenderedChart, RunPage } from "./pages/run.tsx";

/** Options of {@link buildSite} (what `sparsespec site` passes). */
export interface BuildSiteOptions {
  /** Repository root (the spec schema and model folders are read there). Default: cwd. */
  root?: string;
  /** Results root; relative paths resolve against the working directory. Default `reports/runs`. */
  reportsDir?: string;
  /** Output folder; relative paths resolve against the working directory. Default `_site`. */
  outDir?: string;
  /** Progress and problem lines. Default: stderr. */
  log?: (message: string) => void;
}

/** What a build did. */
export interface BuildSiteResult {
  /** 0 built, 1 could not write the output, 2 a result file is broken (nothing written). */
  exitCode: number;
  /** Pages written. */
  pages: number;
  /** Result files read. */
  runs: number;
  /** The output folder. */
  outDir: string;
  /** Problems that failed the build (one line each: file, JSON path, what is expected). */
  errors: string[];
}

/** Marker file that lets a rebuild delete the old output folder safely. */
export const SITE_MARKER = ".sparsespec-site";

const ASSETS = ["style.css", "sort.js"] as const;

function renderPage<P>(page: VNode<P>): string {
  return `<!doctype html>\n${renderToString(page as unknown as VNode)}\n`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function isEmptyDir(path: string): Promise<boolean> {
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}

/** Empties the output folder, refusing to delete one this builder did not make. */
async function prepareOutDir(outDir: string): Promise<void> {
  if (await exists(outDir)) {
    if (!(await exists(`${outDir}/${SITE_MARKER}`)) && !(await isEmptyDir(outDir))) {
      throw new Error(
        `${outDir} exists and was not made by "deno task site" (no ${SITE_MARKER} file); ` +
          `refusing to delete it: choose another --out or remove it yourself`,
      );
    }
    await Deno.remove(outDir, { recursive: true });
  }
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/${SITE_MARKER}`, "built by deno task site\n");
}

async function writeFile(outDir: string, rel: string, text: string): Promise<void> {
  const path = `${outDir}/${rel}`;
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text);
}

function chartTitle(chart: RunChart): string {
  switch (chart.kind) {
    case "acceptLength":
      return "Accepted length per step (histogram)";
    case "depthAcceptance":
      return "Acceptance rate per draft depth";
    case "categories":
      return "Per-category τ and speedup";
    case "perItem":
      return `${chart.field} per ${chart.path.endsWith("layers") ? "layer" : "item"}`;
    case "histograms":
      return `Weight histogram${chart.series.length > 1 ? "s" : ""}: ${
        chart.path.replace(/^artifacts\.|^metrics\./, "")
      }`;
  }
}

/** Chart source data as compact JSON text (numbers to 6 significant digits). */
function chartData(source: unknown): string {
  return JSON.stringify(source, (_, v) => (typeof v === "number" ? Number(v.toPrecision(6)) : v));
}

function countRows(keys: readonly string[][]): SettingsRow[] {
  const counts = new Map<string, { cells: string[]; runs: number }>();
  for (const cells of keys) {
    const key = JSON.stringify(cells);
    const row = counts.get(key) ?? { cells, runs: 0 };
    row.runs++;
    counts.set(key, row);
  }
  return [...counts.values()];
}

function taskRows(runs: readonly SiteRun[]): TaskRow[] {
  const items = new Map<string, Set<number>>();
  for (const { result } of runs) {
    for (const [task, m] of Object.entries(result.metrics.zeroshot ?? {})) {
      const set = items.get(task) ?? new Set<number>();
      set.add(m.n);
      items.set(task, set);
    }
  }
  return [...items.keys()].sort().map((name) => {
    const info = (TASK_REGISTRY as Record<string, { description: string }>)[name];
    const description = info?.description ??
      "User task file (lm-eval-style JSONL: context, choices, gold).";
    return {
      name,
      description,
      styleDerivative: info !== undefined && /-style\b/.test(description),
      items: [...items.get(name)!].sort((a, b) => a - b).join(", "),
    };
  });
}

function methodologyData(runs: readonly SiteRun[]) {
  const ok = runs.filter((r) => r.result.status === "ok");
  const ppl = countRows(
    ok.flatMap(({ result }) =>
      Object.entries(result.metrics.ppl ?? {}).map(([set, m]) => [
        result.suite,
        set,
        String(m.seqlen),
        String(m.windows),
        String(m.tokens),
      ])
    ),
  );
  const decode = countRows(
    ok.flatMap(({ result }) => {
      const s = result.spec as unknown as Record<string, unknown>;
      if (result.kind !== "decode") return [];
      return [[
        result.suite,
        leaf(s.prompts),
        leaf(s.maxNewTokens),
        s.limit === null ? "all" : leaf(s.limit),
        leaf(s.repeats),
        leaf(s.warmup),
      ]];
    }),
  );
  const environments = countRows(ok.map(({ result }) => {
    const p = result.provenance;
    const gpu = p.gpuAdapter
      ? `${p.gpuAdapter.description || p.gpuAdapter.device || p.gpuAdapter.vendor}${
        p.gpuAdapter.isFallbackAdapter ? " (fallback)" : ""
      }`
      : "none";
    return [
      p.executionProvider ?? "—",
      p.providerReason ?? "—",
      gpu,
      p.cpuModel ?? "—",
      String(p.threads),
      p.deno,
      p.onnxruntimeWeb ?? "—",
    ];
  }));
  const choices = recordedChoices(runs).map((c) => ({ ...c, ...describeParam(c.owner, c.name) }));
  return { ppl, decode, environments, choices, tasks: taskRows(ok) };
}

function modelsOf(runs: readonly SiteRun[]): Map<string, string> {
  const models = new Map<string, string>([[DEFAULT_MODEL_NAME, DEFAULT_MODEL_PATH]]);
  for (const { result } of runs) models.set(result.spec.model.name, result.spec.model.path);
  return models;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    out.set(k, [...(out.get(k) ?? []), item]);
  }
  return out;
}

/**
 * Builds the site; see the module doc. Never throws for bad results: problems come back in
 * `errors` with `exitCode` 2, and each is logged.
 */
export async function buildSite(options: BuildSiteOptions = {}): Promise<BuildSiteResult> {
  const t0 = performance.now();
  const root = (options.root ?? Deno.cwd()).replace(/\/+$/, "") || "/";
  const reportsDir = options.reportsDir ?? "reports/runs";
  const outDir = (options.outDir ?? "_site").replace(/\/+$/, "") || "/";
  const log = options.log ?? ((msg: string) => console.error(msg));
  const fail = (errors: string[], exitCode = 2): BuildSiteResult => {
    for (const e of errors) log(e);
    log(`site: build failed (${errors.length} problem${errors.length === 1 ? "" : "s"})`);
    return { exitCode, pages: 0, runs: 0, outDir, errors };
  };

  // 1. Results: every file must be valid; a bad one fails the build before anything is written.
  let entries: { file: string; result: SiteRun["result"] }[] = [];
  if (await exists(reportsDir)) {
    const listing = await readResultsUnder(reportsDir);
    if (listing.errors.length > 0) {
      return fail(listing.errors.map((e: ResultFileError) => `site: ${e.message}`));
    }
    entries = listing.results;
  } else {
    log(`site: ${reportsDir} does not exist yet; building a site with no results`);
  }
  const seen = new Map<string, string>();
  const duplicates: string[] = [];
  for (const { file, result } of entries) {
    const key = `${result.suite}/${result.id}`;
    if (seen.has(key)) {
      duplicates.push(
        `site: ${file}: id: run "${key}" also in ${seen.get(key)}; keep one of the two files`,
      );
    }
    seen.set(key, file);
  }
  if (duplicates.length > 0) return fail(duplicates);
  const runs: SiteRun[] = entries.map(({ file, result }) => ({
    file,
    result,
    ...sitePathsOf(result),
  }));

  // 2. Everything else the pages need.
  const curves = await loadTrainingCurves({
    root,
    models: modelsOf(runs),
    warn: (msg) => log(`site: warning: ${msg}`),
  });
  const modelCurveFiles = [...modelsOf(runs).values()].map((p) => `${p}/loss_curve.json`);
  const missingCurves = modelCurveFiles.filter((f) => !curves.some((c) => c.file === f));
  const schemaFile = `${root}/reports/schema/spec.schema.json`;
  const hasSchema = await exists(schemaFile);
  if (!hasSchema) log(`site: warning: ${schemaFile} not found; downloads will not offer it`);

  try {
    await prepareOutDir(outDir);
    const pages: [string, string][] = [];

    // Home.
    const prune = pruneRows(runs);
    const decode = decodeRows(runs);
    const dates = runs.map((r) => r.result.provenance.date).sort();
    pages.push([
      "index.html",
      renderPage(h(HomePage, {
        prune,
        decode,
        sets: evalSets(prune),
        failed: runs.filter((r) => r.result.status === "failed"),
        total: runs.length,
        newest: dates.at(-1) ?? null,
      })),
    ]);

    // Charts across runs.
    const pplCharts: CaptionedChart[] = [];
    for (const [model, rows] of groupBy(prune, (r) => r.model)) {
      for (const set of evalSets(rows)) {
        const svg = pplByMethodChart(rows, set);
        if (svg) {
          pplCharts.push({
            id: `ppl-${model}-${set}`,
            caption: `${model}: perplexity on ${set}`,
            svg,
          });
        }
      }
    }
    const decodeCharts: CaptionedChart[] = [];
    for (const [model, rows] of groupBy(decode, (r) => r.model)) {
      for (const metric of ["tau", "speedup"] as const) {
        const svg = decodeChart(rows, metric);
        if (svg) {
          decodeCharts.push({
            id: `${metric}-${model}`,
            caption: `${model}: ${
              metric === "tau" ? "τ (mean accepted length)" : "speedup over AR"
            }`,
            svg,
          });
        }
      }
    }
    const trainingCharts: CaptionedChart[] = curves.flatMap((c) => {
      const svg = trainingCurveChart(c.points, c.title);
      return svg
        ? [{
          id: `curve-${c.file}`,
          caption: `${c.title}: ${c.steps} logged steps (${c.file})`,
          svg,
        }]
        : [];
    });
    pages.push([
      "charts.html",
      renderPage(h(ChartsPage, {
        ppl: pplCharts,
        decode: decodeCharts,
        training: trainingCharts,
        missingCurves,
      })),
    ]);

    // Methodology.
    pages.push(["methodology.html", renderPage(h(MethodologyPage, methodologyData(runs)))]);

    // Run pages.
    for (const run of runs) {
      const charts: RenderedChart[] = findRunCharts(run.result).map((chart) => ({
        path: chart.path,
        title: chartTitle(chart),
        svg: runChart(chart),
        data: chartData(chart.source),
      }));
      const zs = Object.entries(run.result.metrics.zeroshot ?? {}).map(([task, m]) => ({
        task,
        acc: m.acc,
        lo: m.acc_ci[0],
        hi: m.acc_ci[1],
      }));
      pages.push([
        run.page,
        renderPage(h(RunPage, {
          run,
          dense: denseRunFor(run, runs),
          charts,
          zeroshotSvg: zeroshotChart(zs),
          base: "../../",
        })),
      ]);
    }

    // Downloads: copies of the result files, a bundle, the schema.
    const sizes: { run: SiteRun; size: number }[] = [];
    const bundle: unknown[] = [];
    for (const run of runs) {
      const text = await Deno.readTextFile(run.file);
      await writeFile(outDir, run.download, text);
      sizes.push({ run, size: new TextEncoder().encode(text).length });
      bundle.push(JSON.parse(text));
    }
    const bundleText = `${JSON.stringify(bundle, null, 2)}\n`;
    await writeFile(outDir, "data/results.json", bundleText);
    let schema = null;
    if (hasSchema) {
      const text = await Deno.readTextFile(schemaFile);
      await writeFile(outDir, "data/spec.schema.json", text);
      schema = { href: "data/spec.schema.json", size: new TextEncoder().encode(text).length };
    }
    pages.push([
      "downloads.html",
      renderPage(h(DownloadsPage, {
        runs: sizes,
        bundle: { href: "data/results.json", size: new TextEncoder().encode(bundleText).length },
        schema,
      })),
    ]);

    for (const [rel, html] of pages) await writeFile(outDir, rel, html);
    for (const asset of ASSETS) {
      await writeFile(
        outDir,
        `assets/${asset}`,
        await Deno.readTextFile(new URL(`./assets/${asset}`, import.meta.url)),
      );
    }
    const seconds = ((performance.now() - t0) / 1000).toFixed(2);
    log(
      `site: ${pages.length} pages from ${runs.length} result file${
        runs.length === 1 ? "" : "s"
      } (${prune.length} pruning, ${decode.length} decoding rows) -> ${outDir}/ in ${seconds} s`,
    );
    return { exitCode: 0, pages: pages.length, runs: runs.length, outDir, errors: [] };
  } catch (error) {
    return fail([`site: ${error instanceof Error ? error.message : String(error)}`], 1);
  }
}

if (import.meta.main) {
  const { exitCode } = await buildSite({ root: new URL("..", import.meta.url).pathname });
  Deno.exit(exitCode);
}
