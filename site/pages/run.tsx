/**
 * The page of one run: headline metrics, every other metric, its charts (whatever the result
 * carries: weight histograms, accepted-length histogram, per-depth acceptance, per-category
 * breakdown), the full normalised spec, timings and provenance, and a link to its JSON.
 *
 * @module
 */

import type { JSX } from "preact";
import { duration, fixed, MISSING, percent, signedPercent } from "../format.ts";
import { flattenJson, methodLabel, type SiteRun, treeLabel, type TreeLike } from "../model.ts";
import { patternLabel } from "../../src/spec/pattern.ts";
import { Chart, KeyValues, Layout } from "./layout.tsx";

/** A chart ready to show on the run page. */
export interface RenderedChart {
  /** Where the data came from (`metrics.perDepthAcceptance`). */
  path: string;
  /** What it shows. */
  title: string;
  /** SVG markup. */
  svg: string;
  /** The charted data as JSON text (shown under the chart, collapsed). */
  data: string;
}

/** Props of {@link RunPage}. */
export interface RunPageProps {
  /** The run. */
  run: SiteRun;
  /** The dense run it is compared with (prune runs), if any. */
  dense: SiteRun | null;
  /** Charts found in the result. */
  charts: readonly RenderedChart[];
  /** Zero-shot chart, if the run has zero-shot metrics. */
  zeroshotSvg: string | null;
  /** Prefix to the site root. */
  base: string;
}

const HEADLINE = new Set(["ppl", "zeroshot", "tau", "speedup", "lossless"]);

function PplTable({ run, dense }: { run: SiteRun; dense: SiteRun | null }) {
  const entries = Object.entries(run.result.metrics.ppl ?? {});
  if (entries.length === 0) return null;
  return (
    <table id="ppl-table" class="leaderboard">
      <caption>
        Perplexity (SparseGPT/Wanda protocol: non-overlapping windows, tail dropped)
      </caption>
      <thead>
        <tr>
          <th scope="col">Set</th>
          <th scope="col">ppl</th>
          <th scope="col">NLL</th>
          <th scope="col">Windows</th>
          <th scope="col">Tokens</th>
          <th scope="col">seqlen</th>
          <th scope="col">Δ vs dense</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([set, m]) => {
          const base = dense?.result.metrics.ppl?.[set];
          const delta = base && base.seqlen === m.seqlen && dense !== run
            ? m.ppl / base.ppl - 1
            : null;
          return (
            <tr key={set}>
              <th scope="row">{set}</th>
              <td class="num">{fixed(m.ppl, 3)}</td>
              <td class="num">{fixed(m.nll, 4)}</td>
              <td class="num">{m.windows}</td>
              <td class="num">{m.tokens}</td>
              <td class="num">{m.seqlen}</td>
              <td class="num">{delta === null ? MISSING : signedPercent(delta, 2)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function ZeroshotTable({ run }: { run: SiteRun }) {
  const entries = Object.entries(run.result.metrics.zeroshot ?? {});
  if (entries.length === 0) return null;
  return (
    <table id="zeroshot-table" class="leaderboard">
      <caption>Zero-shot accuracy (lm-eval-harness-style log-likelihood), 95% intervals</caption>
      <thead>
        <tr>
          <th scope="col">Task</th>
          <th scope="col">acc</th>
          <th scope="col">acc 95% CI</th>
          <th scope="col">acc_norm</th>
          <th scope="col">acc_norm 95% CI</th>
          <th scope="col">n</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([task, m]) => (
          <tr key={task}>
            <th scope="row">{task}</th>
            <td class="num">{percent(m.acc)}</td>
            <td class="num">[{percent(m.acc_ci[0])}, {percent(m.acc_ci[1])}]</td>
            <td class="num">{percent(m.acc_norm)}</td>
            <td class="num">[{percent(m.acc_norm_ci[0])}, {percent(m.acc_norm_ci[1])}]</td>
            <td class="num">{m.n}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Headline({ run }: { run: SiteRun }) {
  const { result } = run;
  const m = result.metrics;
  const spec = result.spec;
  const facts: [string, string][] = [
    ["kind", result.kind],
    ["model", spec.model.name],
  ];
  if (spec.kind === "prune") {
    facts.push(["method", methodLabel(spec)]);
    facts.push(["pattern", patternLabel(spec.pattern)]);
  } else {
    facts.push(["drafter", spec.drafter], ["tree", treeLabel(spec.tree as TreeLike)]);
  }
  if (m.tau !== undefined) facts.push(["τ", fixed(m.tau, 3)]);
  if (m.speedup !== undefined) facts.push(["speedup", `${fixed(m.speedup, 3)}×`]);
  if (m.lossless !== undefined) facts.push(["lossless", m.lossless ? "yes" : "NO"]);
  facts.push(["status", result.status], ["wall time", duration(result.timings.wallSeconds)]);
  return (
    <dl class="facts" id="run-facts">
      {facts.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd class={k === "status" && v !== "ok" ? "bad" : undefined}>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The page of one run. */
export function RunPage({ run, dense, charts, zeroshotSvg, base }: RunPageProps): JSX.Element {
  const { result } = run;
  const otherMetrics = Object.fromEntries(
    Object.entries(result.metrics).filter(([k]) => !HEADLINE.has(k)),
  );
  const charted = charts.map((c) => c.path.replace(/^metrics\./, ""));
  const scalarMetrics = flattenJson(otherMetrics).filter(([path, v]) =>
    (!Array.isArray(v) || v.length <= 12) &&
    !charted.some((c) => path === c || path.startsWith(`${c}.`) || path.startsWith(`${c}[`))
  );
  const phases = Object.entries(result.timings.phases ?? {}).map(([k, v]) =>
    [`phases.${k}`, duration(v)] as [string, unknown]
  );
  return (
    <Layout title={result.label} base={base} active="run">
      <p class="lede">
        Suite <code>{result.suite}</code>, run <code>{result.id}</code>.{" "}
        <a href={`${base}${run.download}`} download>Result JSON</a>
        {dense && dense !== run
          ? (
            <>
              {" "}· compared with <a href={`${base}${dense.page}`}>{dense.result.label}</a>
            </>
          )
          : null}
      </p>
      <Headline run={run} />
      {result.error
        ? (
          <section>
            <h2>Error</h2>
            <pre class="error" id="run-error">{result.error.message}</pre>
          </section>
        )
        : null}
      <section aria-labelledby="metrics-h">
        <h2 id="metrics-h">Metrics</h2>
        <PplTable run={run} dense={dense} />
        <ZeroshotTable run={run} />
        {zeroshotSvg
          ? <Chart svg={zeroshotSvg} caption="Zero-shot accuracy per task (95% CI)" />
          : null}
        {scalarMetrics.length > 0
          ? <KeyValues id="other-metrics" caption="Other metrics" rows={scalarMetrics} />
          : null}
      </section>
      {charts.length > 0
        ? (
          <section aria-labelledby="charts-h" id="run-charts">
            <h2 id="charts-h">Charts</h2>
            {charts.map((c) => (
              <Chart
                key={`${c.path}:${c.title}`}
                svg={c.svg}
                caption={
                  <>
                    {c.title}{" "}
                    <span class="muted">
                      (<code>{c.path}</code>)
                    </span>
                    <details>
                      <summary>Data</summary>
                      <pre>{c.data}</pre>
                    </details>
                  </>
                }
              />
            ))}
          </section>
        )
        : null}
      {result.artifacts && Object.keys(result.artifacts).length > 0
        ? (
          <section aria-labelledby="artifacts-h" id="run-artifacts">
            <h2 id="artifacts-h">Artifacts</h2>
            {Object.entries(result.artifacts).map(([key, value]) => {
              const text = JSON.stringify(value, null, 1);
              return (
                <details key={key}>
                  <summary>
                    <code>{key}</code>{" "}
                    <span class="muted">({Math.ceil(text.length / 1024)} KiB of JSON)</span>
                  </summary>
                  <pre>{text.length > 200_000 ? `${text.slice(0, 200_000)}\n…` : text}</pre>
                </details>
              );
            })}
          </section>
        )
        : null}
      <section aria-labelledby="spec-h">
        <h2 id="spec-h">Spec</h2>
        <KeyValues id="run-spec" rows={flattenJson(result.spec)} />
      </section>
      <section aria-labelledby="timings-h">
        <h2 id="timings-h">Timings</h2>
        <KeyValues
          rows={[
            ["startedAt", result.timings.startedAt],
            ["finishedAt", result.timings.finishedAt],
            ["wallSeconds", duration(result.timings.wallSeconds)],
            ...phases,
          ]}
        />
      </section>
      <section aria-labelledby="prov-h">
        <h2 id="prov-h">Provenance</h2>
        <KeyValues id="run-provenance" rows={flattenJson(result.provenance)} />
        {result.provenance.gpuAdapter?.isFallbackAdapter
          ? (
            <p class="note">
              The GPU adapter is a software fallback ({result.provenance.gpuAdapter.description ||
                result.provenance.gpuAdapter.device}): speed numbers do not reflect a real GPU.
            </p>
          )
          : null}
      </section>
    </Layout>
  );
}
