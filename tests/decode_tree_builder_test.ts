import assert from "node:assert/strict";
import {
  buildTreeFromAccuracies,
  CANONICAL_TREE_SIZES,
  canonicalTrees,
  expectedAcceptLength,
  nodeExpectation,
  perRankFromCumulative,
} from "../src/decode/tree_builder.ts";
import { buildTreeBuffers } from "../src/decode/tree.ts";

function closeTo(actual: number, expected: number, tol = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} is not within ${tol} of ${expected}`);
}

/** Per-rank accuracies shaped like Medusa's Vicuna-7B table (decoding.md §2.2), 4 heads × 10. */
const MEDUSA_LIKE = [0.56, 0.316, 0.201, 0.147].map((top1, h) =>
  Array.from({ length: 10 }, (_, r) => top1 * Math.pow(0.55 + 0.05 * h, r))
);

Deno.test("greedy growth matches a hand-worked small table", () => {
  // Scores: (0) .6, (1) .2, (2) .1, (0,0) .24, (0,1) .06, (1,0) .08, (1,1) .02, (2,0) .04 …
  const acc = [[0.6, 0.2, 0.1], [0.4, 0.1]];
  assert.deepEqual(buildTreeFromAccuracies(acc, 1), [[0]]);
  assert.deepEqual(buildTreeFromAccuracies(acc, 6), [[0], [0, 0], [1], [2], [1, 0], [0, 1]]);
  closeTo(
    expectedAcceptLength(acc, buildTreeFromAccuracies(acc, 6)),
    1 + 0.6 + 0.24 + 0.2 + 0.1 + 0.08 + 0.06,
  );
  closeTo(nodeExpectation(acc, [1, 0]), 0.08);
  assert.equal(nodeExpectation(acc, [0, 0, 0]), 0); // no third head
  // Ties go to the first frontier node in scan order (sibling before child, older nodes first).
  assert.deepEqual(buildTreeFromAccuracies([[0.5, 0.25], [0.5]], 2), [[0], [1]]);
});

Deno.test("grown trees are valid, nested across sizes, and greedy-optimal at every step", () => {
  const big = buildTreeFromAccuracies(MEDUSA_LIKE, 64);
  assert.equal(big.length, 64);
  const b = buildTreeBuffers(big, { topk: 10 }); // throws if a parent were missing
  assert.equal(b.numNodes, 64);
  assert.ok(b.maxDepth <= 4);
  for (const size of [4, 8, 16, 32]) {
    assert.deepEqual(buildTreeFromAccuracies(MEDUSA_LIKE, size), big.slice(0, size));
  }
  // Each added node scores at least as much as every node added after it could have at that time
  // (greedy growth on a product score is monotone along this table).
  const scores = big.map((p) => nodeExpectation(MEDUSA_LIKE, p));
  for (let i = 1; i < scores.length; i++) assert.ok(scores[i] <= scores[i - 1] + 1e-15);
  // Predicted τ grows with size and stays below 1 + number of heads.
  const taus = CANONICAL_TREE_SIZES.map((s) =>
    expectedAcceptLength(MEDUSA_LIKE, buildTreeFromAccuracies(MEDUSA_LIKE, s))
  );
  for (let i = 1; i < taus.length; i++) assert.ok(taus[i] > taus[i - 1]);
  assert.ok(taus[taus.length - 1] < 5);
});

Deno.test("depth and child limits are respected; too-large sizes are refused", () => {
  const t = buildTreeFromAccuracies(MEDUSA_LIKE, 9, { maxDepth: 2, maxChildren: [3, 2] });
  assert.equal(t.length, 9); // every allowed node: 3 + 3·2
  assert.ok(t.every((p) => p.length <= 2 && p[0] < 3 && (p.length < 2 || p[1] < 2)));
  assert.throws(
    () => buildTreeFromAccuracies(MEDUSA_LIKE, 10, { maxDepth: 2, maxChildren: [3, 2] }),
    /exceeds the 9 nodes/,
  );
  // topk caps the ranks.
  const capped = buildTreeFromAccuracies(MEDUSA_LIKE, 20, { topk: 2 });
  assert.ok(capped.every((p) => p.every((r) => r < 2)));
  assert.throws(() => buildTreeFromAccuracies(MEDUSA_LIKE, 0), RangeError);
  assert.throws(() => buildTreeFromAccuracies([[0.5, 1.5]], 1), /acc\[0\]\[1\] = 1.5/);
  assert.throws(() => buildTreeFromAccuracies([], 1), /empty/);
});

Deno.test("cumulative top-k accuracies convert to per-rank hit rates", () => {
  const perRank = perRankFromCumulative([[0.56, 0.66, 0.72], [0.3, 0.3, 0.35]]);
  perRank[0].forEach((v, i) => closeTo(v, [0.56, 0.1, 0.06][i], 1e-12));
  perRank[1].forEach((v, i) => closeTo(v, [0.3, 0, 0.05][i], 1e-12));
});

Deno.test("canonical sweep: chain over all heads, then the canonical sizes", () => {
  const trees = canonicalTrees(MEDUSA_LIKE);
  assert.deepEqual(trees.map((t) => t.name), [
    "chain-4",
    "tree-4",
    "tree-8",
    "tree-16",
    "tree-32",
    "tree-64",
  ]);
  assert.deepEqual(trees[0].paths, [[0], [0, 0], [0, 0, 0], [0, 0, 0, 0]]);
  assert.equal(trees[5].paths.length, 64);
  // Sizes the table cannot hold are skipped: 2 heads × 2 ranks hold at most 6 nodes.
  const small = canonicalTrees([[0.5, 0.2], [0.3, 0.1]]);
  assert.deepEqual(small.map((t) => t.name), ["chain-2", "tree-4"]);
});
