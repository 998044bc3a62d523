/**
 * Candidate construction for one speculative step (research/decoding.md §2.3, Medusa
 * `generate_candidates`): the root is the target's next token, each drafting head contributes its
 * top-k tokens, and the tree picks from the flat vector `[root, head0 top-k, head1 top-k, …]`.
 *
 * @module
 */

import { argmax, topK } from "./sampling.ts";
import type { TreeBuffers } from "./tree.ts";

/** Inputs of {@linkcode buildCandidates}. */
export interface CandidateInput {
  /** Root token; when omitted it is `argmax(rootLogits)`. */
  root?: number;
  /** The target's logits for the next position, `[V]` (used when `root` is omitted). */
  rootLogits?: ArrayLike<number>;
  /** Per-head logits, row-major `[numHeads, vocabSize]`; head j proposes position +2+j. */
  headLogits: ArrayLike<number>;
  /** Number of heads (rows of `headLogits`). */
  numHeads: number;
  /** Vocabulary size (columns of `headLogits`). */
  vocabSize: number;
  /** Candidates kept per head (must equal the tree's `topk`). */
  topk: number;
  /** Only the first `useHeads` heads are read (default `numHeads`); the rest of the vector is −1. */
  useHeads?: number;
}

/**
 * Builds the flat candidate vector `[root, head0 top-k, head1 top-k, …]` of length
 * `1 + numHeads·topk`. Top-k is in descending logit order, lower token id first on ties.
 *
 * @param input root (or root logits), head logits and sizes.
 * @returns the candidate token ids.
 */
export function buildCandidates(input: CandidateInput): Int32Array {
  const { headLogits, numHeads, vocabSize, topk } = input;
  if (headLogits.length !== numHeads * vocabSize) {
    throw new RangeError(
      `buildCandidates: headLogits has ${headLogits.length} values, expected numHeads·vocabSize = ${numHeads}·${vocabSize}`,
    );
  }
  if (topk > vocabSize) {
    throw new RangeError(`buildCandidates: topk ${topk} exceeds the vocabulary size ${vocabSize}`);
  }
  let root = input.root;
  if (root === undefined) {
    if (input.rootLogits === undefined) {
      throw new Error("buildCandidates: give either root or rootLogits");
    }
    root = argmax(input.rootLogits);
  }
  const useHeads = Math.min(input.useHeads ?? numHeads, numHeads);
  const out = new Int32Array(1 + numHeads * topk).fill(-1);
  out[0] = root;
  for (let h = 0; h < useHeads; h++) {
    out.set(topK(headLogits, topk, h * vocabSize, vocabSize), 1 + h * topk);
  }
  return out;
}

/**
 * The N + 1 tokens of the tree block: `candidates[treeIndices]`.
 *
 * @param candidates flat candidate vector from {@linkcode buildCandidates}.
 * @param buffers the tree buffers (its `topk` must match the candidates' layout).
 * @returns token ids in tree order (root first).
 */
export function treeTokens(candidates: Int32Array, buffers: TreeBuffers): Int32Array {
  const out = new Int32Array(buffers.size);
  for (let i = 0; i < buffers.size; i++) {
    const c = buffers.treeIndices[i];
    if (c >= candidates.length || candidates[c] < 0) {
      throw new RangeError(
        `treeTokens: tree position ${i} reads candidate ${c}, which was not filled; the tree needs ${buffers.maxDepth} heads with topk ${buffers.topk}`,
      );
    }
    out[i] = candidates[c];
  }
  return out;
}

/**
 * Tokens along every retrieve row (Medusa's `cart_candidates`), row-major
 * `[numPaths, pathWidth]`; padded positions hold −1 (Medusa pads with token 0).
 *
 * @param tokens tree tokens from {@linkcode treeTokens}.
 * @param buffers the tree buffers.
 * @returns the per-path candidate tokens.
 */
export function pathCandidates(tokens: Int32Array, buffers: TreeBuffers): Int32Array {
  const out = new Int32Array(buffers.retrieveIndices.length);
  buffers.retrieveIndices.forEach((node, i) => {
    out[i] = node < 0 ? -1 : tokens[node];
  });
  return out;
}
