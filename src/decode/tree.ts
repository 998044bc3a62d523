/**
 * Sparse candidate trees in Medusa's format and the buffers one tree-verification pass needs
 * (research/decoding.md §2.3–2.4, Medusa `generate_medusa_buffers`).
 *
 * A tree is a list of *rank paths*: path `(r1, r2, …)` is the node reached by taking rank `r1` of
 * head 0, then rank `r2` of head 1, …; depth `d` is served by head `d − 1`. The root (depth 0) is
 * the target model's own next token and is not listed. Every prefix of a listed path must be
 * listed too.
 *
 * Layout of the tree block (N nodes plus the root, N + 1 query tokens): position 0 is the root,
 * then the nodes sorted by (length, lexicographic ranks), exactly as Medusa sorts them.
 *
 * @module
 */

/** A path of per-depth ranks, e.g. `[0, 2]` = rank 0 of head 0, then rank 2 of head 1. */
export type TreePath = readonly number[];

/**
 * Additive attention-mask value for a masked (query, key) pair. Large and finite so that adding it
 * to a float32 attention score never overflows to -Infinity or produces NaN; use `-Infinity`-safe
 * kernels if you convert masks to fp16 (−1e9 is out of fp16 range).
 */
export const MASK_NEG: number = -1e9;

/** Options of {@linkcode buildTreeBuffers}. */
export interface TreeBufferOptions {
  /** Candidates kept per head (Medusa's `TOPK`, default 10); every rank must be `< topk`. */
  topk?: number;
}

/** Everything one verification pass needs, derived once per tree. */
export interface TreeBuffers {
  /** The paths sorted by (length, lexicographic); node `i + 1` of the tree block is `paths[i]`. */
  readonly paths: readonly (readonly number[])[];
  /** Number of nodes N, excluding the root. */
  readonly numNodes: number;
  /** Query tokens in one verification pass, N + 1 (the root included). */
  readonly size: number;
  /** Candidates per head used for `treeIndices`. */
  readonly topk: number;
  /** Deepest node's depth (the number of heads the tree needs). */
  readonly maxDepth: number;
  /** Nodes per depth 1..maxDepth (`depthCounts[d − 1]`). */
  readonly depthCounts: readonly number[];
  /**
   * Tree attention mask, row-major `[size, size]`, 1 where query `i` may attend to tree token `j`:
   * the root, the node's ancestors and itself; 0 elsewhere.
   */
  readonly attentionMask: Uint8Array;
  /** Depth of every tree token (root 0); position id = prefix length + depth. */
  readonly depths: Int32Array;
  /** Parent tree position of every tree token (root: −1). */
  readonly parents: Int32Array;
  /**
   * Index of every tree token into the flat candidate vector `[root, head0 top-k, head1 top-k, …]`:
   * root 0, node `1 + rank + topk·(depth − 1)`.
   */
  readonly treeIndices: Int32Array;
  /**
   * Root-to-leaf paths as tree positions, row-major `[numPaths, maxDepth + 1]`, padded with −1;
   * column 0 is always the root (0). Rows are in Medusa's order (deepest/last sorted leaf first).
   */
  readonly retrieveIndices: Int32Array;
  /** Rows of `retrieveIndices`. */
  readonly numPaths: number;
  /** Columns of `retrieveIndices` (maxDepth + 1). */
  readonly pathWidth: number;
  /** Real (unpadded) length of every retrieve row, root included. */
  readonly pathLengths: Int32Array;
}

function describe(path: TreePath): string {
  return `[${path.join(",")}]`;
}

function compareRankPaths(a: TreePath, b: TreePath): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return 0;
}

/**
 * Checks a tree (paths of ranks) and builds its verification buffers, reproducing Medusa's
 * `generate_medusa_buffers`: sorted nodes, tree attention mask, depths (position offsets),
 * tree indices and retrieve indices.
 *
 * @param paths the tree as rank paths in any order (Medusa's `medusa_choices`).
 * @param options `topk` candidates per head (default 10).
 * @returns the buffers.
 * @throws Error naming the offending path when a path is empty, has a rank outside
 *   `[0, topk)`, is listed twice, or lacks its parent.
 */
export function buildTreeBuffers(
  paths: readonly TreePath[],
  options: TreeBufferOptions = {},
): TreeBuffers {
  const topk = options.topk ?? 10;
  if (!Number.isInteger(topk) || topk < 1) {
    throw new RangeError(`buildTreeBuffers: options.topk must be a positive integer, got ${topk}`);
  }
  const seen = new Map<string, number>();
  paths.forEach((p, i) => {
    if (p.length === 0) {
      throw new Error(
        `buildTreeBuffers: paths[${i}] is empty; the root is implicit, list only its descendants`,
      );
    }
    p.forEach((r, d) => {
      if (!Number.isInteger(r) || r < 0 || r >= topk) {
        throw new RangeError(
          `buildTreeBuffers: paths[${i}][${d}] = ${r} in ${
            describe(p)
          } is not a rank in [0, ${topk}); raise options.topk or fix the path`,
        );
      }
    });
    const key = describe(p);
    if (seen.has(key)) {
      throw new Error(
        `buildTreeBuffers: paths[${i}] ${key} repeats paths[${
          seen.get(key)
        }]; remove the duplicate`,
      );
    }
    seen.set(key, i);
  });
  for (const [key, i] of seen) {
    const p = paths[i];
    if (p.length > 1 && !seen.has(describe(p.slice(0, -1)))) {
      throw new Error(
        `buildTreeBuffers: paths[${i}] ${key} has no parent ${
          describe(p.slice(0, -1))
        } in the tree; add every prefix of a path`,
      );
    }
  }

  const sorted = paths.map((p) => [...p]).sort(compareRankPaths);
  const numNodes = sorted.length;
  const size = numNodes + 1;
  const maxDepth = numNodes === 0 ? 0 : sorted[numNodes - 1].length;
  const index = new Map<string, number>(); // path → tree position (1-based; root is 0)
  sorted.forEach((p, i) => index.set(describe(p), i + 1));

  const depthCounts = new Array<number>(maxDepth).fill(0);
  const depths = new Int32Array(size);
  const parents = new Int32Array(size);
  const treeIndices = new Int32Array(size);
  const attentionMask = new Uint8Array(size * size);
  parents[0] = -1;
  attentionMask[0] = 1;
  for (let i = 1; i < size; i++) {
    const p = sorted[i - 1];
    const depth = p.length;
    depthCounts[depth - 1]++;
    depths[i] = depth;
    parents[i] = depth === 1 ? 0 : index.get(describe(p.slice(0, -1)))!;
    treeIndices[i] = 1 + p[depth - 1] + topk * (depth - 1);
    const row = i * size;
    attentionMask[row] = 1;
    attentionMask[row + i] = 1;
    for (let a = parents[i]; a > 0; a = parents[a]) attentionMask[row + a] = 1;
  }

  // Retrieve rows, Medusa's order: walk the sorted paths from the last one backwards and start a
  // row at every path not already covered as a prefix of an earlier row.
  const covered = new Set<number>();
  const rows: number[][] = [];
  for (let i = size - 1; i >= 1; i--) {
    if (covered.has(i)) continue;
    const chain: number[] = [];
    for (let a = i; a > 0; a = parents[a]) {
      chain.push(a);
      covered.add(a);
    }
    chain.push(0);
    rows.push(chain.reverse());
  }
  // Degenerate tree (root only): one path of length 1, so verification still commits a token.
  if (rows.length === 0) rows.push([0]);
  const pathWidth = maxDepth + 1;
  const numPaths = rows.length;
  const retrieveIndices = new Int32Array(numPaths * pathWidth).fill(-1);
  const pathLengths = new Int32Array(numPaths);
  rows.forEach((r, k) => {
    retrieveIndices.set(r, k * pathWidth);
    pathLengths[k] = r.length;
  });
  return {
    paths: sorted,
    numNodes,
    size,
    topk,
    maxDepth,
    depthCounts,
    attentionMask,
    depths,
    parents,
    treeIndices,
    retrieveIndices,
    numPaths,
    pathWidth,
    pathLengths,
  };
}

/**
 * A chain tree `(0), (0,0), (0,0,0), …`: top-1 of every head, one path.
 *
 * @param depth number of draft tokens (heads used), ≥ 1.
 * @returns the rank paths.
 */
export function chainTree(depth: number): number[][] {
  if (!Number.isInteger(depth) || depth < 1) {
    throw new RangeError(`chainTree: depth must be a positive integer, got ${depth}`);
  }
  return Array.from({ length: depth }, (_, d) => new Array<number>(d + 1).fill(0));
}

/**
 * Additive attention-mask rows for the tree block behind a cached prefix of `prefixLength`
 * tokens: row-major Float32Array `[size, prefixLength + size]` (reshape to
 * `[1, 1, size, prefixLength + size]` for a 4-D mask input). Every tree token sees the whole
 * prefix (0), and inside the tree block the tree mask applies (0 where allowed, {@linkcode MASK_NEG}
 * elsewhere).
 *
 * @param buffers the tree buffers.
 * @param prefixLength number of valid cached rows before the tree block.
 * @returns the mask rows.
 */
export function treeAttentionBias(buffers: TreeBuffers, prefixLength: number): Float32Array {
  const size = buffers.size;
  const cols = prefixLength + size;
  const out = new Float32Array(size * cols);
  for (let i = 0; i < size; i++) {
    const row = i * cols + prefixLength;
    for (let j = 0; j < size; j++) {
      if (buffers.attentionMask[i * size + j] === 0) out[row + j] = MASK_NEG;
    }
  }
  return out;
}

/**
 * Additive causal attention-mask rows for `queryLength` new tokens behind `pastLength` cached
 * ones: row-major Float32Array `[queryLength, pastLength + queryLength]`; query `i` sees every past
 * row and new tokens `0..i`. A one-token AR step gives a single all-zero row.
 *
 * @param options `pastLength` cached rows and `queryLength` new tokens.
 * @returns the mask rows.
 */
export function causalAttentionBias(
  options: { pastLength: number; queryLength: number },
): Float32Array {
  const { pastLength, queryLength } = options;
  const cols = pastLength + queryLength;
  const out = new Float32Array(queryLength * cols);
  for (let i = 0; i < queryLength; i++) {
    out.fill(MASK_NEG, i * cols + pastLength + i + 1, (i + 1) * cols);
  }
  return out;
}

/**
 * One retrieve row as tree positions without padding.
 *
 * @param buffers the tree buffers.
 * @param path row of `retrieveIndices`.
 * @returns tree positions from the root to the leaf.
 */
export function retrievePath(buffers: TreeBuffers, path: number): Int32Array {
  const start = path * buffers.pathWidth;
  return buffers.retrieveIndices.slice(start, start + buffers.pathLengths[path]);
}
