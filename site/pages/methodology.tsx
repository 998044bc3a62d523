/**
 * The methodology page: the measurement protocols, the settings the results actually recorded,
 * which zero-shot tasks are "-style" derivatives, every parameter choice the runs recorded (with
 * its schema description and default), and the machines the numbers come from.
 *
 * @module
 */

import type { JSX } from "preact";
import { Layout } from "./layout.tsx";

/** One distinct combination of recorded settings and how many runs used it. */
export interface SettingsRow {
  /** Column values, in the order of the table's headers. */
  cells: string[];
  /** Runs with these settings. */
  runs: number;
}

/** A zero-shot task the results mention. */
export interface TaskRow {
  /** Task name. */
  name: string;
  /** Registry description (says "-style" for derivatives), or a note for user task files. */
  description: string;
  /** Whether it is a "-style" derivative of a published benchmark. */
  styleDerivative: boolean;
  /** Items scored (distinct values across runs). */
  items: string;
}

/** A recorded parameter with its schema facts. */
export interface ChoiceRow {
  /** Method, drafter or settings group. */
  owner: string;
  /** Parameter path. */
  name: string;
  /** Values used, each with its run count. */
  values: { value: string; runs: number }[];
  /** Schema description. */
  description: string | null;
  /** Schema default (JSON text). */
  default: string | null;
}

/** Props of {@link MethodologyPage}. */
export interface MethodologyProps {
  /** Perplexity settings: suite, set, seqlen, windows, tokens. */
  ppl: readonly SettingsRow[];
  /** Decode settings: suite, prompts, max new tokens, repeats, warm-up, acceptance. */
  decode: readonly SettingsRow[];
  /** Zero-shot tasks. */
  tasks: readonly TaskRow[];
  /** Parameter choices. */
  choices: readonly ChoiceRow[];
  /** Environments: provider, reason, adapter, CPU, threads, Deno, onnxruntime-web. */
  environments: readonly SettingsRow[];
}

function SettingsTable(
  { id, headers, rows, empty }: {
    id: string;
    headers: readonly string[];
    rows: readonly SettingsRow[];
    empty: string;
  },
) {
  if (rows.length === 0) return <p class="empty">{empty}</p>;
  return (
    <table id={id} class="leaderboard">
      <thead>
        <tr>
          {headers.map((h) => <th key={h} scope="col">{h}</th>)}
          <th scope="col">Runs</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.cells.join("\u0000")}>
            {r.cells.map((c, i) => <td key={i}>{c}</td>)}
            <td class="num">{r.runs}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The methodology page. */
export function MethodologyPage(props: MethodologyProps): JSX.Element {
  return (
    <Layout title="Methodology" base="" active="methodology">
      <section aria-labelledby="ppl-h">
        <h2 id="ppl-h">Perplexity</h2>
        <p>
          The SparseGPT/Wanda protocol: the test documents are joined with <code>"\n\n"</code>{" "}
          and tokenized as one stream, cut into non-overlapping windows of <code>seqlen</code>{" "}
          tokens (the tail that does not fill a window is dropped), each window is scored on its
          own, and ppl = exp(mean token NLL). The Δ column of the leaderboard is the relative change
          against the dense model of the same suite at the same <code>seqlen</code>.
        </p>
        <SettingsTable
          id="ppl-settings"
          headers={["Suite", "Set", "seqlen", "Windows", "Tokens"]}
          rows={props.ppl}
          empty="No perplexity results yet."
        />
      </section>
      <section aria-labelledby="zs-h">
        <h2 id="zs-h">Zero-shot tasks</h2>
        <p>
          lm-eval-harness-style log-likelihood multiple choice: <code>acc</code>{" "}
          picks the choice with the highest summed log-probability, <code>acc_norm</code>{" "}
          normalises by length; both with 95% Wilson intervals. The leaderboard's average is the
          mean <code>acc</code>{" "}
          over tasks; its interval combines the per-task standard errors read back from their
          intervals (normal approximation, √Σse²/k). Tasks built here from held-out text are named
          "…-style" and are not the original benchmarks.
        </p>
        {props.tasks.length === 0
          ? <p class="empty">No zero-shot results yet.</p>
          : (
            <table id="tasks" class="leaderboard">
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Derivative?</th>
                  <th scope="col">Items</th>
                  <th scope="col">What it is</th>
                </tr>
              </thead>
              <tbody>
                {props.tasks.map((t) => (
                  <tr key={t.name} data-task={t.name}>
                    <th scope="row">
                      <code>{t.name}</code>
                    </th>
                    <td>{t.styleDerivative ? '"-style" derivative' : "—"}</td>
                    <td class="num">{t.items}</td>
                    <td>{t.description}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>
      <section aria-labelledby="dec-h">
        <h2 id="dec-h">Speculative decoding</h2>
        <p>
          Spec-Bench conventions: greedy decoding at batch size 1, warm-up runs, then timed repeats.
          τ (mean accepted length) counts the target model's own token, so autoregressive decoding
          has τ = 1.00. Speedup is the mean per-prompt tokens/s of the method divided by that of
          autoregressive decoding on the same runtime in the same process. Greedy speculative output
          must equal autoregressive output token for token ("lossless"); a run that breaks this says
          so, with the first divergence in its result.
        </p>
        <SettingsTable
          id="decode-settings"
          headers={["Suite", "Prompts", "Max new tokens", "Prompt limit", "Repeats", "Warm-up"]}
          rows={props.decode}
          empty="No decoding results yet."
        />
      </section>
      <section aria-labelledby="choices-h">
        <h2 id="choices-h">Choices where the papers are silent</h2>
        <p>
          Every parameter value the results recorded in their normalised spec (not retyped here),
          with how many runs used it, and the default and meaning the spec schema gives it. Where a
          paper does not publish a setting (SDS's optimiser, λ normalisation and mask rule;
          Amphista's layer counts), the default is this project's reading, and the ablation specs
          vary it.
        </p>
        {props.choices.length === 0
          ? <p class="empty">No parameters recorded yet.</p>
          : (
            <table id="choices" class="leaderboard">
              <thead>
                <tr>
                  <th scope="col">Method</th>
                  <th scope="col">Parameter</th>
                  <th scope="col">Values used (runs)</th>
                  <th scope="col">Default</th>
                  <th scope="col">Meaning</th>
                </tr>
              </thead>
              <tbody>
                {props.choices.map((c) => (
                  <tr key={`${c.owner}\u0000${c.name}`} data-param={`${c.owner}.${c.name}`}>
                    <td>{c.owner}</td>
                    <td>
                      <code>{c.name}</code>
                    </td>
                    <td>
                      {c.values.map((v, i) => (
                        <span key={v.value}>
                          {i > 0 ? ", " : ""}
                          <code
                            class={c.default !== null && c.default !== v.value
                              ? "changed"
                              : undefined}
                          >
                            {v.value}
                          </code>{" "}
                          ({v.runs})
                        </span>
                      ))}
                    </td>
                    <td>{c.default === null ? "—" : <code>{c.default}</code>}</td>
                    <td>{c.description ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      </section>
      <section aria-labelledby="env-h">
        <h2 id="env-h">Where the numbers come from</h2>
        <p>
          Execution provider actually used, and the machine, as recorded in each result's
          provenance. A fallback (software) GPU adapter means speed numbers say nothing about real
          GPUs.
        </p>
        <SettingsTable
          id="environments"
          headers={["Provider", "Why", "GPU adapter", "CPU", "Threads", "Deno", "onnxruntime-web"]}
          rows={props.environments}
          empty="No results yet."
        />
      </section>
    </Layout>
  );
}
