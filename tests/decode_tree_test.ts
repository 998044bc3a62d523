import assert from "node:assert/strict";
import {
  buildTreeBuffers,
  causalAttentionBias,
  chainTree,
  MASK_NEG,
  retrievePath,
  treeAttentionBias,
  type TreeBuffers,
} from "../src/decode/tree.ts";
import { buildCandidates, pathCandidates, treeTokens } from "../src/decode/candidates.ts";
import { MC_SIM_7B_63 } from "../src/decode/tree_builder.ts";

/** The worked example of research/decoding.md §2.4. */
const EXAMPLE = [[0], [0, 0], [0, 1], [0, 2], [1], [1, 0], [1, 1], [1, 2]];

function maskRows(b: TreeBuffers): number[][] {
  return Array.from(
    { length: b.size },
    (_, i) => Array.from(b.attentionMask.slice(i * b.size, (i + 1) * b.size)),
  );
}

function retrieveRows(b: TreeBuffers): number[][] {
  return Array.from(
    { length: b.numPaths },
    (_, p) => Array.from(b.retrieveIndices.slice(p * b.pathWidth, (p + 1) * b.pathWidth)),
  );
}

Deno.test("tree buffers reproduce Medusa's worked example (decoding.md §2.4)", () => {
  const b = buildTreeBuffers(EXAMPLE, { topk: 10 });
  assert.deepEqual(b.paths, [[0], [1], [0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]);
  assert.equal(b.numNodes, 8);
  assert.equal(b.size, 9);
  assert.equal(b.maxDepth, 2);
  assert.deepEqual(b.depthCounts, [2, 6]);
  assert.deepEqual(Array.from(b.treeIndices), [0, 1, 2, 11, 12, 13, 11, 12, 13]);
  assert.deepEqual(Array.from(b.depths), [0, 1, 1, 2, 2, 2, 2, 2, 2]);
  assert.deepEqual(Array.from(b.parents), [-1, 0, 0, 1, 1, 1, 2, 2, 2]);
  // root→{root}; (0)→{root,(0)}; (1)→{root,(1)}; (0,x)→{root,(0),self}; (1,x)→{root,(1),self}
  assert.deepEqual(maskRows(b), [
    [1, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 1, 0, 0, 0, 0, 0, 0, 0],
    [1, 0, 1, 0, 0, 0, 0, 0, 0],
    [1, 1, 0, 1, 0, 0, 0, 0, 0],
    [1, 1, 0, 0, 1, 0, 0, 0, 0],
    [1, 1, 0, 0, 0, 1, 0, 0, 0],
    [1, 0, 1, 0, 0, 0, 1, 0, 0],
    [1, 0, 1, 0, 0, 0, 0, 1, 0],
    [1, 0, 1, 0, 0, 0, 0, 0, 1],
  ]);
  // Medusa walks the sorted paths backwards: the last sorted leaf gives the first row.
  assert.deepEqual(retrieveRows(b), [
    [0, 2, 8],
    [0, 2, 7],
    [0, 2, 6],
    [0, 1, 5],
    [0, 1, 4],
    [0, 1, 3],
  ]);
  assert.deepEqual(Array.from(b.pathLengths), [3, 3, 3, 3, 3, 3]);
});

Deno.test("tree buffers do not depend on the input order of the paths", () => {
  const shuffled = [[1, 2], [0], [1, 0], [0, 2], [1], [0, 1], [1, 1], [0, 0]];
  const a = buildTreeBuffers(EXAMPLE);
  const b = buildTreeBuffers(shuffled);
  assert.deepEqual(b.paths, a.paths);
  assert.deepEqual(b.retrieveIndices, a.retrieveIndices);
  assert.deepEqual(b.attentionMask, a.attentionMask);
  assert.deepEqual(b.treeIndices, a.treeIndices);
});

Deno.test("mixed-depth tree: Medusa's retrieve order, −1 padding, ancestors in the mask", () => {
  // sorted: 1:(0) 2:(1) 3:(2) 4:(0,0) 5:(0,1) 6:(0,0,0)
  const b = buildTreeBuffers([[0], [1], [2], [0, 0], [0, 1], [0, 0, 0]], { topk: 4 });
  assert.deepEqual(Array.from(b.treeIndices), [0, 1, 2, 3, 5, 6, 9]);
  assert.deepEqual(Array.from(b.depths), [0, 1, 1, 1, 2, 2, 3]);
  assert.deepEqual(retrieveRows(b), [
    [0, 1, 4, 6],
    [0, 1, 5, -1],
    [0, 3, -1, -1],
    [0, 2, -1, -1],
  ]);
  assert.deepEqual(Array.from(b.pathLengths), [4, 3, 2, 2]);
  assert.deepEqual(Array.from(retrievePath(b, 1)), [0, 1, 5]);
  // (0,0,0) sees root, (0), (0,0) and itself only.
  assert.deepEqual(maskRows(b)[6], [1, 1, 0, 0, 1, 0, 1]);
});

Deno.test("Medusa's mc_sim_7b_63 tree: 63 nodes, 10/28/23/2 per depth, 42 leaf paths", () => {
  const b = buildTreeBuffers(MC_SIM_7B_63);
  assert.equal(b.numNodes, 63);
  assert.equal(b.size, 64);
  assert.deepEqual(b.depthCounts, [10, 28, 23, 2]);
  assert.equal(b.numPaths, 42);
  assert.equal(b.pathWidth, 5);
  // Every row is a chain root → … → leaf: each entry is the parent of the next.
  for (let p = 0; p < b.numPaths; p++) {
    const row = retrievePath(b, p);
    assert.equal(row[0], 0);
    for (let i = 1; i < row.length; i++) assert.equal(b.parents[row[i]], row[i - 1]);
    for (let i = row.length; i < b.pathWidth; i++) assert.equal(b.retrieveIndices[p * 5 + i], -1);
  }
  // Each tree node appears on some path, each leaf ends exactly one path.
  const onPaths = new Set(b.retrieveIndices);
  for (let i = 0; i < b.size; i++) assert.ok(onPaths.has(i));
  // A node sees exactly depth + 1 tree tokens (root, ancestors, itself).
  for (let i = 0; i < b.size; i++) {
    const seen: number = b.attentionMask.slice(i * b.size, (i + 1) * b.size).reduce(
      (s, v) => s + v,
      0,
    );
    assert.equal(seen, b.depths[i] + 1);
  }
});

Deno.test("chain tree: one path of top-1 candidates", () => {
  assert.deepEqual(chainTree(3), [[0], [0, 0], [0, 0, 0]]);
  const b = buildTreeBuffers(chainTree(3), { topk: 10 });
  assert.deepEqual(Array.from(b.treeIndices), [0, 1, 11, 21]);
  assert.deepEqual(retrieveRows(b), [[0, 1, 2, 3]]);
  assert.deepEqual(Array.from(b.depths), [0, 1, 2, 3]);
  // Chain mask = causal lower triangle.
  assert.deepEqual(maskRows(b), [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]);
  assert.throws(() => chainTree(0), RangeError);
});

Deno.test("root-only tree verifies one token per step", () => {
  const b = buildTreeBuffers([]);
  assert.equal(b.size, 1);
  assert.equal(b.numPaths, 1);
  assert.deepEqual(Array.from(b.retrieveIndices), [0]);
  assert.deepEqual(Array.from(b.attentionMask), [1]);
});

Deno.test("bad trees are rejected with the offending path named", () => {
  assert.throws(() => buildTreeBuffers([[0], [0, 1, 0]]), /\[0,1,0\] has no parent \[0,1\]/);
  assert.throws(() => buildTreeBuffers([[0], [0]]), /repeats/);
  assert.throws(() => buildTreeBuffers([[0], [3]], { topk: 3 }), /paths\[1\]\[0\] = 3/);
  assert.throws(() => buildTreeBuffers([[]]), /empty/);
  assert.throws(() => buildTreeBuffers([[0]], { topk: 0 }), RangeError);
});

Deno.test("tree attention bias: whole prefix visible, tree mask inside the block", () => {
  const b = buildTreeBuffers(EXAMPLE);
  const prefix = 3;
  const bias = treeAttentionBias(b, prefix);
  const cols = prefix + b.size;
  assert.equal(bias.length, b.size * cols);
  for (let i = 0; i < b.size; i++) {
    for (let j = 0; j < prefix; j++) assert.equal(bias[i * cols + j], 0);
    for (let j = 0; j < b.size; j++) {
      const expected = b.attentionMask[i * b.size + j] === 1 ? 0 : MASK_NEG;
      assert.equal(bias[i * cols + prefix + j], expected);
    }
  }
  // Row of node (1,0) (tree position 6): prefix, root, (1), itself.
  const row6 = Array.from(bias.slice(6 * cols, 7 * cols), (v) => (v === 0 ? 1 : 0));
  assert.deepEqual(row6, [1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0]);
});

Deno.test("causal attention bias", () => {
  const bias = causalAttentionBias({ pastLength: 2, queryLength: 3 });
  const rows = Array.from(
    { length: 3 },
    (_, i) => Array.from(bias.slice(i * 5, i * 5 + 5), (v) => (v === 0 ? 1 : 0)),
  );
  assert.deepEqual(rows, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]]);
  assert.deepEqual(Array.from(causalAttentionBias({ pastLength: 4, queryLength: 1 })), [
    0,
    0,
    0,
    0,
    0,
  ]);
});

Deno.test("candidates: root argmax, per-head top-k, tree tokens = cand[tree_indices]", () => {
  const V = 6;
  const topk = 3;
  const rootLogits = Float32Array.of(0, 1, 5, 2, 5, 0); // tie 2/4 → first (2)
  const headLogits = Float32Array.of(
    // head 0: ranks 3, 0, 5 (tie 0/5 at 2.0 → 0 first)
    2,
    0,
    1,
    9,
    -1,
    2,
    // head 1: ranks 4, 1, 2
    0,
    8,
    7,
    0,
    9,
    0,
  );
  const cand = buildCandidates({ rootLogits, headLogits, numHeads: 2, vocabSize: V, topk });
  assert.deepEqual(Array.from(cand), [2, 3, 0, 5, 4, 1, 2]);
  const b = buildTreeBuffers([[0], [1], [0, 0], [0, 2], [1, 1]], { topk });
  // sorted: (0),(1),(0,0),(0,2),(1,1) → indices 0,1,2,4,6,5
  assert.deepEqual(Array.from(b.treeIndices), [0, 1, 2, 4, 6, 5]);
  const tokens = treeTokens(cand, b);
  assert.deepEqual(Array.from(tokens), [2, 3, 0, 4, 2, 1]);
  // retrieve rows: (1,1)=5 → [0,2,5]; (0,2)=4 → [0,1,4]; (0,0)=3 → [0,1,3]
  assert.deepEqual(retrieveRows(b), [[0, 2, 5], [0, 1, 4], [0, 1, 3]]);
  assert.deepEqual(Array.from(pathCandidates(tokens, b)), [2, 0, 1, 2, 3, 2, 2, 3, 4]);
  // A tree deeper than the heads filled is refused.
  const oneHead = buildCandidates({
    root: 1,
    headLogits,
    numHeads: 2,
    vocabSize: V,
    topk,
    useHeads: 1,
  });
  assert.throws(() => treeTokens(oneHead, b), /not filled/);
});

/** Direct transliteration of Medusa's `generate_medusa_buffers` list logic (index() lookups). */
function medusaReference(choices: number[][], topk: number) {
  const key = (p: number[]) => p.join(",");
  const sorted = [...choices].sort((a, b) => {
    if (a.length !== b.length) return a.length - b.length;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return 0;
  });
  const indexOf = (p: number[]) => sorted.findIndex((q) => key(q) === key(p));
  const len = sorted.length + 1;
  const mask = Array.from(
    { length: len },
    (_, i) => Array.from({ length: len }, (_, j) => (i === j || j === 0 ? 1 : 0)),
  );
  const treeIndices = [0];
  const positions = [0];
  sorted.forEach((c, i) => {
    for (let k = 0; k < c.length - 1; k++) mask[i + 1][indexOf(c.slice(0, k + 1)) + 1] = 1;
    treeIndices.push(c[c.length - 1] + topk * (c.length - 1) + 1);
    positions.push(c.length);
  });
  const nest: number[][] = [];
  const retrievePaths: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const c = sorted[sorted.length - 1 - i];
    if (retrievePaths.includes(key(c))) continue;
    const r: number[] = [];
    for (let k = 0; k < c.length; k++) {
      r.push(indexOf(c.slice(0, k + 1)));
      retrievePaths.push(key(c.slice(0, k + 1)));
    }
    nest.push(r);
  }
  const width = Math.max(...nest.map((r) => r.length));
  const retrieve = nest.map((
    r,
  ) => [0, ...[...r, ...new Array(width - r.length).fill(-2)].map((v) => v + 1)]);
  return { mask, treeIndices, positions, retrieve };
}

function randomTree(seed: number, nodes: number, topk: number, depth: number): number[][] {
  let s = seed;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const chosen = new Map<string, number[]>([["0", [0]]]);
  while (chosen.size < nodes) {
    const all = [...chosen.values()];
    const parent = all[Math.floor(rand() * all.length)];
    const cand = rand() < 0.5 && parent.length < depth
      ? [...parent, Math.floor(rand() * topk)]
      : [Math.floor(rand() * topk)];
    if (cand.length > 1 && !chosen.has(cand.slice(0, -1).join(","))) continue;
    chosen.set(cand.join(","), cand);
  }
  return [...chosen.values()];
}

Deno.test("buffers equal a transliteration of Medusa's reference on mc_sim_7b_63 and random trees", () => {
  const trees = [
    MC_SIM_7B_63.map((p) => [...p]),
    EXAMPLE,
    ...[1, 2, 3, 4, 5].map((s) => randomTree(s, 20, 4, 4)),
  ];
  for (const t of trees) {
    const ref = medusaReference(t, 10);
    const b = buildTreeBuffers(t, { topk: 10 });
    assert.deepEqual(maskRows(b), ref.mask);
    assert.deepEqual(Array.from(b.treeIndices), ref.treeIndices);
    assert.deepEqual(Array.from(b.depths), ref.positions);
    assert.deepEqual(retrieveRows(b), ref.retrieve);
  }
});
