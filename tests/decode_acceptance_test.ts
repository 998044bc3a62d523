import assert from "node:assert/strict";
import {
  acceptCandidates,
  acceptGreedy,
  acceptTypical,
  argmax,
  entropy,
  mulberry32,
  sampleFromLogits,
  softmax,
  topK,
  typicalThreshold,
} from "../src/decode/acceptance.ts";
import { buildTreeBuffers } from "../src/decode/tree.ts";

const V = 16;
/** decoding.md §2.4 tree; sorted: 1:(0) 2:(1) 3:(0,0) 4:(0,1) 5:(0,2) 6:(1,0) 7:(1,1) 8:(1,2). */
const TREE = buildTreeBuffers([[0], [0, 0], [0, 1], [0, 2], [1], [1, 0], [1, 1], [1, 2]]);
/** Tree tokens in tree order: root 5, (0)=7, (1)=8, (0,x)=1,2,3, (1,x)=4,6,9. */
const TOKENS = Int32Array.of(5, 7, 8, 1, 2, 3, 4, 6, 9);

/** Logits matrix [9, V] whose row `node` is `ln p` for the given sparse probabilities. */
function logitsFrom(rows: Record<number, Record<number, number>>): Float32Array {
  const out = new Float32Array(TREE.size * V);
  for (let node = 0; node < TREE.size; node++) {
    const given = rows[node] ?? { 15: 1 };
    const mass = Object.values(given).reduce((s, v) => s + v, 0);
    const rest = (1 - mass) / (V - Object.keys(given).length);
    for (let t = 0; t < V; t++) {
      const p = given[t] ?? Math.max(rest, 1e-9);
      out[node * V + t] = Math.log(p);
    }
  }
  return out;
}

function closeTo(actual: number, expected: number, tol: number): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} is not within ${tol} of ${expected}`);
}

Deno.test("argmax and topK: first index wins ties, top-k is stable and descending", () => {
  assert.equal(argmax([1, 3, 3, 2]), 1);
  assert.equal(argmax([9, 1, 3, 3, 2], 1, 4), 1);
  assert.equal(argmax([NaN, -1, NaN]), 1);
  assert.equal(argmax([-Infinity, -Infinity]), 0);
  assert.deepEqual(Array.from(topK([0.5, 2, 2, -1, 7], 3)), [4, 1, 2]);
  assert.deepEqual(Array.from(topK([3, 1, 2], 5)), [0, 2, 1]);
  assert.deepEqual(Array.from(topK([1, 1, 1, 1], 2)), [0, 1]);
  assert.deepEqual(Array.from(topK([0, 0, 5, 4, 0, 0, 9, 8], 2, 4, 4)), [2, 3]);
});

Deno.test("softmax with temperature and entropy", () => {
  const p = softmax([2, 1, 0]);
  const z = Math.E ** 2 + Math.E + 1;
  closeTo(p[0], Math.E ** 2 / z, 1e-12);
  closeTo(p[2], 1 / z, 1e-12);
  const cold = softmax([2, 1, 0], { temperature: 0.5 });
  closeTo(cold[0], Math.E ** 4 / (Math.E ** 4 + Math.E ** 2 + 1), 1e-12);
  closeTo(entropy([0.25, 0.25, 0.25, 0.25]), Math.log(4), 1e-12);
  assert.equal(entropy([1, 0, 0]), 0);
  closeTo(entropy([0.5, 0.5], 1e-5), -Math.log(0.5 + 1e-5), 1e-12);
  assert.throws(() => softmax([1, 2], { temperature: 0 }), /argmax/);
  // Huge logits do not overflow.
  const big = softmax([1000, 1000]);
  assert.deepEqual(Array.from(big), [0.5, 0.5]);
});

Deno.test("mulberry32 is seeded, reproducible and roughly uniform; sampling follows softmax", () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const xs = Array.from({ length: 5000 }, a);
  assert.deepEqual(Array.from({ length: 5000 }, b), xs);
  assert.notDeepEqual(Array.from({ length: 5 }, mulberry32(43)), xs.slice(0, 5));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  closeTo(xs.reduce((s, x) => s + x, 0) / xs.length, 0.5, 0.02);

  const logits = [0, Math.log(3)]; // p = [0.25, 0.75]
  const random = mulberry32(7);
  let ones = 0;
  for (let i = 0; i < 4000; i++) ones += sampleFromLogits(logits, { temperature: 1, random });
  closeTo(ones / 4000, 0.75, 0.03);
  assert.equal(sampleFromLogits([0, 5, 1], { temperature: 0 }), 1);
  // top-p 0.5 keeps only the most likely token.
  const r2 = mulberry32(1);
  const probs = [Math.log(0.3), Math.log(0.6), Math.log(0.1)];
  for (let i = 0; i < 200; i++) {
    assert.equal(sampleFromLogits(probs, { temperature: 1, random: r2, topP: 0.5 }), 1);
  }
  const seq = (seed: number) => {
    const r = mulberry32(seed);
    return Array.from(
      { length: 20 },
      () => sampleFromLogits([0, 0, 0, 0], { temperature: 1, random: r }),
    );
  };
  assert.deepEqual(seq(3), seq(3));
});

Deno.test("greedy acceptance: longest leading run of argmax matches", () => {
  // root → 8 accepts (1) (and rejects (0)); (1) → 6 accepts (1,1); (0) → 2 is never reached.
  const logits = logitsFrom({ 0: { 8: 0.9 }, 1: { 2: 0.9 }, 2: { 6: 0.9 } });
  const r = acceptGreedy({ buffers: TREE, tokens: TOKENS, logits, vocabSize: V });
  assert.equal(r.bestPath, 1); // retrieve row [0, 2, 7]
  assert.equal(r.acceptLength, 2);
  assert.deepEqual(Array.from(r.acceptedNodes), [0, 2, 7]);
  assert.deepEqual(Array.from(r.acceptedTokens), [5, 8, 6]);
  assert.equal(r.lastNode, 7);
});

Deno.test("greedy acceptance: first path on ties, path 0 when nothing is accepted", () => {
  const tie = acceptGreedy({
    buffers: TREE,
    tokens: TOKENS,
    logits: logitsFrom({ 0: { 7: 0.9 }, 1: { 15: 0.9 } }),
    vocabSize: V,
  });
  // (0) accepted, none of its children: rows 3, 4, 5 all have length 1 → row 3.
  assert.equal(tie.bestPath, 3);
  assert.equal(tie.acceptLength, 1);
  assert.deepEqual(Array.from(tie.acceptedTokens), [5, 7]);
  assert.equal(tie.lastNode, 1);

  const none = acceptGreedy({
    buffers: TREE,
    tokens: TOKENS,
    logits: logitsFrom({ 0: { 15: 0.9 } }),
    vocabSize: V,
  });
  assert.equal(none.bestPath, 0);
  assert.equal(none.acceptLength, 0);
  assert.deepEqual(Array.from(none.acceptedTokens), [5]);
  assert.equal(none.lastNode, 0);
});

Deno.test("greedy acceptance through a logits callback reads each node at most once", () => {
  const logits = logitsFrom({ 0: { 8: 0.9 }, 1: { 2: 0.9 }, 2: { 6: 0.9 } });
  const reads: number[] = [];
  const r = acceptCandidates({
    buffers: TREE,
    tokens: TOKENS,
    logits: (node) => {
      reads.push(node);
      return logits.subarray(node * V, (node + 1) * V);
    },
    vocabSize: V,
  }, { kind: "greedy" });
  assert.deepEqual(Array.from(r.acceptedNodes), [0, 2, 7]);
  assert.equal(new Set(reads).size, reads.length);
  // Node (0)'s logits are never read: they judge (0,x), which only happens once (0) is accepted.
  assert.ok(!reads.includes(1));
});

Deno.test("padded retrieve positions are never accepted", () => {
  // Tree (0), (1), (0,0): row [0, 2, -1] is padded; its leaf logits predict token 0 (Medusa's
  // pad token) — a naive implementation would count the pad as accepted.
  const b = buildTreeBuffers([[0], [1], [0, 0]], { topk: 2 });
  const tokens = Int32Array.of(3, 4, 5, 6);
  const logits = new Float32Array(4 * 8);
  logits[0 * 8 + 5] = 9; // root predicts (1)
  logits[2 * 8 + 0] = 9; // (1) predicts 0 = pad
  const r = acceptGreedy({ buffers: b, tokens, logits, vocabSize: 8 });
  assert.equal(r.acceptLength, 1);
  assert.deepEqual(Array.from(r.acceptedTokens), [3, 5]);
});

Deno.test("typical threshold: ε branch on peaked distributions", () => {
  // p = [0.82, 0.095, 0.085]: H ≈ 0.596, δ·e^−H ≈ 0.165 > ε → threshold = ε = 0.09.
  const t = typicalThreshold([0.82, 0.095, 0.085].map(Math.log), { temperature: 1 });
  closeTo(t.entropy, 0.596, 1e-3);
  assert.equal(t.threshold, 0.09);
  assert.ok(t.probs[1] > t.threshold); // 0.095 accepted
  assert.ok(!(t.probs[2] > t.threshold)); // 0.085 rejected
});

Deno.test("typical threshold: δ·exp(−H) branch on flat distributions", () => {
  // Uniform over 20: H ≈ ln 20, threshold ≈ 0.3/20 = 0.015 < ε, so p = 0.05 < ε is accepted.
  const flat = typicalThreshold(new Array(20).fill(0), { temperature: 1 });
  const h = -Math.log(0.05 + 1e-5); // Medusa's smoothed entropy of the uniform distribution
  closeTo(flat.entropy, h, 1e-9);
  closeTo(flat.threshold, 0.3 * Math.exp(-h), 1e-12);
  closeTo(flat.threshold, 0.015, 1e-4);
  assert.ok(flat.probs[7] > flat.threshold);
  // p = [0.5, 0.02 × 25]: H ≈ 2.303, threshold ≈ 0.03 → the 0.02 tail is rejected.
  const tail = typicalThreshold([0.5, ...new Array(25).fill(0.02)].map(Math.log), {
    temperature: 1,
  });
  closeTo(tail.threshold, 0.03, 3e-4);
  assert.ok(tail.probs[0] > tail.threshold && !(tail.probs[1] > tail.threshold));
  // Custom ε, δ.
  const custom = typicalThreshold(new Array(20).fill(0), {
    temperature: 1,
    posteriorThreshold: 0.01,
    posteriorAlpha: 0.9,
  });
  assert.equal(custom.threshold, 0.01);
});

Deno.test("typical threshold depends on temperature", () => {
  // logits [2, 1, 0]: at T = 0.5 p = [0.867, 0.117, 0.016] → token 2 rejected;
  // at T = 2 p = [0.506, 0.307, 0.186] → all accepted (threshold ε = 0.09).
  const cold = typicalThreshold([2, 1, 0], { temperature: 0.5 });
  assert.equal(cold.threshold, 0.09);
  assert.ok(cold.probs[1] > cold.threshold && !(cold.probs[2] > cold.threshold));
  const hot = typicalThreshold([2, 1, 0], { temperature: 2 });
  assert.equal(hot.threshold, 0.09);
  assert.ok(hot.probs[2] > hot.threshold);
});

Deno.test("typical acceptance: longest run, ties broken by the sum of log-probabilities", () => {
  // root: p(7) = 0.6, p(8) = 0.3 → both (0) and (1) accepted.
  // (0): p(1) = 0.5 → (0,0) accepted; (1): p(4) = 0.45 → (1,0) accepted.
  // Both runs have length 2; ln .6 + ln .5 > ln .3 + ln .45 → the (0,0) path (row 5), although
  // the (1,0) path comes first (row 2).
  const logits = logitsFrom({
    0: { 7: 0.6, 8: 0.3 },
    1: { 1: 0.5, 15: 0.45 },
    2: { 4: 0.45, 15: 0.45 },
  });
  const input = { buffers: TREE, tokens: TOKENS, logits, vocabSize: V };
  const r = acceptTypical(input, { temperature: 1 });
  assert.equal(r.acceptLength, 2);
  assert.equal(r.bestPath, 5);
  assert.deepEqual(Array.from(r.acceptedNodes), [0, 1, 3]);
  assert.deepEqual(Array.from(r.acceptedTokens), [5, 7, 1]);
  // The same logits with the likelihoods swapped pick the (1,0) path.
  const swapped = logitsFrom({
    0: { 7: 0.3, 8: 0.6 },
    1: { 1: 0.45, 15: 0.45 },
    2: { 4: 0.5, 15: 0.45 },
  });
  const s = acceptTypical({ ...input, logits: swapped }, { temperature: 1 });
  assert.deepEqual(Array.from(s.acceptedNodes), [0, 2, 6]);
  // ε = 0.7 with a large δ: the threshold is 0.7 and root p(7) = 0.6 fails it.
  const strict = acceptTypical(input, {
    temperature: 1,
    posteriorThreshold: 0.7,
    posteriorAlpha: 10,
  });
  assert.equal(strict.acceptLength, 0);
  assert.equal(strict.bestPath, 0);
});

Deno.test("typical acceptance at a very low temperature equals greedy", () => {
  const logits = logitsFrom({ 0: { 8: 0.5, 7: 0.4 }, 1: { 2: 0.9 }, 2: { 6: 0.5, 9: 0.45 } });
  const input = { buffers: TREE, tokens: TOKENS, logits, vocabSize: V };
  const g = acceptGreedy(input);
  const t = acceptTypical(input, { temperature: 0.01 });
  assert.deepEqual(t, g);
  assert.deepEqual(Array.from(g.acceptedTokens), [5, 8, 6]);
});
