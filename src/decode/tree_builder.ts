/**
 * Sparse trees from measured head accuracies (research/decoding.md §2.3, Medusa
 * `medusa/eval/gen_results.py::explore_graph`).
 *
 * Input: `acc[h][r]` = probability that head `h`'s rank-`r` token equals the token the target emits
 * at that head's offset (per-rank hit rate, not cumulative top-k). Under the independence
 * assumption a node's score is the product of `acc[d][path[d]]` along its path, and the sum of
 * scores is the expected number of accepted draft tokens per step.
 *
 * Greedy growth: start from `(0)`; repeatedly look at every chosen node's next sibling and first
 * child, and add the best-scoring one not yet chosen (first in scan order on ties).
 *
 * @module
 */

import { chainTree } from "./tree.ts";

/** Options of {@linkcode buildTreeFromAccuracies}. */
export interface TreeBuilderOptions {
  /** Deepest allowed node (default: number of heads in the table). */
  maxDepth?: number;
  /**
   * Children allowed per depth (ranks `0..maxChildren−1`), one number for all depths or one per
   * depth (default: ranks measured per head, capped by `topk`).
   */
  maxChildren?: number | readonly number[];
  /** Candidates per head the runtime will keep (default 10); caps ranks. */
  topk?: number;
}

/** Tree sizes (non-root nodes) of the tree-size sweep, next to the chain tree. */
export const CANONICAL_TREE_SIZES: readonly number[] = [4, 8, 16, 32, 64];

// deno-fmt-ignore
/**
 * Medusa's default 63-node tree `mc_sim_7b_63` (built from Vicuna-7B accuracies; 10/28/23/2 nodes
 * at depths 1–4), listed in Medusa's order (FasterDecoding/Medusa `medusa/model/medusa_choices.py`).
 * Spec-Bench's default Medusa tree; a reference point, not tuned for our models.
 */
export const MC_SIM_7B_63: readonly (readonly number[])[] = [
  [0], [0, 0], [1], [0, 1], [2], [0, 0, 0], [1, 0], [0, 2], [3], [0, 3], [4], [0, 4], [2, 0],
  [0, 5], [0, 0, 1], [5], [0, 6], [6], [0, 7], [0, 1, 0], [1, 1], [7], [0, 8], [0, 0, 2], [3, 0],
  [0, 9], [8], [9], [1, 0, 0], [0, 2, 0], [1, 2], [0, 0, 3], [4, 0], [2, 1], [0, 0, 4], [0, 0, 5],
  [0, 0, 0, 0], [0, 1, 1], [0, 0, 6], [0, 3, 0], [5, 0], [1, 3], [0, 0, 7], [0, 0, 8], [0, 0, 9],
  [6, 0], [0, 4, 0], [1, 4], [7, 0], [0, 1, 2], [2, 0, 0], [3, 1], [2, 2], [8, 0], [0, 5, 0],
  [1, 5], [1, 0, 1], [0, 2, 1], [9, 0], [0, 6, 0], [0, 0, 0, 1], [1, 6], [0, 7, 0],
];

function checkTable(acc: readonly (readonly number[])[]): void {
  if (acc.length === 0) {
    throw new Error("tree builder: accuracy table is empty; give one row per head (head × rank)");
  }
  acc.forEach((row, h) => {
    if (row.length === 0) {
      throw new Error(`tree builder: acc[${h}] is empty; give at least rank 0 per head`);
    }
    row.forEach((v, r) => {
      if (!Number.isFinite(v) || v < 0 || v > 1) {
        throw new RangeError(
          `tree builder: acc[${h}][${r}] = ${v} is not a probability in [0, 1]; pass per-rank hit rates`,
        );
      }
    });
  });
}

/**
 * Expected score of one node under the independence assumption: `Π_d acc[d][path[d]]`.
 *
 * @param acc per-head per-rank accuracies.
 * @param path rank path.
 * @returns the product (0 when a rank or head is outside the table).
 */
export function nodeExpectation(
  acc: readonly (readonly number[])[],
  path: readonly number[],
): number {
  let e = 1;
  for (let d = 0; d < path.length; d++) e *= acc[d]?.[path[d]] ?? 0;
  return e;
}

/**
 * Predicted τ of a tree: 1 (the target's own token) + the sum of node expectations.
 *
 * @param acc per-head per-rank accuracies.
 * @param paths the tree.
 * @returns the expected tokens committed per step under the independence assumption.
 */
export function expectedAcceptLength(
  acc: readonly (readonly number[])[],
  paths: readonly (readonly number[])[],
): number {
  return 1 + paths.reduce((s, p) => s + nodeExpectation(acc, p), 0);
}

/**
 * Converts cumulative top-k accuracies (`top[h][k]` = P(hit within the first k+1 ranks)) into the
 * per-rank hit rates the builder needs (successive differences, clamped at 0).
 *
 * @param top cumulative accuracies per head.
 * @returns per-rank accuracies per head.
 */
export function perRankFromCumulative(top: readonly (readonly number[])[]): number[][] {
  return top.map((row) => row.map((v, k) => Math.max(0, k === 0 ? v : v - row[k - 1])));
}

/**
 * Medusa's greedy tree growth from measured accuracies.
 *
 * @param acc per-head per-rank accuracies, `acc[h][r]` (head h serves depth h + 1).
 * @param size number of nodes (excluding the root) to grow; Medusa's default trees have 63.
 * @param options depth and per-depth child limits, `topk`.
 * @returns rank paths in the order they were added (first is `[0]`).
 * @throws RangeError when `size` exceeds the number of nodes the limits allow.
 */
export function buildTreeFromAccuracies(
  acc: readonly (readonly number[])[],
  size: number,
  options: TreeBuilderOptions = {},
): number[][] {
  checkTable(acc);
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`buildTreeFromAccuracies: size must be a positive integer, got ${size}`);
  }
  const maxDepth = Math.min(options.maxDepth ?? acc.length, acc.length);
  const topk = options.topk ?? 10;
  const limit = (d: number): number => {
    const m = options.maxChildren;
    const given = m === undefined ? acc[d].length : typeof m === "number" ? m : m[d] ?? 0;
    return Math.min(given, acc[d].length, topk);
  };
  let capacity = 0;
  let level = 1;
  for (let d = 0; d < maxDepth; d++) {
    level *= limit(d);
    capacity += level;
  }
  if (size > capacity) {
    throw new RangeError(
      `buildTreeFromAccuracies: size ${size} exceeds the ${capacity} nodes allowed by maxDepth ${maxDepth} and the per-depth child limits; lower size or measure more ranks/heads`,
    );
  }

  const accepted: number[][] = [[0]];
  const chosen = new Set<string>(["0"]);
  while (accepted.length < size) {
    let best: number[] | undefined;
    let bestScore = -Infinity;
    for (const node of accepted) {
      const depth = node.length;
      const neighbours: number[][] = [];
      if (node[depth - 1] < limit(depth - 1) - 1) {
        neighbours.push([...node.slice(0, -1), node[depth - 1] + 1]);
      }
      if (depth < maxDepth) neighbours.push([...node, 0]);
      for (const n of neighbours) {
        if (chosen.has(n.join(","))) continue;
        const score = nodeExpectation(acc, n);
        if (score > bestScore) {
          best = n;
          bestScore = score;
        }
      }
    }
    if (best === undefined) break; // unreachable: capacity was checked
    accepted.push(best);
    chosen.add(best.join(","));
  }
  return accepted;
}

/** A named tree for sweeps. */
export interface NamedTree {
  /** Stable name, e.g. `chain-4` or `tree-16`. */
  name: string;
  /** Rank paths. */
  paths: number[][];
}

/**
 * The tree-size sweep set: the chain over all heads, then one greedy tree per canonical size
 * (sizes larger than the table allows are skipped).
 *
 * @param acc per-head per-rank accuracies.
 * @param options `sizes` (default {@linkcode CANONICAL_TREE_SIZES}) plus builder options.
 * @returns named trees, chain first.
 */
export function canonicalTrees(
  acc: readonly (readonly number[])[],
  options: TreeBuilderOptions & { sizes?: readonly number[] } = {},
): NamedTree[] {
  checkTable(acc);
  const depth = Math.min(options.maxDepth ?? acc.length, acc.length);
  const out: NamedTree[] = [{ name: `chain-${depth}`, paths: chainTree(depth) }];
  for (const size of options.sizes ?? CANONICAL_TREE_SIZES) {
    try {
      out.push({ name: `tree-${size}`, paths: buildTreeFromAccuracies(acc, size, options) });
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
  }
  return out;
}
