/**
 * Downloads: every result JSON (copied verbatim), all results in one file, and the spec's JSON
 * Schema.
 *
 * @module
 */

import type { JSX } from "preact";
import { bytes } from "../format.ts";
import type { SiteRun } from "../model.ts";
import { Layout } from "./layout.tsx";

/** A downloadable file. */
export interface DownloadFile {
  /** Site-relative path. */
  href: string;
  /** Size in bytes. */
  size: number;
}

/** Props of {@link DownloadsPage}. */
export interface DownloadsProps {
  /** Results and the sizes of their copies. */
  runs: readonly { run: SiteRun; size: number }[];
  /** All results in one JSON array. */
  bundle: DownloadFile;
  /** The spec JSON Schema, when the repository has one. */
  schema: DownloadFile | null;
}

/** The downloads page. */
export function DownloadsPage({ runs, bundle, schema }: DownloadsProps): JSX.Element {
  return (
    <Layout title="Downloads" base="" active="downloads">
      <ul>
        <li>
          <a href={bundle.href} download>All results</a> — one JSON array of every result file (
          {bytes(bundle.size)}).
        </li>
        {schema
          ? (
            <li>
              <a href={schema.href} download>Spec JSON Schema</a> — validates{" "}
              <code>bench/specs/*.json</code> ({bytes(schema.size)}).
            </li>
          )
          : null}
      </ul>
      <table id="downloads" class="leaderboard sortable">
        <caption>Result files, exactly as in reports/runs/</caption>
        <thead>
          <tr>
            <th scope="col">Suite</th>
            <th scope="col">Run</th>
            <th scope="col">Kind</th>
            <th scope="col">Status</th>
            <th scope="col">File</th>
            <th scope="col" data-type="number">Size</th>
          </tr>
        </thead>
        <tbody>
          {runs.map(({ run, size }) => (
            <tr key={run.download} data-run-id={run.result.id}>
              <td>{run.result.suite}</td>
              <td>
                <a href={run.page}>{run.result.label}</a>
              </td>
              <td>{run.result.kind}</td>
              <td>{run.result.status}</td>
              <td>
                <a href={run.download} download>
                  <code>{run.download.replace(/^data\/runs\//, "")}</code>
                </a>
              </td>
              <td class="num" data-sort={String(size)}>{bytes(size)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}
