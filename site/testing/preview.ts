/**
 * Builds a preview of the site from the fixture results (no real results needed):
 * `bin/deno run -A site/testing/preview.ts [outDir]` (default `_site/preview`).
 *
 * @module
 */

import { buildSite } from "../build.ts";
import { failedFixture, fixtureResults, writeFixtureReports } from "./fixtures.ts";

if (import.meta.main) {
  const root = decodeURIComponent(new URL("../..", import.meta.url).pathname).replace(/\/$/, "");
  const outDir = Deno.args[0] ?? `${root}/_site/preview`;
  const reports = await Deno.makeTempDir({ prefix: "sparsespec-fixtures-" });
  try {
    await writeFixtureReports(reports, [...fixtureResults(), failedFixture()]);
    const { exitCode } = await buildSite({ root, reportsDir: reports, outDir });
    Deno.exit(exitCode);
  } finally {
    await Deno.remove(reports, { recursive: true });
  }
}
