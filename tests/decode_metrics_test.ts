import assert from "node:assert/strict";
import {
  acceptLengthHistogram,
  aggregateTokensPerSecond,
  categoryBreakdown,
  decodeMetrics,
  latencySplit,
  losslessCheck,
  meanAcceptedLength,
  meanTokensPerSecond,
  overhead,
  perDepthAcceptance,
  type PromptRun,
  speedup,
  spread,
  tokensPerSecond,
} from "../src/decode/metrics.ts";

function closeTo(actual: number | null, expected: number, tol = 1e-9): void {
  assert.ok(
    actual !== null && Math.abs(actual - expected) <= tol,
    `${actual} is not within ${tol} of ${expected}`,
  );
}

function run(
  prompt: string,
  newTokens: number,
  wallMs: number,
  acceptLengths: number[],
  category?: string,
  stepMs: [number, number, number] = [1, 2, 3],
): PromptRun {
  return {
    prompt,
    category,
    newTokens,
    wallMs,
    acceptLengths,
    steps: acceptLengths.map(() => ({
      draftMs: stepMs[0],
      verifyMs: stepMs[1],
      bookkeepingMs: stepMs[2],
    })),
  };
}

// Method: repeat 0 → 20 and 30 tok/s (mean 25); repeat 1 → 40 and 30 tok/s (mean 35).
const METHOD: PromptRun[][] = [
  [
    run("p1", 20, 1000, [3, 1, 2], "qa", [1, 4, 1]),
    run("p2", 30, 1000, [1, 1, 4, 2], "math", [1, 4, 1]),
  ],
  [
    run("p1", 20, 500, [3, 1, 2], "qa", [1, 4, 1]),
    run("p2", 30, 1000, [1, 1, 4, 2], "math", [1, 4, 1]),
  ],
];
// AR: repeat 0 → 10 and 20 tok/s (mean 15); repeat 1 → 10 and 10 tok/s (mean 10).
const AR: PromptRun[][] = [
  [
    run("p1", 20, 2000, new Array(20).fill(1), "qa", [0, 2, 0]),
    run("p2", 30, 1500, new Array(30).fill(1), "math", [0, 2, 0]),
  ],
  [
    run("p1", 20, 2000, new Array(20).fill(1), "qa", [0, 2, 0]),
    run("p2", 30, 3000, new Array(30).fill(1), "math", [0, 2, 0]),
  ],
];

Deno.test("spread: mean, std with ddof = 1, min, max", () => {
  const s = spread([2, 4, 4, 4, 5, 5, 7, 9]);
  closeTo(s.mean, 5);
  closeTo(s.std, Math.sqrt(32 / 7));
  assert.equal(s.min, 2);
  assert.equal(s.max, 9);
  assert.equal(s.n, 8);
  assert.equal(spread([3]).std, null);
  assert.ok(Number.isNaN(spread([]).mean));
});

Deno.test("throughput per prompt and Spec-Bench speedup as a ratio of mean per-prompt rates", () => {
  assert.equal(tokensPerSecond(METHOD[0][0]), 20);
  assert.equal(meanTokensPerSecond(METHOD[1]), 35);
  assert.equal(meanTokensPerSecond(AR[0]), 15);
  // Total-tokens/total-time differs from the mean of rates: 50 tokens / 3.5 s.
  closeTo(aggregateTokensPerSecond(AR[0]), 50 / 3.5);
  const s = speedup(METHOD, AR);
  closeTo(s.perRepeat[0], 25 / 15);
  closeTo(s.perRepeat[1], 35 / 10);
  closeTo(s.mean, (25 / 15 + 3.5) / 2);
  closeTo(s.std, Math.abs(3.5 - 25 / 15) / Math.SQRT2);
  closeTo(s.min, 25 / 15);
  closeTo(s.max, 3.5);
  // One baseline repeat is reused for every method repeat; other mismatches are refused.
  closeTo(speedup(METHOD, [AR[1]]).perRepeat[0], 2.5);
  assert.throws(() => speedup(METHOD, [AR[0], AR[1], AR[0]]), /baseline repeats/);
});

Deno.test("τ pools every step and counts the target's own token (AR = 1.00)", () => {
  closeTo(meanAcceptedLength(METHOD[0]), (3 + 1 + 2 + 1 + 1 + 4 + 2) / 7);
  assert.equal(meanAcceptedLength(AR.flat()), 1);
});

Deno.test("per-depth acceptance is conditional on reaching the depth", () => {
  const d = perDepthAcceptance([1, 2, 3, 3, 1, 4], 3);
  assert.deepEqual(d.map((x) => [x.depth, x.reached, x.accepted]), [[1, 6, 4], [2, 4, 3], [
    3,
    3,
    1,
  ]]);
  closeTo(d[0].rate, 4 / 6);
  closeTo(d[1].rate, 0.75);
  closeTo(d[2].rate, 1 / 3);
  assert.equal(perDepthAcceptance([1, 1], 2)[1].rate, null);
});

Deno.test("histogram of accepted lengths", () => {
  const h = acceptLengthHistogram([1, 2, 3, 3, 1, 4], 5);
  assert.deepEqual(h.map((b) => b.count), [2, 1, 2, 1, 0]);
  assert.deepEqual(h.map((b) => b.length), [1, 2, 3, 4, 5]);
  closeTo(h[0].fraction, 2 / 6);
  assert.deepEqual(acceptLengthHistogram([1, 1]).map((b) => b.count), [2]);
});

Deno.test("latency split and overhead = speculative step ÷ AR step", () => {
  const l = latencySplit(METHOD[0]);
  assert.deepEqual(l, { draftMs: 1, verifyMs: 4, bookkeepingMs: 1, stepMs: 6, steps: 7 });
  assert.equal(overhead(METHOD.flat(), AR.flat()), 3);
  assert.equal(
    latencySplit([{ prompt: "x", newTokens: 1, wallMs: 1, acceptLengths: [1] }]).steps,
    0,
  );
});

Deno.test("per-category breakdown and the full decode metrics", () => {
  const c = categoryBreakdown(METHOD, AR);
  assert.deepEqual(Object.keys(c), ["qa", "math"]);
  // qa: method 20, 40 tok/s vs AR 10, 10 → speedups 2 and 4.
  assert.deepEqual(c.qa.speedup.perRepeat, [2, 4]);
  closeTo(c.qa.tau, 2);
  // math: method 30, 30 vs AR 20, 10 → 1.5 and 3.
  assert.deepEqual(c.math.speedup.perRepeat, [1.5, 3]);
  closeTo(c.math.tau, 2);
  assert.equal(c.math.prompts, 1);

  const m = decodeMetrics({ method: METHOD, baseline: AR, maxDepth: 3 });
  closeTo(m.tau, 2);
  closeTo(m.speedup.mean, (25 / 15 + 3.5) / 2);
  closeTo(m.tokensPerSecond.mean, 30);
  closeTo(m.baselineTokensPerSecond.mean, 12.5);
  assert.equal(m.overhead, 3);
  closeTo(m.predictedSpeedup, 2 / 3);
  assert.deepEqual(m.acceptLengthHistogram.map((b) => b.count), [6, 4, 2, 2]);
  assert.deepEqual(m.perDepthAcceptance.map((d) => d.reached), [14, 8, 4]);
  assert.equal(m.prompts, 2);
  // The whole object is JSON-serialisable without loss of structure.
  assert.deepEqual(JSON.parse(JSON.stringify(m)).perCategory.qa.speedup.perRepeat, [2, 4]);
});

Deno.test("lossless check lists every divergence with its first position", () => {
  const ar = { a: [1, 2, 3, 4], b: [5, 6, 7], c: [1, 2, 3], d: [9] };
  const same = losslessCheck(ar, { a: [1, 2, 3, 4], b: [5, 6, 7], c: [1, 2, 3], d: [9] });
  assert.deepEqual(same, { lossless: true, checked: 4, exceptions: [] });
  const r = losslessCheck(ar, { a: [1, 2, 3, 4], b: [5, 6, 8], c: [1, 2] });
  assert.equal(r.lossless, false);
  assert.deepEqual(r.exceptions, [
    { prompt: "b", firstDivergence: 2, arLength: 3, specLength: 3 },
    { prompt: "c", firstDivergence: 2, arLength: 3, specLength: 2 },
    { prompt: "d", firstDivergence: 0, arLength: 1, specLength: -1 },
  ]);
});
