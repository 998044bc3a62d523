import assert from "node:assert/strict";
import { type HostProvenance, runProvenance } from "../src/results/provenance.ts";
import { RunResult } from "../src/results/schema.ts";
import { ResultFileError, validateResult } from "../src/results/store.ts";
import { FORMAT_VERSION } from "../src/spec/canonical.ts";
import { planSuite } from "../src/spec/plan.ts";
import { Suite } from "../src/spec/schema.ts";

const HOST: HostProvenance = {
  gitCommit: "0123456789abcdef0123456789abcdef01234567",
  gitDirty: false,
  deno: "2.9.6",
  v8: "15.0",
  typescript: "6.0.3",
  onnxruntimeWeb: "1.30.0",
  tfjs: "4.22.0",
  gpuAdapter: null,
  cpuModel: "Test CPU",
  cpuCount: 2,
  os: "linux x86_64",
};

function makeResult(metrics: Record<string, unknown>): Record<string, unknown> {
  const [run] = planSuite(Suite.parse({ name: "t", prune: [{ method: "wanda", pattern: "2:4" }] }));
  return {
    formatVersion: FORMAT_VERSION,
    id: run.id,
    suite: "t",
    label: run.label,
    kind: run.kind,
    spec: run.spec,
    status: "ok",
    metrics,
    timings: {
      startedAt: "2025-01-01T00:00:00.000Z",
      finishedAt: "2025-01-01T00:00:01.500Z",
      wallSeconds: 1.5,
      phases: { prune: 1, eval: 0.5 },
    },
    provenance: runProvenance(HOST, {
      seed: 0,
      threads: 2,
      executionProvider: "wasm",
      providerReason: "backend auto: no GPU adapter",
      date: new Date("2025-01-01T00:00:01.500Z"),
    }),
  };
}

const GOOD_METRICS = {
  ppl: { "test-id": { ppl: 31.2, nll: Math.log(31.2), windows: 12, tokens: 3072, seqlen: 256 } },
  zeroshot: {
    lastword: {
      acc: 0.41,
      acc_norm: 0.43,
      n: 500,
      acc_ci: [0.37, 0.45],
      acc_norm_ci: [0.39, 0.47],
    },
  },
  histogram: { bins: [0, 1, 2], counts: [3, 4] },
};

function issueText(value: unknown): string {
  try {
    validateResult(value, "reports/runs/t/x.json");
  } catch (error) {
    assert.ok(error instanceof ResultFileError);
    return error.message;
  }
  throw new Error("expected the result to be rejected");
}

Deno.test("a complete result validates, spec.method and spec.pattern readable", () => {
  const result = RunResult.parse(makeResult(GOOD_METRICS));
  assert.equal(result.spec.kind === "prune" && result.spec.method, "wanda");
  assert.deepEqual(result.spec.kind === "prune" && result.spec.pattern, {
    type: "nm",
    n: 2,
    m: 4,
  });
  assert.equal(result.metrics.ppl?.["test-id"].windows, 12);
  assert.equal(result.provenance.formatVersion, FORMAT_VERSION);
  assert.equal(result.provenance.executionProvider, "wasm");
});

Deno.test("NaN and Infinity are rejected with an explicit message and path", () => {
  const nanPpl = structuredClone(GOOD_METRICS);
  nanPpl.ppl["test-id"].ppl = NaN;
  assert.match(
    issueText(makeResult(nanPpl)),
    /^reports\/runs\/t\/x\.json: metrics\.ppl\["test-id"\]\.ppl: expected a finite number, got NaN \(NaN and Infinity are not allowed/,
  );
  assert.match(
    issueText(makeResult({ ...GOOD_METRICS, tau: Infinity })),
    /metrics\.tau: expected a finite number, got Infinity/,
  );
  assert.match(
    issueText(makeResult({ ...GOOD_METRICS, extra: { deep: [1, -Infinity] } })),
    /metrics\.extra\.deep\[1\]: expected a finite number, got -Infinity/,
  );
  const badArtifacts = { ...makeResult(GOOD_METRICS), artifacts: { hist: [NaN] } };
  assert.match(issueText(badArtifacts), /artifacts\.hist\[0\]: expected a finite number, got NaN/);
});

Deno.test("contract metric shapes are enforced", () => {
  const missing = structuredClone(GOOD_METRICS) as Record<string, Record<string, unknown>>;
  delete (missing.zeroshot.lastword as Record<string, unknown>).acc_norm_ci;
  assert.match(
    issueText(makeResult(missing)),
    /metrics\.zeroshot\.lastword\.acc_norm_ci: required field is missing/,
  );
  assert.match(
    issueText(makeResult({ lossless: "yes" })),
    /metrics\.lossless: expected true or false, got "yes"/,
  );
  assert.match(
    issueText(makeResult({ zeroshot: { t: { ...GOOD_METRICS.zeroshot.lastword, acc: 1.2 } } })),
    /metrics\.zeroshot\.t\.acc: expected a number <= 1, got 1.2/,
  );
});

Deno.test("status and error must agree; kind must match the spec", () => {
  const failedWithoutError = { ...makeResult({}), status: "failed" };
  assert.match(issueText(failedWithoutError), /error: a failed result needs error/);
  const okWithError = { ...makeResult({}), error: { message: "x" } };
  assert.match(issueText(okWithError), /error: only failed results carry "error"/);
  const failed = { ...makeResult({}), status: "failed", error: { message: "boom" } };
  assert.equal(RunResult.parse(failed).status, "failed");
  const wrongKind = { ...makeResult({}), kind: "decode" };
  assert.match(issueText(wrongKind), /spec\.kind: expected "decode"/);
  const badId = { ...makeResult({}), id: "XYZ" };
  assert.match(issueText(badId), /id: expected 16 lowercase hex digits/);
  const unknownTop = { ...makeResult({}), extra: 1 };
  assert.match(issueText(unknownTop), /extra: unknown field/);
});
