/**
 * The page shell every page shares: head (local stylesheet, no fonts, no external requests),
 * navigation, footer, and the deferred progressive-enhancement script. Plus small shared
 * components (inline SVG charts, key/value tables).
 *
 * @module
 */

import type { ComponentChildren, JSX } from "preact";
import { leaf } from "../format.ts";

/** Top-level pages, for the navigation. */
export const NAV = [
  { id: "home", href: "index.html", title: "Leaderboard" },
  { id: "charts", href: "charts.html", title: "Charts" },
  { id: "methodology", href: "methodology.html", title: "Methodology" },
  { id: "downloads", href: "downloads.html", title: "Downloads" },
] as const;

/** Which navigation entry is current (`run` for run pages). */
export type NavId = typeof NAV[number]["id"] | "run";

/** Props of {@link Layout}. */
export interface LayoutProps {
  /** Page title (also the `<h1>`). */
  title: string;
  /** Prefix from this page to the site root (`""` or `"../../"`). */
  base: string;
  /** Current navigation entry. */
  active: NavId;
  /** Page content. */
  children: ComponentChildren;
}

/** The HTML document of a page (without the doctype; `renderPage` adds it). */
export function Layout({ title, base, active, children }: LayoutProps): JSX.Element {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta
          http-equiv="Content-Security-Policy"
          content="default-src 'self' data:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self'; connect-src 'none'"
        />
        <title>{`${title} · sparsespec`}</title>
        <link rel="stylesheet" href={`${base}assets/style.css`} />
        <script src={`${base}assets/sort.js`} defer />
      </head>
      <body>
        <header class="top">
          <a class="brand" href={`${base}index.html`}>sparsespec</a>
          <nav aria-label="Site">
            {NAV.map((n) => (
              <a
                key={n.id}
                href={`${base}${n.href}`}
                aria-current={n.id === active ? "page" : undefined}
              >
                {n.title}
              </a>
            ))}
          </nav>
        </header>
        <main>
          <h1>{title}</h1>
          {children}
        </main>
        <footer>
          Built from the result files in <code>reports/runs/</code> by <code>deno task site</code>.
          {" "}
          Static HTML and SVG; nothing on this site loads from anywhere else.
        </footer>
      </body>
    </html>
  );
}

/** An inline chart (SVG markup from `charts.ts`) with a caption. */
export function Chart(
  { svg, caption, id }: { svg: string; caption: ComponentChildren; id?: string },
): JSX.Element {
  return (
    <figure class="chart" id={id}>
      <div class="chart-svg" dangerouslySetInnerHTML={{ __html: svg }} />
      <figcaption>{caption}</figcaption>
    </figure>
  );
}

/** A two-column table of `[key, value]` pairs (values formatted with `leaf`). */
export function KeyValues(
  { rows, caption, id }: { rows: readonly [string, unknown][]; caption?: string; id?: string },
): JSX.Element {
  return (
    <table class="kv" id={id}>
      {caption ? <caption>{caption}</caption> : null}
      <tbody>
        {rows.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">
              <code>{k}</code>
            </th>
            <td>{leaf(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
