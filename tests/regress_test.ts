import assert from "node:assert/strict";
import { main } from "../src/cli.ts";
import type { ExecutorLoad } from "../src/executors.ts";
import type { Executor } from "../src/results/executor.ts";
import type { HostProvenance } from "../src/results/provenance.ts";
import type { RunResult } from "../src/results/schema.ts";
import { ResultFileError } from "../src/results/store.ts";
import {
  type BaselineEntry,
  readBaseline,
  toBaselineEntry,
  writeBaseline,
} from "../src/regress/baseline.ts";
import { checkAgainstBaseline, formatGateReport, type Tolerances } from "../src/regress/gate.ts";
import { runRegress } from "../src/regress.ts";
import { Suite } from "../src/spec/schema.ts";
import { fixtureResults, writeFixtureReports } from "../site/testing/fixtures.ts";

/** The tolerances a suite gets when its spec says nothing (pplRel 0.5%, τ 2%, speedup 10%). */
const DEFAULTS: Tolerances = Suite.parse({ name: "t" }).regress;

const RESULTS = fixtureResults();
const BASELINE = RESULTS.map(toBaselineEntry);
const byLabel = (label: string) => RESULTS.find((r) => r.label === label)!;

/** A deep copy of the fixture results with one result changed. */
function worsened(label: string, change: (r: RunResult) => void): RunResult[] {
  return RESULTS.map((r) => {
    const copy = structuredClone(r);
    if (r.label === label) change(copy);
    return copy;
  });
}

function gate(candidates: RunResult[], tolerances: Tolerances = DEFAULTS) {
  return checkAgainstBaseline({ baseline: BASELINE, candidates, tolerances });
}

function failedMetrics(candidates: RunResult[], tolerances?: Tolerances): string[] {
  return gate(candidates, tolerances).failures.map((f) => `${f.run} ${f.metric}`);
}

Deno.test("the tolerances the gate uses by default are the spec's defaults", () => {
  assert.equal(DEFAULTS.pplRel, 0.005);
  assert.equal(DEFAULTS.tauRel, 0.02);
  assert.equal(DEFAULTS.speedupRel, 0.10);
});

Deno.test("equal results pass, and every gated metric is checked", () => {
  const report = gate(structuredClone(RESULTS));
  assert.equal(report.passed, true);
  assert.deepEqual(report.failures, []);
  const metrics = new Set(report.rows.map((r) => r.metric));
  for (const m of ["ppl[test-id]", "ppl[test-ood]", "zeroshot[lastword].acc", "tau", "speedup"]) {
    assert.ok(metrics.has(m), `missing check ${m}`);
  }
  assert.ok(metrics.has("lossless"));
  assert.match(formatGateReport(report, "fixture"), /regress: PASS: suite "fixture", \d+ checks/);
});

Deno.test("perplexity: +0.4% passes, +0.6% fails (relative, tolerance 0.5%)", () => {
  const base = byLabel("sparsegpt-50%").metrics.ppl!["test-id"].ppl;
  const bump = (f: number) =>
    worsened("sparsegpt-50%", (r) => void (r.metrics.ppl!["test-id"].ppl = base * f));
  assert.deepEqual(failedMetrics(bump(1.004)), []);
  assert.deepEqual(failedMetrics(bump(1.006)), ["sparsegpt-50% ppl[test-id]"]);
  // A lower perplexity is an improvement, never a failure.
  assert.deepEqual(failedMetrics(bump(0.8)), []);
  // Tolerances come from the spec: 1% allows +0.6%.
  assert.deepEqual(failedMetrics(bump(1.006), { ...DEFAULTS, pplRel: 0.01 }), []);
});

Deno.test("zero-shot: an accuracy below its baseline interval fails; inside it passes", () => {
  const task = byLabel("wanda-50%").metrics.zeroshot!.nextsent4;
  const set = (acc: number) =>
    worsened("wanda-50%", (r) => void (r.metrics.zeroshot!.nextsent4.acc = acc));
  assert.deepEqual(failedMetrics(set(task.acc_ci[0])), []);
  assert.deepEqual(failedMetrics(set((task.acc + task.acc_ci[0]) / 2)), []);
  assert.deepEqual(failedMetrics(set(task.acc_ci[0] - 0.001)), [
    "wanda-50% zeroshot[nextsent4].acc",
  ]);
  const norm = worsened("wanda-50%", (r) => {
    r.metrics.zeroshot!.nextsent4.acc_norm = task.acc_norm_ci[0] - 0.01;
  });
  assert.deepEqual(failedMetrics(norm), ["wanda-50% zeroshot[nextsent4].acc_norm"]);
});

Deno.test("tau: −1.9% passes, −2.1% fails", () => {
  const tau = byLabel("medusa-tree16").metrics.tau!;
  const set = (f: number) => worsened("medusa-tree16", (r) => void (r.metrics.tau = tau * f));
  assert.deepEqual(failedMetrics(set(0.981)), []);
  assert.deepEqual(failedMetrics(set(0.979)), ["medusa-tree16 tau"]);
  assert.deepEqual(failedMetrics(set(1.5)), []);
});

Deno.test("speedup: −9% passes, −11% fails", () => {
  const s = byLabel("amphista-chain3").metrics.speedup!;
  const set = (f: number) => worsened("amphista-chain3", (r) => void (r.metrics.speedup = s * f));
  assert.deepEqual(failedMetrics(set(0.91)), []);
  assert.deepEqual(failedMetrics(set(0.89)), ["amphista-chain3 speedup"]);
});

Deno.test("lossless turning false fails", () => {
  const bad = worsened("amphista-tree16", (r) => void (r.metrics.lossless = false));
  assert.deepEqual(failedMetrics(bad), ["amphista-tree16 lossless"]);
  const gone = worsened("amphista-tree16", (r) => void delete r.metrics.lossless);
  assert.deepEqual(failedMetrics(gone), ["amphista-tree16 lossless"]);
});

Deno.test("a missing run, a failed run or a missing metric fails; a new run does not", () => {
  const without = RESULTS.filter((r) => r.label !== "dense");
  assert.deepEqual(failedMetrics(without), ["dense run"]);

  const failed = worsened("wanda-2:4", (r) => {
    r.status = "failed";
    r.error = { message: "out of memory" };
    r.metrics = {};
  });
  const report = gate(failed);
  assert.deepEqual(report.failures.map((f) => `${f.run} ${f.metric}`), ["wanda-2:4 status"]);
  assert.equal(report.failures[0].candidate, "failed");
  assert.match(formatGateReport(report, "fixture"), /^wanda-2:4: out of memory$/m);

  const noSet = worsened("dense", (r) => void delete r.metrics.ppl!["test-ood"]);
  assert.deepEqual(failedMetrics(noSet), ["dense ppl[test-ood]"]);

  const broken = {
    ...structuredClone(RESULTS[0]),
    id: "1".repeat(16),
    label: "new-and-broken",
    status: "failed" as const,
    error: { message: "boom" },
    metrics: {},
  };
  assert.deepEqual(failedMetrics([...structuredClone(RESULTS), broken]), ["new-and-broken status"]);

  const extra = [...structuredClone(RESULTS), {
    ...structuredClone(RESULTS[0]),
    id: "0".repeat(16),
    label: "brand-new",
  }];
  const withNew = gate(extra);
  assert.equal(withNew.passed, true);
  assert.deepEqual(withNew.rows.filter((r) => r.verdict === "new").map((r) => r.run), [
    "brand-new",
  ]);
  assert.match(
    formatGateReport(withNew, "fixture"),
    /new runs without a baseline \(not gated\): brand-new/,
  );
});

Deno.test("the report prints a table of deltas and names each failure", () => {
  const base = byLabel("sds(sparsegpt)-2:4").metrics.ppl!["test-ood"].ppl;
  const report = gate(
    worsened("sds(sparsegpt)-2:4", (r) => void (r.metrics.ppl!["test-ood"].ppl = base * 1.02)),
  );
  const text = formatGateReport(report, "fixture");
  assert.match(text, /^run\s+metric\s+baseline\s+candidate\s+Δ\s+Δ%\s+allowed\s+verdict/m);
  assert.match(
    text,
    /sds\(sparsegpt\)-2:4\s+ppl\[test-ood\]\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+2\.00%\s+≤ \+0\.50%\s+FAIL/,
  );
  assert.match(
    text,
    /regress: FAIL: suite "fixture", 1 of \d+ checks failed: sds\(sparsegpt\)-2:4 ppl\[test-ood\]/,
  );
});

Deno.test("baseline files round-trip and a corrupt one names the file and the field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sparsespec-baseline-" });
  try {
    const files = await writeBaseline(dir, "fixture", BASELINE);
    assert.equal(files.length, BASELINE.length);
    const back = await readBaseline(dir, "fixture");
    assert.deepEqual(
      back!.map((e) => e.id).sort(),
      BASELINE.map((e) => e.id).sort(),
    );
    assert.deepEqual(
      back!.find((e) => e.label === "dense")!.metrics,
      BASELINE.find((e) => e.label === "dense")!.metrics,
    );
    assert.equal(await readBaseline(dir, "other-suite"), null);

    // Rewriting with fewer runs removes the stale files.
    await writeBaseline(dir, "fixture", BASELINE.slice(0, 2));
    assert.equal((await readBaseline(dir, "fixture"))!.length, 2);

    const victim = files[0];
    const entry = JSON.parse(await Deno.readTextFile(victim)) as BaselineEntry;
    (entry.metrics as Record<string, unknown>).tau = "fast";
    await Deno.writeTextFile(victim, JSON.stringify(entry));
    await assert.rejects(readBaseline(dir, "fixture"), (error: unknown) => {
      assert.ok(error instanceof ResultFileError);
      assert.equal(error.file, victim);
      assert.match(error.message, /metrics\.tau: /);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ------------------------------------------------------------------------------------------------
// runRegress end to end, with fake executors (the real ones need the trained model).

const HOST: HostProvenance = {
  gitCommit: null,
  gitDirty: null,
  deno: "2.9.6",
  v8: "15",
  typescript: "6",
  onnxruntimeWeb: null,
  tfjs: null,
  gpuAdapter: null,
  cpuModel: null,
  cpuCount: 2,
  os: "test",
};

const SPEC = {
  name: "mini",
  eval: { ppl: { sets: ["test-id"], seqlen: 16, maxWindows: 2 }, zeroshot: { tasks: [] } },
  prune: [{ method: "dense", pattern: "dense" }, { method: "magnitude", pattern: "50%" }],
  decode: [{ drafter: "medusa", tree: { type: "chain", depth: 2 } }],
  regress: { pplRel: 0.01 },
};

function fakeExecutors(knobs: { ppl: number; tau: number; speedup: number; lossless: boolean }) {
  const prune: Executor<"prune"> = (run) => {
    const ppl = knobs.ppl * (run.spec.method === "dense" ? 1 : 2);
    return Promise.resolve({
      metrics: {
        ppl: { "test-id": { ppl, nll: Math.log(ppl), windows: 2, tokens: 32, seqlen: 16 } },
      },
    });
  };
  const decode: Executor<"decode"> = () =>
    Promise.resolve({
      metrics: { tau: knobs.tau, speedup: knobs.speedup, lossless: knobs.lossless },
    });
  return (): Promise<ExecutorLoad> =>
    Promise.resolve({ executors: { prune, decode }, unavailable: [] });
}

async function regress(root: string, args: string[], knobs: Parameters<typeof fakeExecutors>[0]) {
  let out = "";
  let err = "";
  const { exitCode } = await runRegress({
    root,
    args: [
      "--spec",
      `${root}/ci.json`,
      "--baseline",
      `${root}/baseline`,
      "--out",
      `${root}/out`,
      ...args,
    ],
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    loadExecutors: fakeExecutors(knobs),
    prepare: () => Promise.resolve({}),
    host: () => Promise.resolve(HOST),
  });
  return { exitCode, out, err };
}

Deno.test("runRegress: no baseline fails, --update-baseline writes it, then the gate bites", async () => {
  const root = await Deno.makeTempDir({ prefix: "sparsespec-regress-" });
  try {
    await Deno.writeTextFile(`${root}/ci.json`, JSON.stringify(SPEC));
    const good = { ppl: 40, tau: 2.2, speedup: 1.8, lossless: true };

    const none = await regress(root, [], good);
    assert.equal(none.exitCode, 1);
    assert.match(none.err, /no baseline for suite "mini".*--update-baseline/);

    const update = await regress(root, ["--update-baseline"], good);
    assert.equal(update.exitCode, 0, update.err);
    assert.match(update.out, /baseline of suite "mini" rewritten: 3 files/);
    const written = await readBaseline(`${root}/baseline`, "mini");
    assert.deepEqual(written!.map((e) => e.label).sort(), [
      "dense",
      "magnitude-50%",
      "medusa-chain2",
    ]);

    const same = await regress(root, [], good);
    assert.equal(same.exitCode, 0, same.out + same.err);
    assert.match(same.out, /regress: PASS: suite "mini", 5 checks, none failed/);

    // Within the spec's own tolerance (pplRel 0.01): +0.8% passes.
    assert.equal((await regress(root, [], { ...good, ppl: 40.32 })).exitCode, 0);

    const worse = await regress(root, [], { ...good, ppl: 41 });
    assert.equal(worse.exitCode, 1);
    assert.match(worse.out, /dense\s+ppl\[test-id\]\s+40\s+41\s+1\s+2\.50%\s+≤ \+1\.00%\s+FAIL/);
    assert.match(worse.out, /magnitude-50%\s+ppl\[test-id\].*FAIL/);

    assert.equal((await regress(root, [], { ...good, tau: 2.1 })).exitCode, 1);
    assert.equal((await regress(root, [], { ...good, speedup: 1.5 })).exitCode, 1);
    assert.equal((await regress(root, [], { ...good, lossless: false })).exitCode, 1);

    // The baseline was never touched by the failing runs.
    const after = await readBaseline(`${root}/baseline`, "mini");
    assert.deepEqual(after, written);

    // A corrupt baseline is bad input (exit 2) naming the file and the field.
    const file = `${root}/baseline/mini/${written![0].id}.json`;
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, text.replace('"kind": "', '"kind": "x'));
    const corrupt = await regress(root, [], good);
    assert.equal(corrupt.exitCode, 2);
    assert.ok(corrupt.err.includes(`${file}: kind: `), corrupt.err);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("sparsespec regress --candidate compares a worsened copy through the CLI", async () => {
  const root = await Deno.makeTempDir({ prefix: "sparsespec-regress-cli-" });
  try {
    const { FIXTURE_SUITE } = await import("../site/testing/fixtures.ts");
    await Deno.writeTextFile(`${root}/fixture.json`, JSON.stringify(FIXTURE_SUITE));
    await writeBaseline(`${root}/baseline`, "fixture", BASELINE);
    await writeFixtureReports(`${root}/same`);
    const copy = worsened("sparsegpt-2:4", (r) => void (r.metrics.ppl!["test-id"].ppl *= 1.03));
    await writeFixtureReports(`${root}/worse`, copy);

    const cli = async (candidate: string) => {
      let out = "";
      let err = "";
      const code = await main(
        [
          "regress",
          "--spec",
          `${root}/fixture.json`,
          "--baseline",
          `${root}/baseline`,
          "--candidate",
          candidate,
        ],
        { stdout: (t) => void (out += t), stderr: (t) => void (err += t) },
      );
      return { code, out, err };
    };
    const same = await cli(`${root}/same`);
    assert.equal(same.code, 0, same.out + same.err);
    assert.match(same.out, /regress: PASS/);
    const worse = await cli(`${root}/worse`);
    assert.equal(worse.code, 1);
    assert.match(worse.out, /sparsegpt-2:4\s+ppl\[test-id\].*3\.00%.*FAIL/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
