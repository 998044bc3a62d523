/**
 * The home page: the pruning and decoding leaderboards as plain tables (readable without
 * JavaScript; `sort.js` adds click-to-sort), and the runs that failed.
 *
 * @module
 */

import type { JSX } from "preact";
import { duration, fixed, MISSING, percent, sig, signedPercent } from "../format.ts";
import type { DecodeRow, PruneRow, SiteRun } from "../model.ts";
import { Layout } from "./layout.tsx";

/** Props of {@link HomePage}. */
export interface HomeProps {
  /** Pruning rows. */
  prune: readonly PruneRow[];
  /** Decoding rows. */
  decode: readonly DecodeRow[];
  /** Evaluation sets (one ppl and one Δ column each). */
  sets: readonly string[];
  /** Runs whose status is failed. */
  failed: readonly SiteRun[];
  /** Number of result files read. */
  total: number;
  /** Date of the newest result (ISO), if any. */
  newest: string | null;
}

function num(value: number | null | undefined): string | undefined {
  return value === null || value === undefined || !Number.isFinite(value)
    ? undefined
    : String(value);
}

function PruneTable(
  { rows, sets, showSuite }: {
    rows: readonly PruneRow[];
    sets: readonly string[];
    showSuite: boolean;
  },
) {
  return (
    <table id="prune-leaderboard" class="leaderboard sortable">
      <caption>
        Pruning: perplexity per evaluation set (lower is better) with its change (Δ) against the
        dense model of the same suite, zero-shot average accuracy with its 95% interval, achieved
        sparsity and pruning time.
      </caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          {showSuite ? <th scope="col">Suite</th> : null}
          <th scope="col">Model</th>
          <th scope="col">Method</th>
          <th scope="col" data-type="number">Pattern</th>
          {sets.map((s) => (
            <th key={s} scope="col" data-type="number">
              ppl {s} <span class="ci">(Δ)</span>
            </th>
          ))}
          <th scope="col" data-type="number">0-shot avg (95% CI)</th>
          <th scope="col" data-type="number">Sparsity</th>
          <th scope="col" data-type="number">Prune time</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id} data-run-id={r.id} data-suite={r.suite}>
            <td>
              <a href={r.page}>{r.label}</a>
            </td>
            {showSuite ? <td>{r.suite}</td> : null}
            <td class="nowrap">{r.model}</td>
            <td>{r.method}</td>
            <td data-sort={num(r.targetSparsity)}>{r.pattern}</td>
            {sets.map((s) => (
              <td key={s} class="num" data-sort={num(r.ppl[s])}>
                {fixed(r.ppl[s], 2)}
                {r.method === "dense" || r.deltaVsDense[s] === undefined
                  ? null
                  : <span class="ci delta">{` (${signedPercent(r.deltaVsDense[s])})`}</span>}
              </td>
            ))}
            <td class="num" data-sort={num(r.zeroshot?.mean)}>
              {r.zeroshot
                ? (
                  <>
                    {percent(r.zeroshot.mean)}{" "}
                    <span class="ci">
                      [{percent(r.zeroshot.lo)}, {percent(r.zeroshot.hi)}]
                    </span>
                  </>
                )
                : MISSING}
            </td>
            <td class="num" data-sort={num(r.sparsity)}>{percent(r.sparsity)}</td>
            <td class="num" data-sort={num(r.pruneSeconds)}>{duration(r.pruneSeconds)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function spreadText(r: DecodeRow): string {
  const s = r.speedupSpread;
  if (!s) return "";
  const parts: string[] = [];
  if (s.std !== null) parts.push(`± ${fixed(s.std, 2)}`);
  if (s.min !== null && s.max !== null) parts.push(`[${fixed(s.min, 2)}–${fixed(s.max, 2)}]`);
  return parts.join(" ");
}

function DecodeTable({ rows, showSuite }: { rows: readonly DecodeRow[]; showSuite: boolean }) {
  return (
    <table id="decode-leaderboard" class="leaderboard sortable">
      <caption>
        Speculative decoding: mean accepted length τ (target token included, AR = 1), speedup over
        autoregressive decoding in the same process (± std and [min–max] over repeats), method
        throughput, and whether greedy output equals AR output token for token.
      </caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          {showSuite ? <th scope="col">Suite</th> : null}
          <th scope="col">Model</th>
          <th scope="col">Method</th>
          <th scope="col" data-type="number">Tree</th>
          <th scope="col" data-type="number">τ</th>
          <th scope="col" data-type="number">Speedup</th>
          <th scope="col" data-type="number">Tokens/s</th>
          <th scope="col">Lossless</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id} data-run-id={r.id} data-suite={r.suite}>
            <td>
              <a href={r.page}>{r.label}</a>
            </td>
            {showSuite ? <td>{r.suite}</td> : null}
            <td class="nowrap">{r.model}</td>
            <td>{r.acceptance === "greedy" ? r.method : `${r.method} (${r.acceptance})`}</td>
            <td data-sort={num(r.treeSize ?? 0)}>{r.tree}</td>
            <td class="num" data-sort={num(r.tau)}>{fixed(r.tau, 2)}</td>
            <td class="num" data-sort={num(r.speedup)}>
              {r.speedup === null ? MISSING : `${fixed(r.speedup, 2)}×`}{" "}
              <span class="ci">{spreadText(r)}</span>
            </td>
            <td class="num" data-sort={num(r.tokensPerSecond)}>{sig(r.tokensPerSecond, 4)}</td>
            <td class={r.lossless === false ? "bad" : undefined}>
              {r.lossless === null ? MISSING : r.lossless ? "yes" : "NO"}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The home page. */
export function HomePage(props: HomeProps): JSX.Element {
  const { prune, decode, sets, failed } = props;
  const showSuite = new Set([...prune, ...decode].map((r) => r.suite)).size > 1;
  return (
    <Layout title="Leaderboard" base="" active="home">
      <p class="lede">
        Pruning (SDS, SparseGPT, Wanda, magnitude) and speculative decoding (Amphista, Medusa,
        autoregressive) measured by one harness. {props.total} result file
        {props.total === 1 ? "" : "s"}
        {props.newest ? `, newest from ${props.newest.slice(0, 10)}` : ""}. Each run links to its
        page with the full spec, metrics, provenance and charts; see{" "}
        <a href="methodology.html">Methodology</a> for the protocols.
      </p>
      <section aria-labelledby="prune-h">
        <h2 id="prune-h">Pruning</h2>
        {prune.length > 0
          ? <PruneTable rows={prune} sets={sets} showSuite={showSuite} />
          : (
            <p class="empty" id="prune-empty">
              No pruning results yet. Run <code>deno task bench</code> to produce some.
            </p>
          )}
      </section>
      <section aria-labelledby="decode-h">
        <h2 id="decode-h">Speculative decoding</h2>
        {decode.length > 0
          ? <DecodeTable rows={decode} showSuite={showSuite} />
          : (
            <p class="empty" id="decode-empty">
              No decoding results yet. Run <code>deno task bench</code> with a decode spec.
            </p>
          )}
      </section>
      {failed.length > 0
        ? (
          <section aria-labelledby="failed-h">
            <h2 id="failed-h">Failed runs</h2>
            <table id="failed-runs" class="leaderboard">
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Suite</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {failed.map(({ result, page }) => (
                  <tr key={result.id} data-run-id={result.id}>
                    <td>
                      <a href={page}>{result.label}</a>
                    </td>
                    <td>{result.suite}</td>
                    <td>{result.kind}</td>
                    <td class="error">{result.error?.message ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        )
        : null}
    </Layout>
  );
}
