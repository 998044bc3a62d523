import assert from "node:assert/strict";
import { type HostProvenance, runProvenance } from "../src/results/provenance.ts";
import type { RunResult } from "../src/results/schema.ts";
import {
  readResultFile,
  readResultsUnder,
  ResultFileError,
  ResultStore,
  writeTextAtomic,
} from "../src/results/store.ts";
import { FORMAT_VERSION } from "../src/spec/canonical.ts";
import { planSuite } from "../src/spec/plan.ts";
import { Suite } from "../src/spec/schema.ts";

const HOST: HostProvenance = {
  gitCommit: null,
  gitDirty: null,
  deno: "2.9.6",
  v8: "15.0",
  typescript: "6.0.3",
  onnxruntimeWeb: null,
  tfjs: null,
  gpuAdapter: null,
  cpuModel: null,
  cpuCount: 2,
  os: "linux",
};

const RUNS = planSuite(Suite.parse({
  name: "s",
  prune: [{ method: ["dense", "wanda"], pattern: "50%" }],
}));

function result(index: number, ppl: number): RunResult {
  const run = RUNS[index];
  return {
    formatVersion: FORMAT_VERSION,
    id: run.id,
    suite: "s",
    label: run.label,
    kind: run.kind,
    spec: run.spec,
    status: "ok",
    metrics: {
      ppl: { "test-id": { ppl, nll: Math.log(ppl), windows: 4, tokens: 1024, seqlen: 256 } },
    },
    timings: {
      startedAt: "2025-01-01T00:00:00.000Z",
      finishedAt: "2025-01-01T00:00:02.000Z",
      wallSeconds: 2,
    },
    provenance: runProvenance(HOST, { seed: 0, threads: 2, date: new Date(0) }),
  } as RunResult;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("write then read round-trips, at <root>/<suite>/<id>.json, no temp files left", async () => {
  await withTempDir(async (dir) => {
    const store = new ResultStore(`${dir}/runs`);
    const file = await store.write(result(0, 20.5));
    assert.equal(file, `${dir}/runs/s/${RUNS[0].id}.json`);
    const back = await store.read("s", RUNS[0].id);
    assert.deepEqual(back, result(0, 20.5));
    assert.equal(await store.read("s", RUNS[1].id), null);
    const names = [...Deno.readDirSync(`${dir}/runs/s`)].map((e) => e.name);
    assert.deepEqual(names, [`${RUNS[0].id}.json`]);
    // overwrite atomically
    await store.write(result(0, 21));
    assert.equal((await store.read("s", RUNS[0].id))?.metrics.ppl?.["test-id"].ppl, 21);
  });
});

Deno.test("an invalid result is not written", async () => {
  await withTempDir(async (dir) => {
    const store = new ResultStore(dir);
    const bad = result(0, 20);
    bad.metrics.ppl!["test-id"].ppl = NaN;
    await assert.rejects(() => store.write(bad), (e) => {
      assert.ok(e instanceof ResultFileError);
      assert.match(e.message, /metrics\.ppl\["test-id"\]\.ppl: expected a finite number, got NaN/);
      return true;
    });
    assert.equal(await store.read("s", RUNS[0].id), null);
  });
});

Deno.test("corrupt and schema-invalid files are reported with file, path and expectation", async () => {
  await withTempDir(async (dir) => {
    const store = new ResultStore(dir);
    await store.write(result(0, 20));
    const corrupt = store.fileFor("s", RUNS[1].id);
    await Deno.writeTextFile(corrupt, '{\n  "id": "abc",\n');
    await assert.rejects(() => store.read("s", RUNS[1].id), (e) => {
      assert.ok(e instanceof ResultFileError);
      assert.equal(e.file, corrupt);
      assert.match(e.message, new RegExp(`^${corrupt}: root: invalid JSON at line 3, column 1`));
      return true;
    });
    const invalid = { ...result(1, 30), timings: { startedAt: "yesterday" } };
    await Deno.writeTextFile(corrupt, JSON.stringify(invalid));
    await assert.rejects(() => readResultFile(corrupt), (e) => {
      assert.ok(e instanceof ResultFileError);
      assert.match(e.message, /timings\.startedAt: expected a datetime/);
      assert.match(e.message, /timings\.wallSeconds: required field is missing/);
      return true;
    });
    const listing = await store.list("s");
    assert.equal(listing.results.length, 1);
    assert.equal(listing.errors.length, 1);
    assert.equal(listing.errors[0].file, corrupt);
  });
});

Deno.test("a result stored under the wrong id or suite is refused", async () => {
  await withTempDir(async (dir) => {
    const store = new ResultStore(dir);
    const file = store.fileFor("s", RUNS[1].id);
    await writeTextAtomic(file, JSON.stringify(result(0, 20)));
    await assert.rejects(
      () => store.read("s", RUNS[1].id),
      /id: expected "[0-9a-f]{16}" \(the file name\)/,
    );
    await writeTextAtomic(store.fileFor("other", RUNS[0].id), JSON.stringify(result(0, 20)));
    await assert.rejects(() => store.read("other", RUNS[0].id), /suite: expected "other"/);
  });
});

Deno.test("listing: all suites, hidden temp files ignored, missing root is empty", async () => {
  await withTempDir(async (dir) => {
    const store = new ResultStore(`${dir}/runs`);
    assert.deepEqual(await store.list(), { results: [], errors: [] });
    await store.write(result(0, 20));
    await store.write({ ...result(1, 25), suite: "t" });
    await Deno.writeTextFile(`${dir}/runs/s/.partial.json.1234.tmp`, "{");
    const all = await store.list();
    assert.equal(all.results.length, 2);
    assert.equal(all.errors.length, 0);
    const single = await readResultsUnder(store.fileFor("s", RUNS[0].id));
    assert.equal(single.results.length, 1);
    const missing = await readResultsUnder(`${dir}/nope`);
    assert.match(missing.errors[0].message, /nope: root: no such file or folder/);
  });
});
