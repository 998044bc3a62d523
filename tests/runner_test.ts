import assert from "node:assert/strict";
import { loadExecutors, registerExecutor, unregisterExecutor } from "../src/executors.ts";
import type { Executor, ExecutorMap } from "../src/results/executor.ts";
import type { HostProvenance } from "../src/results/provenance.ts";
import { ResultStore } from "../src/results/store.ts";
import { makeRunFilter, type ProgressEvent, runSuite } from "../src/runner.ts";
import { planSuite } from "../src/spec/plan.ts";
import { Suite } from "../src/spec/schema.ts";

const HOST: HostProvenance = {
  gitCommit: "abc",
  gitDirty: true,
  deno: "2.9.6",
  v8: "15",
  typescript: "6",
  onnxruntimeWeb: "1.30.0",
  tfjs: "4.22.0",
  gpuAdapter: {
    vendor: "v",
    architecture: "",
    device: "0",
    description: "llvmpipe",
    isFallbackAdapter: true,
  },
  cpuModel: "Test CPU",
  cpuCount: 2,
  os: "linux",
};

const SUITE = Suite.parse({
  name: "rt",
  seed: 5,
  prune: [{ method: ["dense", "wanda", "sparsegpt"], pattern: "2:4" }],
  decode: [{ drafter: "ar" }],
});
const RUNS = planSuite(SUITE);

/** A fake prune executor whose ppl depends on the method, so results are distinguishable. */
const prune: Executor<"prune"> = async (run, ctx) => {
  const ppl = await ctx.phase("eval", () => (run.spec.method === "dense" ? 20 : 25));
  ctx.progress(1, 1, "windows");
  ctx.log(`pruned with ${run.spec.method}`);
  return {
    metrics: {
      ppl: { "test-id": { ppl, nll: Math.log(ppl), windows: 2, tokens: 512, seqlen: 256 } },
    },
    providerUsed: "wasm",
    providerReason: "fake",
    phases: { load: 0.25 },
    artifacts: { note: "fake" },
  };
};

const decode: Executor<"decode"> = () =>
  Promise.resolve({ metrics: { tau: 1, speedup: 1, lossless: true } });

async function withStore(fn: (store: ResultStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(new ResultStore(`${dir}/runs`), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("runs every run, writes valid results with provenance and phases", async () => {
  await withStore(async (store) => {
    const events: ProgressEvent[] = [];
    const summary = await runSuite({
      suite: SUITE,
      runs: RUNS,
      executors: { prune, decode },
      store,
      host: HOST,
      onProgress: (e) => events.push(e),
    });
    assert.equal(summary.exitCode, 0);
    assert.equal(summary.ok, 4);
    assert.equal(summary.failed, 0);
    assert.equal(summary.cached, 0);
    const dense = await store.read("rt", RUNS[0].id);
    assert.ok(dense);
    assert.equal(dense.status, "ok");
    assert.equal(dense.metrics.ppl?.["test-id"].ppl, 20);
    assert.equal(dense.spec.kind === "prune" && dense.spec.method, "dense");
    assert.equal(dense.provenance.executionProvider, "wasm");
    assert.equal(dense.provenance.seed, 5);
    assert.equal(dense.provenance.gpuAdapter?.isFallbackAdapter, true);
    assert.ok((dense.timings.phases?.eval ?? -1) >= 0);
    assert.equal(dense.timings.phases?.load, 0.25);
    assert.deepEqual(dense.artifacts, { note: "fake" });
    const ar = await store.read("rt", RUNS[3].id);
    assert.equal(ar?.metrics.lossless, true);
    assert.deepEqual(
      events.filter((e) => e.type === "finish").map((e) => e.type === "finish" && e.run.label),
      ["dense", "wanda-2:4", "sparsegpt-2:4", "ar"],
    );
    assert.ok(events.some((e) => e.type === "inner" && e.note === "windows"));
    assert.ok(events.some((e) => e.type === "log" && e.message === "pruned with wanda"));
  });
});

Deno.test("second run skips ok results; --force re-runs them", async () => {
  await withStore(async (store) => {
    let calls = 0;
    const counting: ExecutorMap = {
      prune: (run, ctx) => {
        calls++;
        return prune(run, ctx);
      },
      decode,
    };
    await runSuite({ suite: SUITE, runs: RUNS, executors: counting, store, host: HOST });
    assert.equal(calls, 3);
    const again = await runSuite({
      suite: SUITE,
      runs: RUNS,
      executors: counting,
      store,
      host: HOST,
    });
    assert.equal(calls, 3);
    assert.equal(again.cached, 4);
    assert.ok(again.outcomes.every((o) => o.cached && o.status === "ok"));
    const forced = await runSuite({
      suite: SUITE,
      runs: RUNS,
      executors: counting,
      store,
      host: HOST,
      force: true,
    });
    assert.equal(calls, 6);
    assert.equal(forced.cached, 0);
  });
});

Deno.test("an ok result of the same run in another suite is reused, and says so", async () => {
  await withStore(async (store) => {
    let calls = 0;
    const counting: ExecutorMap = {
      prune: (run, ctx) => {
        calls++;
        return prune(run, ctx);
      },
      decode,
    };
    await runSuite({ suite: SUITE, runs: RUNS, executors: counting, store, host: HOST });
    assert.equal(calls, 3);
    // Another suite with one identical run (dense) and one new run (magnitude), other labels.
    const other = Suite.parse({
      name: "rt-other",
      seed: 5,
      prune: [{ method: ["dense", "magnitude"], pattern: "2:4", tag: "x" }],
    });
    const runs = planSuite(other);
    const summary = await runSuite({
      suite: other,
      runs,
      executors: counting,
      store,
      host: HOST,
    });
    assert.equal(calls, 4, "only magnitude executed");
    assert.equal(summary.cached, 1);
    const dense = runs.find((r) => r.label === "dense+x")!;
    const copy = (await store.read("rt-other", dense.id))!;
    const original = (await store.read("rt", dense.id))!;
    assert.equal(copy.label, "dense+x");
    assert.equal(copy.suite, "rt-other");
    assert.deepEqual(copy.metrics, original.metrics);
    assert.deepEqual((copy.provenance as Record<string, unknown>).reusedFrom, {
      suite: "rt",
      file: store.fileFor("rt", dense.id),
    });
    // Renaming a tag relabels the cached result without running it again.
    const renamed = Suite.parse({
      name: "rt-other",
      seed: 5,
      prune: [{ method: "dense", pattern: "2:4", tag: "y" }],
    });
    await runSuite({
      suite: renamed,
      runs: planSuite(renamed),
      executors: counting,
      store,
      host: HOST,
    });
    assert.equal(calls, 4);
    assert.equal((await store.read("rt-other", dense.id))!.label, "dense+y");
    // --force and reuse: false run it afresh.
    const freshSuite = Suite.parse({ name: "rt-fresh", seed: 5, prune: [{ method: "dense" }] });
    await runSuite({
      suite: freshSuite,
      runs: planSuite(freshSuite),
      executors: counting,
      store,
      host: HOST,
      reuse: false,
    });
    assert.equal(calls, 5);
  });
});
Deno.test("a throwing executor is recorded as failed and the suite continues; failed runs re-run", async () => {
  await withStore(async (store) => {
    const flaky: Executor<"prune"> = (run, ctx) => {
      if (run.spec.method === "wanda") throw new Error("wanda exploded");
      return prune(run, ctx);
    };
    const summary = await runSuite({
      suite: SUITE,
      runs: RUNS,
      executors: { prune: flaky, decode },
      store,
      host: HOST,
    });
    assert.equal(summary.exitCode, 1);
    assert.equal(summary.failed, 1);
    assert.equal(summary.ok, 3);
    const failed = await store.read("rt", RUNS[1].id);
    assert.equal(failed?.status, "failed");
    assert.equal(failed?.error?.message, "wanda exploded");
    assert.match(failed?.error?.stack ?? "", /wanda exploded/);
    assert.deepEqual(failed?.metrics, {});
    // next time: the failed run is retried, the ok ones are cached
    const retry = await runSuite({
      suite: SUITE,
      runs: RUNS,
      executors: { prune, decode },
      store,
      host: HOST,
    });
    assert.equal(retry.exitCode, 0);
    assert.equal(retry.cached, 3);
    assert.equal((await store.read("rt", RUNS[1].id))?.status, "ok");
  });
});

Deno.test("NaN metrics fail the run with a message naming the metric", async () => {
  await withStore(async (store) => {
    const nan: Executor<"prune"> = () =>
      Promise.resolve({
        metrics: { ppl: { "test-id": { ppl: NaN, nll: NaN, windows: 1, tokens: 1, seqlen: 256 } } },
      });
    const summary = await runSuite({
      suite: SUITE,
      runs: RUNS.slice(0, 1),
      executors: { prune: nan },
      store,
      host: HOST,
    });
    assert.equal(summary.failed, 1);
    const result = await store.read("rt", RUNS[0].id);
    assert.equal(result?.status, "failed");
    assert.match(
      result?.error?.message ?? "",
      /metrics\.ppl\["test-id"\]\.ppl: expected a finite number, got NaN/,
    );
  });
});

Deno.test("a kind without an executor fails its runs with a clear message", async () => {
  await withStore(async (store) => {
    const summary = await runSuite({
      suite: SUITE,
      runs: RUNS,
      executors: { prune },
      store,
      host: HOST,
    });
    assert.equal(summary.failed, 1);
    assert.match(summary.outcomes[3].error ?? "", /no executor registered for kind "decode"/);
  });
});

Deno.test("a corrupt earlier result is reported and the run re-executed", async () => {
  await withStore(async (store) => {
    await Deno.mkdir(`${store.root}/rt`, { recursive: true });
    await Deno.writeTextFile(store.fileFor("rt", RUNS[0].id), "{ not json");
    const warnings: string[] = [];
    const summary = await runSuite({
      suite: SUITE,
      runs: RUNS.slice(0, 1),
      executors: { prune },
      store,
      host: HOST,
      onProgress: (e) => e.type === "warning" && warnings.push(e.message),
    });
    assert.equal(summary.ok, 1);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /invalid JSON at line 1/);
    assert.equal((await store.read("rt", RUNS[0].id))?.status, "ok");
  });
});

Deno.test("filters: substring on label/id/kind, /regex/, invalid regex", async () => {
  const labels = (expr: string) => RUNS.filter(makeRunFilter(expr)).map((r) => r.label);
  assert.deepEqual(labels("WANDA"), ["wanda-2:4"]);
  assert.deepEqual(labels("decode"), ["ar"]);
  assert.deepEqual(labels(RUNS[2].id.slice(0, 8)), ["sparsegpt-2:4"]);
  assert.deepEqual(labels("/^(dense|ar)$/"), ["dense", "ar"]);
  assert.throws(() => makeRunFilter("/(/"), /--filter \/\(\/: not a valid regular expression/);
  await withStore(async (store) => {
    const summary = await runSuite({
      suite: SUITE,
      runs: RUNS,
      executors: { prune, decode },
      store,
      host: HOST,
      filter: makeRunFilter("2:4"),
    });
    assert.equal(summary.planned, 4);
    assert.equal(summary.selected, 2);
    assert.equal(summary.ok, 2);
  });
});

Deno.test("host provenance is collected lazily, once, only when something runs", async () => {
  await withStore(async (store) => {
    let collected = 0;
    const host = () => {
      collected++;
      return Promise.resolve(HOST);
    };
    await runSuite({ suite: SUITE, runs: RUNS, executors: { prune, decode }, store, host });
    assert.equal(collected, 1);
    await runSuite({ suite: SUITE, runs: RUNS, executors: { prune, decode }, store, host });
    assert.equal(collected, 1);
  });
});

Deno.test("executor registry: registered executors win, missing modules are explained", async () => {
  const missing = await loadExecutors({
    modules: { prune: "./no/such/module.ts", decode: "./no/such/other.ts" },
  });
  assert.deepEqual(Object.keys(missing.executors), []);
  assert.equal(missing.unavailable.length, 2);
  assert.match(missing.unavailable[0].reason, /\.\/no\/such\/module\.ts does not exist yet/);
  registerExecutor("prune", prune);
  try {
    const loaded = await loadExecutors({ modules: { decode: "./no/such/other.ts" } });
    assert.equal(loaded.executors.prune, prune);
    assert.deepEqual(loaded.unavailable.map((u) => u.kind), ["decode"]);
  } finally {
    unregisterExecutor("prune");
  }
  const wrongExport = await loadExecutors({ kinds: ["prune"], modules: { prune: "./runner.ts" } });
  assert.match(wrongExport.unavailable[0].reason, /does not export a function named "execute"/);
});
