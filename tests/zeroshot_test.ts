import assert from "node:assert/strict";
import type { TaskItem } from "../src/data/tasks.ts";
import {
  charLength,
  encodePair,
  evaluateZeroShot,
  judgeItem,
  type LogLikelihood,
  type LogLikelihoodScorer,
  truncateContext,
  wilsonInterval,
  type ZeroShotTokenizer,
} from "../src/eval/zeroshot.ts";

/** Character-level tokenizer: one id per code point, eos = 0. */
const charTokenizer: ZeroShotTokenizer = {
  encode: (text) => [...text].map((c) => c.codePointAt(0)!),
  eosId: 0,
};
const decode = (ids: readonly number[]) => String.fromCodePoint(...ids);

interface Call {
  context: readonly number[];
  continuation: string;
}

/** A scorer whose answers come from a table keyed by the decoded continuation. */
function tableScorer(
  table: Record<string, Partial<LogLikelihood>>,
  maxLength = 256,
): LogLikelihoodScorer & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    maxLength,
    calls,
    loglikelihood(context, continuation) {
      const text = decode(continuation);
      calls.push({ context, continuation: text });
      const row = table[text];
      if (row === undefined) throw new Error(`no score for ${JSON.stringify(text)}`);
      return Promise.resolve({ logprob: row.logprob ?? 0, greedyMatch: row.greedyMatch ?? false });
    },
  };
}

const close = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} ≉ ${b}`);

Deno.test("Wilson intervals match the closed form on known cases", () => {
  const [lo, hi] = wilsonInterval(50, 100);
  close(lo, 0.4038315303659956);
  close(hi, 0.5961684696340044);
  const [lo3, hi3] = wilsonInterval(1, 3);
  close(lo3, 0.06149194472039615);
  close(hi3, 0.7923403991979523);
  assert.deepEqual(wilsonInterval(0, 10)[0], 0);
  close(wilsonInterval(0, 10)[1], 0.2775327998628892);
  close(wilsonInterval(10, 10)[0], 0.7224672001371107);
  assert.ok(wilsonInterval(10, 10)[1] <= 1);
  assert.throws(() => wilsonInterval(0, 0), /n \(0\)/);
  assert.throws(() => wilsonInterval(4, 3), /successes \(4\)/);
});

Deno.test("acc and acc_norm with intervals on hand-made multiple-choice items", async () => {
  const items: TaskItem[] = [
    // Summed: " a" (−2) beats " bbbbbbb" (−3); per character: −1 vs −0.375, so acc_norm picks 1.
    { id: "A", context: "Q", choices: [" a", " bbbbbbb"], gold: 1 },
    { id: "B", context: "Q", choices: [" yes", " no"], gold: 0 },
    { id: "C", context: "Q", choices: [" x", " y"], gold: 1 },
  ];
  const scorer = tableScorer({
    " a": { logprob: -2 },
    " bbbbbbb": { logprob: -3 },
    " yes": { logprob: -1 },
    " no": { logprob: -5 },
    " x": { logprob: -1 },
    " y": { logprob: -4 },
  });
  const r = await evaluateZeroShot(scorer, items, { tokenizer: charTokenizer });
  assert.equal(r.n, 3);
  close(r.acc, 1 / 3);
  close(r.acc_norm, 2 / 3);
  assert.notEqual(r.acc, r.acc_norm);
  close(r.acc_ci[0], 0.06149194472039615);
  close(r.acc_ci[1], 0.7923403991979523);
  close(r.acc_norm_ci[0], 0.20765960080204765);
  close(r.acc_norm_ci[1], 0.9385080552796037);
  assert.equal(r.requests, 6);
  assert.equal(r.truncated, 0);
  assert.equal(r.norm, "chars");
  assert.equal(r.ppl, undefined);
  assert.equal(r.by_category, undefined);
  // Every choice of an item gets the identical context array (adapters may cache on it).
  assert.equal(scorer.calls[0].context, scorer.calls[1].context);
  assert.deepEqual([...scorer.calls[0].context], [..."Q"].map((c) => c.codePointAt(0)));
});

Deno.test("judgeItem: ties go to the lowest index; acc_norm divides by code points", () => {
  const item: TaskItem = { context: "c", choices: [" p", " q"], gold: 1 };
  const tie = judgeItem(item, [{ logprob: -1, greedyMatch: false }, {
    logprob: -1,
    greedyMatch: false,
  }]);
  assert.equal(tie.predicted, 0);
  assert.equal(tie.correct, false);
  assert.equal(charLength(" é😀"), 3);
  // " é😀" is 3 code points (−3 → −1 each); " abcd" is 5 (−4 → −0.8 each): acc_norm picks 1.
  const uni: TaskItem = { context: "c", choices: [" é😀", " abcd"], gold: 1 };
  const o = judgeItem(uni, [{ logprob: -3, greedyMatch: false }, {
    logprob: -4,
    greedyMatch: false,
  }]);
  assert.equal(o.correct, false);
  assert.equal(o.correctNorm, true);
  assert.throws(() => judgeItem(uni, [{ logprob: 0, greedyMatch: true }]), /1 scores for 2/);
});

Deno.test("loglikelihood items: acc = greedy match, ppl = exp(-mean target logprob)", async () => {
  const items: TaskItem[] = [
    { context: "one two", choices: [" three"], gold: 0, type: "loglikelihood", category: "p" },
    { context: "four five", choices: [" six"], gold: 0, type: "loglikelihood", category: "q" },
  ];
  const scorer = tableScorer({
    " three": { logprob: -1, greedyMatch: true },
    " six": { logprob: -3, greedyMatch: false },
  });
  const r = await evaluateZeroShot(scorer, items, { tokenizer: charTokenizer });
  assert.equal(r.acc, 0.5);
  assert.equal(r.acc_norm, 0.5);
  close(r.ppl!, Math.exp(2));
  assert.deepEqual(r.by_category, {
    p: { n: 1, acc: 1, acc_norm: 1 },
    q: { n: 1, acc: 0, acc_norm: 0 },
  });
  close(r.acc_ci[0], 0.09453120573423074);
});

Deno.test("encodePair moves trailing space to the continuation and uses eos for empty contexts", () => {
  const p = encodePair(charTokenizer, "abc ", "d");
  assert.equal(decode(p.context), "abc");
  assert.equal(decode(p.continuation), " d");
  const e = encodePair(charTokenizer, "", "Hello there.");
  assert.deepEqual(e.context, [0]);
  assert.equal(decode(e.continuation), "Hello there.");
  assert.throws(
    () => encodePair({ ...charTokenizer, eosId: undefined }, "", "x"),
    /empty context.*no end-of-text/,
  );
  // Normal case: the continuation is whole[len(context):], even when it differs from
  // encode(continuation) alone.
  const joining: ZeroShotTokenizer = {
    encode: (t) => t === "x y" ? [5, 6] : t === "x" ? [5] : t === " y" ? [7, 8] : [9],
    eosId: 0,
  };
  assert.deepEqual(encodePair(joining, "x", " y"), { context: [5], continuation: [6] });
  // A merge across the boundary: the continuation is encoded on its own instead.
  const merging: ZeroShotTokenizer = {
    encode: (t) => t === "ab" ? [1] : t === "a" ? [2] : [...t].map((c) => c.codePointAt(0)!),
    eosId: 0,
  };
  assert.deepEqual(encodePair(merging, "a", "b"), { context: [2], continuation: [98] });
});

Deno.test("contexts longer than the model are left-truncated", async () => {
  assert.deepEqual(truncateContext([1, 2, 3, 4, 5, 6], [7, 8], 5), [3, 4, 5, 6]);
  assert.deepEqual(truncateContext([1, 2], [7, 8], 5), [1, 2]);
  assert.throws(() => truncateContext([1], [1, 2, 3, 4, 5, 6, 7], 5), /7 tokens does not fit/);
  const scorer = tableScorer({ " z": { logprob: -1 }, " w": { logprob: -2 } }, 5);
  const r = await evaluateZeroShot(scorer, [{
    context: "abcdefgh",
    choices: [" z", " w"],
    gold: 0,
  }], {
    tokenizer: charTokenizer,
  });
  assert.equal(r.truncated, 1);
  assert.equal(decode(scorer.calls[0].context as number[]), "efgh");
  assert.equal(r.acc, 1);
});

Deno.test("evaluateZeroShot: limit, progress, and errors that name the item", async () => {
  const items: TaskItem[] = [
    { id: "i0", context: "c", choices: [" a", " b"], gold: 0 },
    { id: "i1", context: "c", choices: [" a", " nan"], gold: 0 },
  ];
  const scorer = tableScorer({ " a": { logprob: -1 }, " b": { logprob: -2 }, " nan": {} });
  const seen: number[] = [];
  const r = await evaluateZeroShot(scorer, items, {
    tokenizer: charTokenizer,
    limit: 1,
    onProgress: (done) => seen.push(done),
  });
  assert.equal(r.n, 1);
  assert.deepEqual(seen, [1]);
  const bad = tableScorer({ " a": { logprob: -1 }, " nan": { logprob: NaN } });
  await assert.rejects(
    evaluateZeroShot(bad, items.slice(1), { tokenizer: charTokenizer }),
    /zero-shot i1: scorer returned a non-finite log-probability/,
  );
  await assert.rejects(
    evaluateZeroShot(scorer, [], { tokenizer: charTokenizer }),
    /no items/,
  );
});
