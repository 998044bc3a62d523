/**
 * Charts across runs: perplexity by method and pattern, τ and speedup by drafter and tree size,
 * and the training curves of the embedded model and its heads.
 *
 * @module
 */

import type { JSX } from "preact";
import { Chart, Layout } from "./layout.tsx";

/** A rendered chart with its caption. */
export interface CaptionedChart {
  /** Anchor id. */
  id: string;
  /** Caption text. */
  caption: string;
  /** SVG markup. */
  svg: string;
}

/** Props of {@link ChartsPage}. */
export interface ChartsPageProps {
  /** Perplexity charts (per model and evaluation set). */
  ppl: readonly CaptionedChart[];
  /** τ and speedup charts (per model). */
  decode: readonly CaptionedChart[];
  /** Training curves. */
  training: readonly CaptionedChart[];
  /** Curve files looked for but absent (shown so a reader knows why a chart is missing). */
  missingCurves: readonly string[];
}

function Charts({ charts, empty }: { charts: readonly CaptionedChart[]; empty: string }) {
  if (charts.length === 0) return <p class="empty">{empty}</p>;
  return <>{charts.map((c) => <Chart key={c.id} id={c.id} svg={c.svg} caption={c.caption} />)}</>;
}

/** The charts page. */
export function ChartsPage(props: ChartsPageProps): JSX.Element {
  return (
    <Layout title="Charts" base="" active="charts">
      <section aria-labelledby="ppl-h">
        <h2 id="ppl-h">Perplexity by method and pattern</h2>
        <p>
          One panel per sparsity pattern, one bar per method; the dashed line is the dense model.
          Lower is better.
        </p>
        <Charts charts={props.ppl} empty="No pruning results yet." />
      </section>
      <section aria-labelledby="decode-h">
        <h2 id="decode-h">τ and speedup by method and tree size</h2>
        <p>
          One panel per draft tree (ordered by drafted nodes), one bar per drafter; whiskers span
          the fastest and slowest repeat; the dashed line is autoregressive decoding (1.0).
        </p>
        <Charts charts={props.decode} empty="No speculative decoding results yet." />
      </section>
      <section aria-labelledby="train-h">
        <h2 id="train-h">Training curves</h2>
        <Charts charts={props.training} empty="No training curves found yet." />
        {props.missingCurves.length > 0
          ? (
            <p class="muted">
              Not found (training may still be running):{" "}
              {props.missingCurves.map((f, i) => (
                <span key={f}>
                  {i > 0 ? ", " : ""}
                  <code>{f}</code>
                </span>
              ))}.
            </p>
          )
          : null}
      </section>
    </Layout>
  );
}
