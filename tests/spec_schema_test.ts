import assert from "node:assert/strict";
import { parseSpec, SpecError } from "../src/spec/load.ts";
import { PRUNE_METHODS } from "../src/spec/methods.ts";
import { parsePatternString, patternLabel, patternSparsity } from "../src/spec/pattern.ts";
import { Suite } from "../src/spec/schema.ts";

function specError(text: string): SpecError {
  try {
    parseSpec(text, "bench/specs/t.json");
  } catch (error) {
    if (error instanceof SpecError) return error;
    throw error;
  }
  throw new Error(`expected a SpecError for ${text}`);
}

Deno.test("suite defaults are filled", () => {
  const suite = Suite.parse({ name: "s" });
  assert.equal(suite.seed, 0);
  assert.equal(suite.backend, "auto");
  assert.equal(suite.threads, 2);
  assert.deepEqual(suite.models, [{
    name: "sparsespec-tiny",
    path: "bench/models/sparsespec-tiny",
  }]);
  assert.deepEqual(suite.eval.ppl, { sets: ["test-id", "test-ood"], seqlen: 256 });
  assert.deepEqual(suite.eval.zeroshot.tasks, ["lastword", "nextsent4", "wncloze4", "swappairs"]);
  assert.deepEqual(suite.prune, []);
  assert.deepEqual(suite.decode, []);
  assert.equal(suite.repeats, 3);
  assert.equal(suite.warmup, 1);
  assert.deepEqual(suite.regress, {
    pplRel: 0.005,
    tauRel: 0.02,
    speedupRel: 0.10,
    zeroshot: "interval",
  });
});

Deno.test("prune entry defaults: calibration, pattern, params", () => {
  const suite = Suite.parse({ name: "s", prune: [{ method: "sparsegpt", pattern: "2:4" }] });
  const entry = suite.prune[0];
  assert.deepEqual(entry.calibration, { samples: 128, seqlen: 256, split: "train" });
  assert.deepEqual(entry.pattern, { type: "nm", n: 2, m: 4 });
  const dense = Suite.parse({ name: "s", prune: [{ method: "dense" }] });
  assert.deepEqual(dense.prune[0].pattern, { type: "dense" });
});

Deno.test("decode entry defaults: medusa tree of 16, greedy, prompts-heldout, 64 tokens", () => {
  const suite = Suite.parse({ name: "s", decode: [{ drafter: "medusa" }] });
  const entry = suite.decode[0];
  assert.deepEqual(entry.tree, { type: "medusa", size: 16 });
  assert.deepEqual(entry.acceptance, { type: "greedy" });
  assert.equal(entry.prompts, "prompts-heldout");
  assert.equal(entry.maxNewTokens, 64);
  const typical = Suite.parse({
    name: "s",
    decode: [{ drafter: "medusa", acceptance: { type: "typical" } }],
  });
  assert.deepEqual(typical.decode[0].acceptance, {
    type: "typical",
    epsilon: 0.09,
    delta: 0.3,
    temperature: 0.7,
  });
});

Deno.test("pattern shorthands normalise to objects", () => {
  assert.deepEqual(parsePatternString("dense"), { type: "dense" });
  assert.deepEqual(parsePatternString("50%"), { type: "unstructured", sparsity: 0.5 });
  assert.deepEqual(parsePatternString("62.5%"), { type: "unstructured", sparsity: 0.625 });
  assert.deepEqual(parsePatternString("unstructured:0.7"), {
    type: "unstructured",
    sparsity: 0.7,
  });
  assert.deepEqual(parsePatternString("4:8"), { type: "nm", n: 4, m: 8 });
  assert.ok("error" in parsePatternString("4:4"));
  assert.ok("error" in parsePatternString("0%"));
  assert.ok("error" in parsePatternString("100%"));
  assert.ok("error" in parsePatternString("unstructured:1.5"));
  assert.ok("error" in parsePatternString("2-4"));
  assert.equal(patternLabel({ type: "unstructured", sparsity: 0.57 }), "57%");
  assert.equal(patternLabel({ type: "nm", n: 2, m: 4 }), "2:4");
  assert.equal(patternSparsity({ type: "nm", n: 1, m: 4 }), 0.75);
  assert.equal(patternSparsity({ type: "dense" }), 0);
});

Deno.test("object patterns are accepted and checked", () => {
  const ok = Suite.parse({
    name: "s",
    prune: [{
      method: "wanda",
      pattern: [{ type: "unstructured", sparsity: 0.6 }, { type: "nm", n: 1, m: 4 }],
    }],
  });
  assert.deepEqual(ok.prune[0].pattern, [
    { type: "unstructured", sparsity: 0.6 },
    { type: "nm", n: 1, m: 4 },
  ]);
  const e = specError(
    `{"name":"s","prune":[{"method":"wanda","pattern":{"type":"nm","n":4,"m":4}}]}`,
  );
  assert.match(e.message, /^bench\/specs\/t\.json: prune\[0\]\.pattern: an N:M pattern needs/);
});

Deno.test("unknown pruning method lists the known ones, at the right path", () => {
  const e = specError(`{"name":"s","prune":[{"method":["wanda","sparsegtp"],"pattern":"50%"}]}`);
  assert.equal(e.issues[0].path.join("/"), "prune/0/method/1");
  assert.match(e.message, /prune\[0\]\.method\[1\]: unknown pruning method "sparsegtp"/);
  for (const m of PRUNE_METHODS) assert.ok(e.message.includes(`"${m}"`), m);
});

Deno.test("unknown drafter lists the known ones", () => {
  const e = specError(`{"name":"s","decode":[{"drafter":"eagle"}]}`);
  assert.match(
    e.message,
    /decode\[0\]\.drafter: unknown drafter "eagle"; known drafters: "ar", "medusa", "amphista"/,
  );
});

Deno.test("a bad pattern string names the field and what is expected", () => {
  const e = specError(`{"name":"s","prune":[{"method":"wanda","pattern":"banana"}]}`);
  assert.match(e.message, /prune\[0\]\.pattern: expected a sparsity pattern/);
  assert.match(e.message, /"2:4"/);
  assert.match(e.message, /got "banana"/);
});

Deno.test("unknown fields are errors with a did-you-mean hint", () => {
  const e = specError(`{"name":"s","prune":[{"method":"wanda","patern":"50%"}]}`);
  assert.match(e.message, /prune\[0\]\.patern: unknown field \(did you mean "pattern"\?\)/);
  const top = specError(`{"name":"s","thread":4}`);
  assert.match(top.message, /thread: unknown field \(did you mean "threads"\?\)/);
});

Deno.test("a sparse method with the dense pattern is rejected", () => {
  const e = specError(`{"name":"s","prune":[{"method":["dense","wanda"]}]}`);
  assert.match(e.message, /prune\[0\]\.pattern: method "wanda" needs a sparse pattern/);
});

Deno.test("a parameter block for a method the entry does not run is rejected", () => {
  const e = specError(
    `{"name":"s","prune":[{"method":"wanda","pattern":"50%","sparsegpt":{"damp":0.1}}]}`,
  );
  assert.match(e.message, /prune\[0\]\.sparsegpt: parameters for "sparsegpt" given/);
  // but SDS over SparseGPT uses the sparsegpt block
  const ok = Suite.parse({
    name: "s",
    prune: [{ method: "sds", pattern: "50%", sparsegpt: { damp: 0.05 } }],
  });
  assert.equal(ok.prune[0].sparsegpt?.damp, 0.05);
});

Deno.test("sds params: known fields validated, unknown fields pass through", () => {
  const suite = Suite.parse({
    name: "s",
    prune: [{ method: "sds", pattern: "50%", sds: { lambda1: 0.2, future_knob: 3 } }],
  });
  const sds = suite.prune[0].sds as Record<string, unknown>;
  assert.equal(sds.lambda1, 0.2);
  assert.equal(sds.future_knob, 3);
  assert.equal(sds.iters, 200);
  const e = specError(
    `{"name":"s","prune":[{"method":"sds","pattern":"50%","sds":{"optimizer":"lbfgs"}}]}`,
  );
  assert.match(e.message, /prune\[0\]\.sds\.optimizer: expected one of "adam", "sgd"/);
});

Deno.test("tree paths must be prefix-closed", () => {
  const e = specError(
    `{"name":"s","decode":[{"drafter":"medusa","tree":{"type":"paths","paths":[[0],[1,0]]}}]}`,
  );
  assert.match(e.message, /decode\[0\]\.tree\.paths\[1\]: path \[1,0\] needs its prefix \[1\]/);
});

Deno.test("several problems: one message, first on top, the rest listed", () => {
  const e = specError(`{"name":"s","threads":0,"seed":1.5,"backend":"cuda"}`);
  assert.equal(e.issues.length, 3);
  const lines = e.message.split("\n");
  assert.match(lines[0], /^bench\/specs\/t\.json: \w+: /);
  assert.equal(lines.filter((l) => l.startsWith("  also ")).length, 2);
  assert.match(e.message, /backend: expected one of "webgpu", "wasm", "auto", got "cuda"/);
  assert.match(e.message, /threads: expected a number >= 1, got 0/);
  assert.match(e.message, /seed: expected an integer, got 1.5/);
});

Deno.test("missing required fields and wrong root type", () => {
  assert.match(specError(`{}`).message, /name: required field is missing \(expected a string\)/);
  assert.match(specError(`[]`).message, /root: expected an object, got an array of 0/);
  assert.match(
    specError(`{"name":"a/b"}`).message,
    /name: expected a suite name of letters, digits/,
  );
});
