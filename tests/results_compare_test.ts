import assert from "node:assert/strict";
import {
  compareResults,
  flattenMetrics,
  formatComparison,
  formatNumber,
  formatTable,
} from "../src/results/compare.ts";
import type { RunResult } from "../src/results/schema.ts";

function result(
  id: string,
  label: string,
  metrics: RunResult["metrics"],
  status: "ok" | "failed" = "ok",
): RunResult {
  return {
    id,
    label,
    suite: "s",
    kind: "prune",
    status,
    metrics,
    ...(status === "failed" ? { error: { message: "x" } } : {}),
  } as unknown as RunResult;
}

const PPL = (ppl: number) => ({ ppl, nll: Math.log(ppl), windows: 1, tokens: 256, seqlen: 256 });

Deno.test("flattenMetrics names the headline metrics and free-form numbers", () => {
  const flat = flattenMetrics({
    ppl: { "test-id": PPL(30) },
    zeroshot: {
      lastword: { acc: 0.5, acc_norm: 0.6, n: 10, acc_ci: [0.2, 0.8], acc_norm_ci: [0.3, 0.9] },
    },
    tau: 2.5,
    lossless: true,
    extra: { layers: { q: 0.1 }, list: [1, 2] },
  });
  assert.deepEqual([...flat.entries()], [
    ["ppl[test-id]", 30],
    ["zeroshot[lastword].acc", 0.5],
    ["zeroshot[lastword].acc_norm", 0.6],
    ["tau", 2.5],
    ["lossless", true],
    ["extra.layers.q", 0.1],
  ]);
});

Deno.test("runs match by id, then by label; unmatched ones are listed", () => {
  const base = [
    result("a".repeat(16), "dense", { ppl: { t: PPL(20) } }),
    result("b".repeat(16), "wanda-50%", { ppl: { t: PPL(40) } }),
    result("c".repeat(16), "gone", {}),
  ];
  const cand = [
    result("a".repeat(16), "dense", { ppl: { t: PPL(20) } }),
    result("d".repeat(16), "wanda-50%", { ppl: { t: PPL(30) } }),
    result("e".repeat(16), "new", {}, "failed"),
  ];
  const c = compareResults(base, cand);
  assert.equal(c.rows.length, 2);
  const wanda = c.rows[1];
  assert.equal(wanda.run, "wanda-50%");
  assert.equal(wanda.delta, -10);
  assert.equal(wanda.relative, -0.25);
  assert.deepEqual(c.onlyBaseline.map((r) => r.label), ["gone"]);
  assert.deepEqual(c.onlyCandidate.map((r) => r.label), ["new"]);
  const text = formatComparison(c);
  assert.match(text, /wanda-50%\s+ppl\[t\]\s+40\s+30\s+-10\s+-25\.00%/);
  assert.match(text, /only in baseline: gone/);
  assert.match(text, /only in candidate: new/);
});

Deno.test("status changes are shown", () => {
  const c = compareResults(
    [result("a".repeat(16), "x", { tau: 2 })],
    [result("a".repeat(16), "x", {}, "failed")],
  );
  assert.deepEqual(c.rows.map((r) => [r.metric, r.baseline, r.candidate]), [
    ["status", "ok", "failed"],
    ["tau", 2, null],
  ]);
});

Deno.test("number and table formatting", () => {
  assert.equal(formatNumber(3), "3");
  assert.equal(formatNumber(23.456789), "23.457");
  assert.equal(formatNumber(0.000012345), "1.234e-5");
  assert.equal(
    formatTable(["name", "n"], [["a", "1"], ["bbb", "22"]]),
    "name   n\n----  --\na      1\nbbb   22",
  );
});
