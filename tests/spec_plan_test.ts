import assert from "node:assert/strict";
import { canonicalJson, FORMAT_VERSION, runId } from "../src/spec/canonical.ts";
import { planSuite, type Run } from "../src/spec/plan.ts";
import { Suite, type SuiteInput } from "../src/spec/schema.ts";

function plan(input: SuiteInput): Run[] {
  return planSuite(Suite.parse(input));
}

const MATRIX: SuiteInput = {
  name: "m",
  prune: [{
    method: ["dense", "magnitude", "wanda", "sparsegpt", "sds"],
    pattern: ["50%", "2:4"],
    sds: { base: ["sparsegpt", "wanda"] },
  }],
  decode: [{
    drafter: ["ar", "medusa", "amphista"],
    tree: [{ type: "chain", depth: 4 }, { type: "medusa", size: 16 }],
  }],
};

Deno.test("matrix expansion: methods x patterns x sds bases, drafters x trees", () => {
  const runs = plan(MATRIX);
  const labels = runs.map((r) => r.label);
  assert.deepEqual(labels, [
    "dense",
    "magnitude-50%",
    "magnitude-2:4",
    "wanda-50%",
    "wanda-2:4",
    "sparsegpt-50%",
    "sparsegpt-2:4",
    "sds(sparsegpt)-50%",
    "sds(wanda)-50%",
    "sds(sparsegpt)-2:4",
    "sds(wanda)-2:4",
    "ar",
    "medusa-chain4",
    "medusa-tree16",
    "amphista-chain4",
    "amphista-tree16",
  ]);
  assert.equal(new Set(runs.map((r) => r.id)).size, runs.length);
  for (const run of runs) {
    assert.match(run.id, /^[0-9a-f]{16}$/);
    assert.equal(run.kind, run.spec.kind);
    assert.equal(run.id, runId(run.spec));
  }
});

Deno.test("prune runs are fully normalised, keeping only their own parameters", () => {
  const runs = plan({
    name: "n",
    seed: 7,
    threads: 4,
    eval: { ppl: { maxWindows: 3 } },
    prune: [{
      method: ["sparsegpt", "magnitude", "sds"],
      pattern: "2:4",
      sparsegpt: { damp: 0.02 },
      calibration: { samples: 16 },
    }],
  });
  const [sparsegpt, magnitude, sds] = runs.map((r) => r.spec);
  assert.deepEqual(sparsegpt, {
    kind: "prune",
    model: { name: "sparsespec-tiny", path: "bench/models/sparsespec-tiny" },
    method: "sparsegpt",
    pattern: { type: "nm", n: 2, m: 4 },
    params: { damp: 0.02, blocksize: 128 },
    calibration: { samples: 16, seqlen: 256, split: "train", seed: 7 },
    eval: {
      ppl: { sets: ["test-id", "test-ood"], seqlen: 256, maxWindows: 3 },
      zeroshot: { tasks: ["lastword", "nextsent4", "wncloze4", "swappairs"], limit: null },
    },
    seed: 7,
    runtime: { backend: "auto", threads: 4 },
  });
  assert.equal(magnitude.kind === "prune" && magnitude.calibration, null);
  assert.deepEqual(magnitude.kind === "prune" && magnitude.params, {});
  assert.ok(sds.kind === "prune" && sds.method === "sds");
  assert.equal(sds.params.base, "sparsegpt");
  assert.deepEqual(sds.params.baseParams, { damp: 0.02, blocksize: 128 });
  assert.equal(sds.params.iters, 200);
});

Deno.test("dense ignores patterns and is planned once", () => {
  const runs = plan({
    name: "d",
    prune: [
      { method: ["dense", "wanda"], pattern: ["50%", "2:4"] },
      { method: "dense" },
    ],
  });
  assert.deepEqual(runs.map((r) => r.label), ["dense", "wanda-50%", "wanda-2:4"]);
  assert.deepEqual(runs[0].spec.kind === "prune" && runs[0].spec.pattern, { type: "dense" });
});

Deno.test("equivalent pattern spellings give the same run id", () => {
  const ids = ["50%", "unstructured:0.5", { type: "unstructured" as const, sparsity: 0.5 }].map(
    (pattern) => plan({ name: "e", prune: [{ method: "wanda", pattern }] })[0].id,
  );
  assert.equal(new Set(ids).size, 1);
});

Deno.test("decode runs: ar has no tree, drafter paths come from the model", () => {
  const runs = plan({
    name: "dec",
    repeats: 5,
    models: [{ name: "m1", path: "models/m1", drafters: { medusa: "models/m1-medusa" } }],
    decode: [{
      drafter: ["ar", "medusa", "amphista"],
      tree: [{ type: "chain", depth: 2 }, { type: "chain", depth: 3 }],
      medusa: { topk: 10 },
      warmup: 2,
    }],
  });
  assert.deepEqual(runs.map((r) => r.label), [
    "ar",
    "medusa-chain2",
    "medusa-chain3",
    "amphista-chain2",
    "amphista-chain3",
  ]);
  const [ar, medusa, , amphista] = runs.map((r) => r.spec);
  assert.ok(ar.kind === "decode" && medusa.kind === "decode" && amphista.kind === "decode");
  assert.equal(ar.tree, null);
  assert.equal(ar.drafterPath, null);
  assert.deepEqual(ar.options, {});
  assert.equal(medusa.drafterPath, "models/m1-medusa");
  assert.deepEqual(medusa.options, { topk: 10 });
  assert.equal(amphista.drafterPath, null);
  assert.deepEqual(amphista.options, {});
  assert.equal(medusa.repeats, 5);
  assert.equal(medusa.warmup, 2);
  assert.equal(medusa.limit, null);
});

Deno.test("labels: model prefix with several models, seed suffix with several seeds", () => {
  const runs = plan({
    name: "l",
    models: [{ name: "a", path: "pa" }, { name: "b", path: "pb" }],
    prune: [{ method: "wanda", pattern: "2:4", seeds: [0, 1] }],
  });
  assert.deepEqual(runs.map((r) => r.label), [
    "a:wanda-2:4-seed0",
    "a:wanda-2:4-seed1",
    "b:wanda-2:4-seed0",
    "b:wanda-2:4-seed1",
  ]);
});

Deno.test("labels stay unique when runs differ only in unlabelled fields", () => {
  const runs = plan({
    name: "u",
    prune: [
      { method: "wanda", pattern: "2:4", calibration: { samples: 8 } },
      { method: "wanda", pattern: "2:4", calibration: { samples: 16 } },
    ],
  });
  assert.equal(runs.length, 2);
  assert.notEqual(runs[0].label, runs[1].label);
  assert.ok(runs[0].label.startsWith("wanda-2:4~"));
});

Deno.test("an entry's tag names its variant in labels but not in ids", () => {
  const runs = plan({
    name: "t",
    prune: [
      { method: "sds", pattern: "2:4" },
      { method: "sds", pattern: "2:4", tag: "no-reg", sds: { lambda1: 0, lambda2: 0 } },
    ],
    decode: [{ drafter: "amphista", tag: "alt", amphista: { folder: "x" } }],
  });
  assert.deepEqual(runs.map((r) => r.label), [
    "sds(sparsegpt)-2:4",
    "sds(sparsegpt)-2:4+no-reg",
    "amphista-tree16+alt",
  ]);
  const untagged = plan({
    name: "t",
    prune: [{ method: "sds", pattern: "2:4", sds: { lambda1: 0, lambda2: 0 } }],
  });
  assert.equal(untagged[0].id, runs[1].id);
  assert.throws(
    () => plan({ name: "t", prune: [{ method: "dense", tag: "a b" }] }),
    /tag of letters, digits/,
  );
});

function shuffleKeys(value: unknown, rng: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, rng));
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [entries[i], entries[j]] = [entries[j], entries[i]];
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, rng)]));
  }
  return value;
}

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("ids are stable across key order (spec files and run specs)", () => {
  const rng = mulberry32(42);
  const reference = plan(MATRIX).map((r) => r.id);
  for (let i = 0; i < 10; i++) {
    const shuffled = shuffleKeys(MATRIX, rng) as SuiteInput;
    assert.deepEqual(plan(shuffled).map((r) => r.id), reference);
  }
  for (const run of plan(MATRIX)) {
    assert.equal(runId(shuffleKeys(run.spec, rng)), run.id);
  }
  assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
});

function leafPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leafPaths(v, [...path, i]));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...path, k]));
  }
  return [path];
}

function mutateAt(value: unknown, path: (string | number)[]): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  const old = node[last];
  node[last] = typeof old === "number"
    ? old + 1
    : typeof old === "string"
    ? `${old}x`
    : typeof old === "boolean"
    ? !old
    : 1;
  return copy;
}

Deno.test("ids change when any field of the normalised run changes", () => {
  for (const run of plan(MATRIX)) {
    const paths = leafPaths(run.spec);
    assert.ok(paths.length > 5);
    for (const path of paths) {
      assert.notEqual(runId(mutateAt(run.spec, path)), run.id, `${run.label}: ${path.join(".")}`);
    }
  }
});

Deno.test("ids change with the format version", () => {
  const run = plan(MATRIX)[0];
  assert.equal(runId(run.spec, FORMAT_VERSION), run.id);
  assert.notEqual(runId(run.spec, FORMAT_VERSION + 1), run.id);
});

Deno.test("canonical JSON refuses values that would not survive a round trip", () => {
  assert.throws(() => canonicalJson({ a: NaN }), /non-finite/);
  assert.throws(() => canonicalJson({ a: () => 1 }), /function/);
});
