import assert from "node:assert/strict";
import { parseHTML } from "linkedom";
import { buildSite, SITE_MARKER } from "../site/build.ts";
import { parseCurve } from "../site/curves.ts";
import {
  findRunCharts,
  histogramOf,
  pruneRows,
  sitePathsOf,
  type SiteRun,
  treeLabel,
  zeroshotAverage,
} from "../site/model.ts";
import { failedFixture, fixtureResults, writeFixtureReports } from "../site/testing/fixtures.ts";
import { main } from "../src/cli.ts";
import type { RunResult } from "../src/results/schema.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

interface Built {
  dir: string;
  reports: string;
  out: string;
  files: string[];
  results: RunResult[];
  log: string[];
  exitCode: number;
  errors: string[];
}

/** Writes fixture reports into a fresh temp dir and builds the site from them. */
async function build(
  options: { results?: RunResult[]; root?: string; extra?: (reports: string) => Promise<void> } =
    {},
): Promise<Built> {
  const dir = await Deno.makeTempDir({ prefix: "sparsespec-site-" });
  const reports = `${dir}/reports`;
  const out = `${dir}/_site`;
  const results = options.results ?? [...fixtureResults(), failedFixture()];
  const files = await writeFixtureReports(reports, results);
  await options.extra?.(reports);
  const log: string[] = [];
  const built = await buildSite({
    root: options.root ?? ROOT,
    reportsDir: reports,
    outDir: out,
    log: (m) => log.push(m),
  });
  return { dir, reports, out, files, results, log, exitCode: built.exitCode, errors: built.errors };
}

async function page(out: string, rel: string) {
  return parseHTML(await Deno.readTextFile(`${out}/${rel}`)).document;
}

async function allFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory) out.push(...await allFiles(`${dir}/${e.name}`, `${rel}/`));
    else out.push(rel);
  }
  return out.sort();
}

Deno.test("site: builds every page from the reports, leaderboards match the files", async () => {
  const b = await build();
  try {
    assert.equal(b.exitCode, 0, b.log.join("\n"));
    const files = await allFiles(b.out);
    for (const f of ["index.html", "charts.html", "methodology.html", "downloads.html"]) {
      assert.ok(files.includes(f), f);
    }
    assert.ok(files.includes("assets/style.css") && files.includes("assets/sort.js"));
    for (const r of b.results) assert.ok(files.includes(sitePathsOf(r).page), r.label);

    const home = await page(b.out, "index.html");
    const ids = (sel: string) =>
      [...home.querySelectorAll(`${sel} tbody tr`)].map((tr) => tr.getAttribute("data-run-id"));
    const ok = b.results.filter((r) => r.status === "ok");
    assert.deepEqual(
      ids("#prune-leaderboard").sort(),
      ok.filter((r) => r.kind === "prune").map((r) => r.id).sort(),
    );
    assert.deepEqual(
      ids("#decode-leaderboard").sort(),
      ok.filter((r) => r.kind === "decode").map((r) => r.id).sort(),
    );
    assert.deepEqual(ids("#failed-runs"), ["f".repeat(16)]);

    // A row shows the numbers of its file: ppl per set with Δ vs dense, 0-shot avg, sparsity.
    const sds = b.results.find((r) => r.label === "sds(sparsegpt)-50%")!;
    const row = home.querySelector(`#prune-leaderboard tr[data-run-id="${sds.id}"]`)!;
    const cells = [...row.querySelectorAll("td")].map((td) => td.textContent!.trim());
    assert.equal(cells[0], "sds(sparsegpt)-50%");
    assert.equal(cells[2], "sds(sparsegpt)");
    assert.equal(cells[3], "50%");
    assert.equal(cells[4], `${sds.metrics.ppl!["test-id"].ppl.toFixed(2)} (+14.0%)`);
    assert.match(cells[6], /^\d+\.\d% \[\d+\.\d%, \d+\.\d%\]$/);
    assert.equal(cells[7], "50.0%");
    assert.equal(cells[8], "1 min 36 s");
    assert.equal(row.querySelector("a")!.getAttribute("href"), sitePathsOf(sds).page);

    const amph = b.results.find((r) => r.label === "amphista-chain3")!;
    const drow = home.querySelector(`#decode-leaderboard tr[data-run-id="${amph.id}"]`)!;
    const dcells = [...drow.querySelectorAll("td")].map((td) => td.textContent!.trim());
    assert.equal(dcells[3], "chain 3");
    assert.equal(dcells[4], amph.metrics.tau!.toFixed(2));
    assert.match(dcells[5], new RegExp(`^${amph.metrics.speedup!.toFixed(2)}× ± 0\\.\\d\\d \\[`));
    assert.equal(dcells[7], "yes");
    assert.match(
      b.log.at(-1)!,
      /site: \d+ pages from 15 result files \(9 pruning, 5 decoding rows\)/,
    );
  } finally {
    await Deno.remove(b.dir, { recursive: true });
  }
});

Deno.test("site: run pages show spec, metrics, provenance and the charts found", async () => {
  const b = await build();
  try {
    const sds = b.results.find((r) => r.label === "sds(sparsegpt)-2:4")!;
    const doc = await page(b.out, sitePathsOf(sds).page);
    assert.equal(doc.querySelector("h1")!.textContent, "sds(sparsegpt)-2:4");
    const spec = doc.querySelector("#run-spec")!.textContent!;
    assert.match(spec, /params\.lambda1\s*0\.001/);
    assert.match(doc.querySelector("#run-provenance")!.textContent!, /executionProvider\s*wasm/);
    assert.ok(doc.querySelector("#ppl-table") && doc.querySelector("#zeroshot-table"));
    const captions = [...doc.querySelectorAll("#run-charts figcaption")].map((c) => c.textContent!);
    assert.equal(captions.length, 1);
    assert.match(captions[0], /Weight histograms: weightHistograms/);
    assert.equal(doc.querySelectorAll("#run-charts svg").length >= 1, true);
    // Links back to the site root and to the JSON are relative.
    assert.equal(
      doc.querySelector("a[download]")!.getAttribute("href"),
      `../../${sitePathsOf(sds).download}`,
    );

    const medusa = b.results.find((r) => r.label === "medusa-tree16")!;
    const dec = await page(b.out, sitePathsOf(medusa).page);
    const kinds = [...dec.querySelectorAll("#run-charts figcaption")].map((c) => c.textContent!);
    assert.equal(kinds.length, 3);
    assert.match(kinds.join("|"), /Acceptance rate per draft depth.*Accepted length.*Per-category/);
    // Charted arrays are not repeated in "Other metrics"; scalars are.
    const other = dec.querySelector("#other-metrics")!.textContent!;
    assert.match(other, /overhead/);
    assert.doesNotMatch(other, /perDepthAcceptance/);

    const failed = await page(b.out, sitePathsOf(failedFixture()).page);
    assert.match(failed.querySelector("#run-error")!.textContent!, /Cholesky failed/);
  } finally {
    await Deno.remove(b.dir, { recursive: true });
  }
});

Deno.test("site: nothing is loaded from another origin", async () => {
  const b = await build();
  try {
    for (const f of await allFiles(b.out)) {
      if (!/\.(html|css|js)$/.test(f)) continue;
      const text = await Deno.readTextFile(`${b.out}/${f}`);
      const refs = [
        ...text.matchAll(/\b(?:src|href|action|poster|srcset)\s*=\s*["']?([^"'\s>]+)/gi),
      ].map((m) => m[1]);
      refs.push(...[...text.matchAll(/url\(\s*["']?([^"')]+)/gi)].map((m) => m[1]));
      refs.push(...[...text.matchAll(/@import\s+["']?([^"';\s]+)/gi)].map((m) => m[1]));
      for (const ref of refs) {
        assert.doesNotMatch(ref, /^(?:[a-z]+:)?\/\//i, `${f} references ${ref}`);
      }
      assert.doesNotMatch(text, /fonts\.googleapis|cdn\.|unpkg|jsdelivr/i, f);
    }
  } finally {
    await Deno.remove(b.dir, { recursive: true });
  }
});

Deno.test("site: downloads are the report files byte for byte, plus the bundle and schema", async () => {
  const b = await build();
  try {
    for (const [i, r] of b.results.entries()) {
      const copy = await Deno.readTextFile(`${b.out}/${sitePathsOf(r).download}`);
      assert.equal(copy, await Deno.readTextFile(b.files[i]));
    }
    const bundle = JSON.parse(await Deno.readTextFile(`${b.out}/data/results.json`));
    assert.equal(bundle.length, b.results.length);
    assert.equal(
      await Deno.readTextFile(`${b.out}/data/spec.schema.json`),
      await Deno.readTextFile(`${ROOT}/reports/schema/spec.schema.json`),
    );
    const doc = await page(b.out, "downloads.html");
    assert.equal(doc.querySelectorAll("#downloads tbody tr").length, b.results.length);
  } finally {
    await Deno.remove(b.dir, { recursive: true });
  }
});

Deno.test("site: methodology lists recorded choices, '-style' tasks and environments", async () => {
  const results = fixtureResults();
  const sds = results.find((r) => r.label === "sds(sparsegpt)-50%")!;
  (sds.spec as { params: Record<string, unknown> }).params.lambda1 = 0.05;
  const b = await build({ results });
  try {
    const doc = await page(b.out, "methodology.html");
    const lambda = doc.querySelector('#choices tr[data-param="sds.lambda1"]')!;
    const text = lambda.textContent!;
    assert.match(text, /0\.05 \(1\)/);
    assert.match(text, /0\.001 \(1\)/);
    assert.match(text, /L1 regulariser weight\./);
    assert.equal(lambda.querySelectorAll("code.changed").length, 1);
    const damp = doc.querySelector('#choices tr[data-param="sds.baseParams.damp"]')!;
    assert.match(damp.textContent!, /Relative Hessian dampening/);
    const task = doc.querySelector('#tasks tr[data-task="nextsent4"]')!.textContent!;
    assert.match(task, /"-style" derivative/);
    assert.match(task, /HellaSwag-style/);
    assert.match(doc.querySelector("#ppl-settings")!.textContent!, /test-ood\s*256\s*61/);
    assert.match(doc.querySelector("#environments")!.textContent!, /llvmpipe.*\(fallback\)/);
  } finally {
    await Deno.remove(b.dir, { recursive: true });
  }
});

Deno.test("site: training curves are drawn when present and reported missing otherwise", async () => {
  const root = await Deno.makeTempDir({ prefix: "sparsespec-site-root-" });
  try {
    const none = await build({ root });
    try {
      assert.equal(none.exitCode, 0);
      const doc = await page(none.out, "charts.html");
      assert.match(
        doc.querySelector("#train-h")!.parentElement!.textContent!,
        /No training curves found yet/,
      );
      assert.match(doc.body.textContent!, /bench\/models\/sparsespec-tiny\/loss_curve\.json/);
      assert.ok(none.log.some((l) => /spec\.schema\.json not found/.test(l)));
    } finally {
      await Deno.remove(none.dir, { recursive: true });
    }

    const model = `${root}/bench/models/sparsespec-tiny`;
    await Deno.mkdir(`${model}/medusa`, { recursive: true });
    const curve = [0, 100, 200, 300].map((step, i) => ({
      step,
      tokens: step * 4096,
      trainLoss: 6 - i,
      ...(i % 2 === 1 ? { valLoss: 6.2 - i } : {}),
      lr: 1e-3,
      seconds: step / 10,
    }));
    await Deno.writeTextFile(`${model}/loss_curve.json`, JSON.stringify(curve));
    await Deno.writeTextFile(
      `${model}/medusa/loss_curve.json`,
      JSON.stringify([{ step: 1, headLoss: [3, 4] }, { step: 2, headLoss: [2.5, 3.5] }]),
    );
    const some = await build({ root });
    try {
      const doc = await page(some.out, "charts.html");
      const captions = [...doc.querySelectorAll('figure[id^="curve-"] figcaption')].map((c) =>
        c.textContent
      );
      assert.deepEqual(captions, [
        "sparsespec-tiny: 4 logged steps (bench/models/sparsespec-tiny/loss_curve.json)",
        "sparsespec-tiny / medusa: 2 logged steps (bench/models/sparsespec-tiny/medusa/loss_curve.json)",
      ]);
      const figures = [...doc.querySelectorAll('figure[id^="curve-"]')];
      assert.equal(figures.filter((f) => f.querySelector("svg") !== null).length, 2);
      // Train and validation series share the model's chart (a legend names them).
      assert.match(figures[0].textContent!, /trainLoss.*valLoss/s);
      assert.doesNotMatch(doc.body.textContent!, /Not found/);
    } finally {
      await Deno.remove(some.dir, { recursive: true });
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("site: a broken or schema-invalid report fails the build with file and field", async () => {
  let victim = "";
  const bad = await build({
    extra: async (reports) => {
      victim = `${reports}/fixture/${fixtureResults()[1].id}.json`;
      const r = JSON.parse(await Deno.readTextFile(victim));
      r.metrics.ppl["test-id"].ppl = -3;
      await Deno.writeTextFile(victim, JSON.stringify(r));
    },
  });
  try {
    assert.equal(bad.exitCode, 2);
    assert.equal(bad.errors.length, 1);
    assert.ok(bad.errors[0].includes(`${victim}: metrics.ppl["test-id"].ppl: `), bad.errors[0]);
    await assert.rejects(Deno.stat(bad.out), Deno.errors.NotFound);
  } finally {
    await Deno.remove(bad.dir, { recursive: true });
  }

  const broken = await build({
    extra: async (reports) => {
      victim = `${reports}/fixture/${fixtureResults()[2].id}.json`;
      await Deno.writeTextFile(victim, '{"id": "x",');
    },
  });
  try {
    assert.equal(broken.exitCode, 2);
    assert.ok(broken.errors[0].startsWith(`site: ${victim}: `), broken.errors[0]);
    assert.match(broken.errors[0], /line 1/);
  } finally {
    await Deno.remove(broken.dir, { recursive: true });
  }
});

Deno.test("site: no reports yet still builds; a foreign output folder is never deleted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparsespec-site-empty-" });
  try {
    const log: string[] = [];
    const built = await buildSite({
      root: ROOT,
      reportsDir: `${dir}/nothing`,
      outDir: `${dir}/out`,
      log: (m) => log.push(m),
    });
    assert.equal(built.exitCode, 0);
    const home = await page(`${dir}/out`, "index.html");
    assert.ok(home.querySelector("#prune-empty") && home.querySelector("#decode-empty"));
    assert.ok(await Deno.stat(`${dir}/out/${SITE_MARKER}`));

    await Deno.mkdir(`${dir}/precious`);
    await Deno.writeTextFile(`${dir}/precious/keep.txt`, "mine");
    const refused = await buildSite({
      root: ROOT,
      reportsDir: `${dir}/nothing`,
      outDir: `${dir}/precious`,
      log: () => {},
    });
    assert.equal(refused.exitCode, 1);
    assert.match(refused.errors[0], /refusing to delete it/);
    assert.equal(await Deno.readTextFile(`${dir}/precious/keep.txt`), "mine");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("site: `sparsespec site` builds through the CLI", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparsespec-site-cli-" });
  try {
    await writeFixtureReports(`${dir}/reports`);
    let err = "";
    const code = await main(["site", "--reports", `${dir}/reports`, "--out", `${dir}/out`], {
      stdout: () => {},
      stderr: (t) => void (err += t),
    });
    assert.equal(code, 0, err);
    assert.match(err, /site: \d+ pages from 14 result files/);
    assert.ok(await Deno.stat(`${dir}/out/index.html`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model: zero-shot average and its combined interval", () => {
  const avg = zeroshotAverage({
    a: { acc: 0.5, acc_ci: [0.4, 0.6] },
    b: { acc: 0.7, acc_ci: [0.6, 0.8] },
  })!;
  assert.equal(avg.tasks, 2);
  assert.ok(Math.abs(avg.mean - 0.6) < 1e-12);
  // Each se = 0.1 / 1.96; the mean's se = sqrt(2)·se / 2, so the half-width is 0.1 / sqrt(2).
  assert.ok(Math.abs(avg.hi - avg.mean - 0.1 / Math.SQRT2) < 1e-9);
  assert.ok(Math.abs(avg.mean - avg.lo - 0.1 / Math.SQRT2) < 1e-9);
  assert.equal(zeroshotAverage({}), null);
});

Deno.test("model: histograms and curves are read in their documented shapes", () => {
  assert.deepEqual(histogramOf({ edges: [0, 1, 2], counts: [3, 4] }), {
    edges: [0, 1, 2],
    counts: [3, 4],
  });
  assert.deepEqual(histogramOf({ centers: [0.5, 1.5], counts: [3, 4] })!.edges, [0, 1, 2]);
  assert.deepEqual(histogramOf({ min: 0, max: 2, counts: [3, 4] })!.edges, [0, 1, 2]);
  assert.equal(histogramOf({ edges: [0, 1], counts: [3, 4] }), null);
  assert.equal(histogramOf([1, 2]), null);

  assert.deepEqual(parseCurve([{ step: 5, trainLoss: 2, lr: 1 }, { step: 6, valLoss: 3 }]), [
    { step: 5, series: "trainLoss", value: 2 },
    { step: 6, series: "valLoss", value: 3 },
  ]);
  assert.deepEqual(parseCurve({ points: [{ step: 1, loss: 4 }] }), [
    { step: 1, series: "loss", value: 4 },
  ]);
  assert.ok("error" in (parseCurve({ nope: 1 }) as object));

  assert.equal(treeLabel(null), "—");
  assert.equal(treeLabel({ type: "chain", depth: 4 }), "chain 4");
  assert.equal(treeLabel({ type: "paths", paths: [[0], [1], [0, 0]] }), "paths 3");
});

Deno.test("model: rows compare with the dense run; charts are found by shape", () => {
  const results = fixtureResults();
  const runs: SiteRun[] = results.map((result) => ({ file: "x", result, ...sitePathsOf(result) }));
  const rows = pruneRows(runs);
  assert.equal(rows[0].method, "dense");
  const wanda = rows.find((r) => r.label === "wanda-50%")!;
  const dense = results.find((r) => r.label === "dense")!;
  assert.ok(
    Math.abs(
      wanda.deltaVsDense["test-ood"] -
        (wanda.ppl["test-ood"] / dense.metrics.ppl!["test-ood"].ppl - 1),
    ) < 1e-12,
  );
  const medusa = results.find((r) => r.label === "medusa-chain3")!;
  assert.deepEqual(findRunCharts(medusa).map((c) => [c.kind, c.path]), [
    ["depthAcceptance", "metrics.perDepthAcceptance"],
    ["acceptLength", "metrics.acceptLengthHistogram"],
    ["categories", "metrics.perCategory"],
  ]);
  assert.deepEqual(findRunCharts(dense), []);
});
