import assert from "node:assert/strict";
import fc from "fast-check";
import { formatJsonPath } from "../src/spec/errors.ts";
import { loadSpec, parseSpec, parseSuiteValue, SpecError } from "../src/spec/load.ts";

const FILE = "bench/specs/fuzz.json";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const VALID: Json = {
  name: "fuzz",
  seed: 3,
  backend: "wasm",
  threads: 2,
  models: [{ name: "tiny", path: "bench/models/tiny", drafters: { medusa: "heads/medusa" } }],
  eval: {
    ppl: { sets: ["test-id"], seqlen: 64, maxWindows: 2 },
    zeroshot: { tasks: ["lastword"] },
  },
  prune: [
    { method: ["dense", "wanda", "sparsegpt"], pattern: ["50%", "2:4"], sparsegpt: { damp: 0.02 } },
    {
      method: "sds",
      pattern: { type: "nm", n: 4, m: 8 },
      sds: { base: ["wanda"], lambda1: 0.1 },
      seeds: [1, 2],
    },
  ],
  decode: [{
    drafter: ["ar", "medusa"],
    tree: [{ type: "chain", depth: 3 }, { type: "paths", paths: [[0], [0, 0], [1]] }],
    acceptance: { type: "typical", epsilon: 0.1 },
    maxNewTokens: 16,
  }],
  repeats: 2,
  warmup: 0,
  regress: { pplRel: 0.01 },
};

/** Asserts the documented error contract: a SpecError naming the file and a path (or root). */
function assertReadableRejection(error: unknown, file = FILE): void {
  if (!(error instanceof SpecError)) {
    throw new Error(`expected SpecError, got ${error instanceof Error ? error.stack : error}`);
  }
  assert.equal(error.file, file);
  assert.ok(error.issues.length > 0);
  const first = error.issues[0];
  assert.ok(first.message.trim().length > 0, "empty message");
  assert.ok(
    error.message.startsWith(`${file}: ${formatJsonPath(first.path)}: `),
    `message does not name file and path: ${error.message}`,
  );
  assert.ok(!/\[object Object\]|Invalid input\b/.test(error.message), error.message);
}

function checkText(text: string): void {
  try {
    const { runs } = parseSpec(text, FILE);
    assert.equal(new Set(runs.map((r) => r.id)).size, runs.length);
    assert.equal(new Set(runs.map((r) => r.label)).size, runs.length);
  } catch (error) {
    assertReadableRejection(error);
  }
}

Deno.test("the valid fixture loads and plans", () => {
  const { suite, runs } = parseSpec(JSON.stringify(VALID), FILE);
  assert.equal(suite.name, "fuzz");
  // prune: dense + 2x2 + sds(1 pattern x 1 base x 2 seeds); decode: ar + 2 trees
  assert.equal(runs.length, 1 + 4 + 2 + 1 + 2);
});

Deno.test("invalid JSON reports line and column", () => {
  const text = '{\n  "name": "x",\n  "seed": 1,,\n}';
  try {
    parseSpec(text, FILE);
    assert.fail("expected an error");
  } catch (error) {
    assertReadableRejection(error);
    assert.match(
      (error as Error).message,
      /^bench\/specs\/fuzz\.json: root: invalid JSON at line 3, column \d+/,
    );
  }
});

Deno.test("unreadable files are SpecErrors naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(() => loadSpec(`${dir}/missing.json`), (e) => {
      assertReadableRejection(e, `${dir}/missing.json`);
      assert.match((e as Error).message, /file not found/);
      return true;
    });
    await assert.rejects(() => loadSpec(dir), (e) => {
      assertReadableRejection(e, dir);
      return true;
    });
    await Deno.writeTextFile(`${dir}/ok.json`, JSON.stringify(VALID));
    const loaded = await loadSpec(`${dir}/ok.json`, { backend: "webgpu" });
    assert.equal(loaded.suite.backend, "webgpu");
    assert.ok(loaded.runs.every((r) => r.spec.runtime.backend === "webgpu"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("property: random JSON values are rejected readably or accepted", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => checkText(JSON.stringify(value))),
    { numRuns: 2000, seed: 1 },
  );
});

Deno.test("property: random objects with spec-like keys are rejected readably", () => {
  const keys = fc.constantFrom(
    "name",
    "seed",
    "backend",
    "threads",
    "models",
    "eval",
    "prune",
    "decode",
    "method",
    "pattern",
    "drafter",
    "tree",
    "type",
    "n",
    "m",
    "sparsity",
    "x",
  );
  const leaf = fc.oneof(
    fc.constantFrom("fuzz", "dense", "50%", "2:4", "wanda", "sds", "medusa", "chain", "nm"),
    fc.integer({ min: -3, max: 300 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
  );
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.array(tie("tree"), { maxLength: 3 }),
      fc.dictionary(keys, tie("tree"), { maxKeys: 4 }),
    ),
  }));
  fc.assert(
    fc.property(fc.dictionary(keys, tree, { maxKeys: 6 }), (value) => {
      checkText(JSON.stringify({ name: "fuzz", ...value }));
    }),
    { numRuns: 2000, seed: 2 },
  );
});

function paths(value: Json, path: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [path];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...path, i])));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...path, k]));
  }
  return out;
}

function setAt(root: Json, path: (string | number)[], replacement: Json | undefined): Json {
  if (path.length === 0) return replacement ?? null;
  const copy = structuredClone(root) as Record<string | number, Json>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  const last = path[path.length - 1];
  if (replacement === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = replacement;
  return copy;
}

Deno.test("property: mutated valid specs are rejected readably or still plan", () => {
  const allPaths = paths(VALID);
  const mutation = fc.record({
    path: fc.constantFrom(...allPaths),
    replacement: fc.option(fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>, {
      nil: undefined,
    }),
  });
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
      let spec: Json = VALID;
      for (const { path, replacement } of mutations) {
        try {
          spec = setAt(spec, path, replacement);
        } catch {
          // an earlier mutation removed the parent: skip this one
        }
      }
      checkText(JSON.stringify(spec));
    }),
    { numRuns: 2000, seed: 3 },
  );
});

Deno.test("property: text-level corruption is rejected readably", () => {
  const text = JSON.stringify(VALID, null, 2);
  fc.assert(
    fc.property(
      fc.nat({ max: text.length - 1 }),
      fc.nat({ max: 5 }),
      fc.string({ maxLength: 3 }),
      (at, remove, insert) => checkText(text.slice(0, at) + insert + text.slice(at + remove)),
    ),
    { numRuns: 2000, seed: 4 },
  );
});

Deno.test("property: arbitrary JS values only ever raise SpecError", () => {
  fc.assert(
    fc.property(fc.anything(), (value) => {
      try {
        parseSuiteValue(value, FILE);
      } catch (error) {
        assertReadableRejection(error);
      }
    }),
    { numRuns: 500, seed: 5 },
  );
});
