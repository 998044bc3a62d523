/// <reference lib="dom" />
/**
 * Opens the built site in headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core): leaderboard rows match the report files, sorting works, following a row's
 * link reaches its run page, every request stays on file://, the page reads with JavaScript off,
 * and a screenshot of the home page lands in `.cache/site_browser_test/home.png`.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { buildSite } from "../site/build.ts";
import { sitePathsOf } from "../site/model.ts";
import { failedFixture, fixtureResults, writeFixtureReports } from "../site/testing/fixtures.ts";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const SHOT_DIR = `${ROOT}/.cache/site_browser_test`;

function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const available = hasChromium();
if (!available) {
  console.warn(
    `site_browser_test: SKIPPED: ${CHROMIUM} not found (install it with ` +
      "`apt-get update && apt-get install -y chromium`; .ci/run does).",
  );
}

Deno.test({
  name: "browser: leaderboards match the reports, links lead to run pages, no remote requests",
  ignore: !available,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sparsespec-browser-" });
    const results = [...fixtureResults(), failedFixture()];
    await writeFixtureReports(`${dir}/reports`, results);
    const built = await buildSite({
      root: ROOT,
      reportsDir: `${dir}/reports`,
      outDir: `${dir}/site`,
      log: () => {},
    });
    assert.equal(built.exitCode, 0, built.errors.join("\n"));

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const requests: string[] = [];
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on("request", (r) => requests.push(r.url()));
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`file://${dir}/site/index.html`);

      // Rows against the files: one row per ok result, with the file's numbers.
      const pruneIds = await page.locator("#prune-leaderboard tbody tr").evaluateAll((rows) =>
        rows.map((r) => r.getAttribute("data-run-id"))
      );
      const decodeIds = await page.locator("#decode-leaderboard tbody tr").evaluateAll((rows) =>
        rows.map((r) => r.getAttribute("data-run-id"))
      );
      const ok = results.filter((r) => r.status === "ok");
      assert.deepEqual(
        [...pruneIds].sort(),
        ok.filter((r) => r.kind === "prune").map((r) => r.id).sort(),
      );
      assert.deepEqual(
        [...decodeIds].sort(),
        ok.filter((r) => r.kind === "decode").map((r) => r.id).sort(),
      );
      for (const r of ok.filter((r) => r.kind === "prune")) {
        const cell = page.locator(`#prune-leaderboard tr[data-run-id="${r.id}"] td`).nth(4);
        assert.ok(
          (await cell.innerText()).startsWith(r.metrics.ppl!["test-id"].ppl.toFixed(2)),
          r.label,
        );
      }
      for (const r of ok.filter((r) => r.kind === "decode")) {
        const cell = page.locator(`#decode-leaderboard tr[data-run-id="${r.id}"] td`).nth(4);
        assert.equal(await cell.innerText(), r.metrics.tau!.toFixed(2), r.label);
      }

      // Progressive enhancement: a click on "ppl test-id" sorts ascending, again descending.
      const header = page.locator("#prune-leaderboard thead th").nth(4);
      await header.locator("button").click();
      const column = () =>
        page.locator("#prune-leaderboard tbody tr td:nth-child(5)").evaluateAll((cells) =>
          cells.map((c) => Number.parseFloat(c.getAttribute("data-sort") ?? "NaN"))
        );
      const ascending = await column();
      assert.deepEqual(ascending, [...ascending].sort((a, b) => a - b));
      assert.equal(await header.getAttribute("aria-sort"), "ascending");
      await header.locator("button").click();
      const descending = await column();
      assert.deepEqual(descending, [...ascending].reverse());

      await Deno.mkdir(SHOT_DIR, { recursive: true });
      await page.reload();
      await page.screenshot({ path: `${SHOT_DIR}/home.png`, fullPage: true });
      assert.ok(Deno.statSync(`${SHOT_DIR}/home.png`).size > 10_000);

      // Follow a row's link to its run page.
      const target = ok.find((r) => r.label === "sds(sparsegpt)-50%")!;
      await page.locator(`#prune-leaderboard tr[data-run-id="${target.id}"] a`).click();
      await page.waitForURL(`**/${sitePathsOf(target).page}`);
      assert.equal(await page.locator("h1").innerText(), target.label);
      assert.match(await page.locator("#run-facts").innerText(), /sds\(sparsegpt\)/);
      assert.ok(await page.locator("#run-charts figure svg").count() >= 1);
      // The stylesheet applied (a local file): the header bar has its dark background.
      const background = await page.locator("header.top").evaluate((el) =>
        getComputedStyle(el).backgroundColor
      );
      assert.equal(background, "rgb(32, 41, 58)");

      for (const url of requests) assert.match(url, /^file:\/\//, `request left the page: ${url}`);
      assert.deepEqual(errors, []);

      // With JavaScript off the leaderboard is all there (just not sortable).
      const context = await browser.newContext({ javaScriptEnabled: false });
      const plain = await context.newPage();
      await plain.goto(`file://${dir}/site/index.html`);
      assert.equal(await plain.locator("#prune-leaderboard tbody tr").count(), 9);
      assert.equal(await plain.locator("#decode-leaderboard tbody tr").count(), 5);
      assert.equal(await plain.locator("th button.sort").count(), 0);
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
