/**
 * The Medusa-style speculative decoding loop (research/decoding.md §2.8) and the autoregressive
 * baseline, written against two small interfaces — {@linkcode TreeTarget} (the target model with
 * its KV cache) and {@linkcode Drafter} (drafting heads) — so both loops run on the same session
 * and cache, and can be tested with pure-TypeScript toys.
 *
 * One speculative step:
 * 1. draft: root = argmax(carried logits); head logits from the drafter; flat candidates
 *    `[root, head0 top-k, …]`; tree tokens = candidates[treeIndices];
 * 2. verify: one target forward over the N + 1 tree tokens at positions prefix + depth, with the
 *    tree attention mask behind the whole cached prefix (appends N + 1 KV rows);
 * 3. bookkeeping: greedy or typical acceptance; KV compaction keeping the prefix and the accepted
 *    rows; commit root + accepted tokens; carry the logits (and hidden states) of the last
 *    accepted node to the next step; stop on EOS or max new tokens.
 *
 * @module
 */

import { type AcceptanceRule, acceptCandidates } from "./acceptance.ts";
import { buildCandidates, treeTokens } from "./candidates.ts";
import type { StepTiming } from "./metrics.ts";
import { argmax, mulberry32, sampleFromLogits } from "./sampling.ts";
import { causalAttentionBias, treeAttentionBias, type TreeBuffers } from "./tree.ts";

/** One forward call of the target over new tokens behind the cached prefix. */
export interface TargetForwardInput {
  /** New tokens, length T. */
  tokens: Int32Array;
  /** Position ids of the new tokens, length T (tree: prefix length + depth). */
  positions: Int32Array;
  /**
   * Additive attention mask, row-major `[T, cacheLength + T]` (reshape to
   * `[1, 1, T, cacheLength + T]`): 0 = visible, `MASK_NEG` = hidden. Columns `[0, cacheLength)`
   * are the cached rows, the rest the new tokens in order.
   */
  attentionBias: Float32Array;
}

/** Outputs of one target forward. */
export interface TargetForwardOutput {
  /** Base LM logits, row-major `[T, vocabSize]`. */
  logits: Float32Array;
  /** Last-layer hidden states (after the final norm, as the LM head reads them), `[T, hiddenSize]`. */
  hidden: Float32Array;
}

/** Outputs of prefill. */
export interface PrefillOutput {
  /** Logits at the last prompt position, `[vocabSize]`. */
  logits: Float32Array;
  /**
   * Hidden states of the last m ≥ 1 prompt positions, `[m, hiddenSize]` (normally all P; a
   * Medusa drafter reads only the last row).
   */
  hidden: Float32Array;
}

/**
 * The target model with its KV cache, as the decoding loops need it. Implemented by the
 * onnxruntime session wrapper; batch size 1.
 *
 * Cache contract: the cache holds `cacheLength` valid rows, row r = the token at position r of the
 * committed sequence (after compaction). `forward` appends one row per new token at
 * `[cacheLength, cacheLength + T)`; `selectCache` then keeps chosen rows.
 */
export interface TreeTarget {
  /** Vocabulary size V (columns of logits). */
  readonly vocabSize: number;
  /** Hidden size d (columns of hidden states). */
  readonly hiddenSize: number;
  /** Number of valid KV rows now. */
  readonly cacheLength: number;
  /** Cache capacity in rows (max positions); the loops stop before exceeding it. */
  readonly maxCacheLength?: number;
  /**
   * Clears the cache and runs the prompt causally; afterwards `cacheLength === ids.length`.
   *
   * @param ids prompt tokens (≥ 1).
   */
  prefill(ids: Int32Array): Promise<PrefillOutput>;
  /**
   * Runs T new tokens behind the cached rows with the given positions and additive mask, appends
   * their KV rows, returns logits and hidden states for every new token.
   */
  forward(input: TargetForwardInput): Promise<TargetForwardOutput>;
  /**
   * KV compaction: the new cache is `old[rows[0]], old[rows[1]], …` (rows strictly increasing,
   * all `< cacheLength`); `cacheLength` becomes `rows.length`. The loop always passes
   * `0, 1, …, n − 1` followed by the accepted tree rows, so an implementation may copy only the
   * tail (Medusa copies rows `n + retrieve[b, :a+1]` to `[n, n + a + 1)`).
   */
  selectCache(rows: Int32Array): void | Promise<void>;
}

/** What a drafter reads at the start of a step. */
export interface DraftInput {
  /**
   * Hidden states `[m, hiddenSize]` of the positions committed since the previous call (first call:
   * the prompt rows prefill returned). The last row is the state the heads extrapolate from.
   */
  hidden: Float32Array;
  /** Tokens at those positions (the token whose reading produced each hidden row), length m. */
  tokens: Int32Array;
  /** Absolute positions of those rows, length m. */
  positions: Int32Array;
  /** The root of the coming tree: the target's next token (at position `positions[m−1] + 1`). */
  nextToken: number;
}

/**
 * Drafting heads (Medusa, Amphista). Head j (0-based) proposes the token at position
 * `positions[m−1] + 2 + j`, i.e. the one after the root for head 0.
 */
export interface Drafter {
  /** Number of heads K (≥ the tree's depth). */
  readonly numHeads: number;
  /** Forget per-prompt state (called before each prompt). */
  reset?(): void | Promise<void>;
  /**
   * Per-head logits, row-major `[numHeads, vocabSize]`.
   *
   * @param input newly committed hidden rows, their tokens and positions, and the root token.
   */
  propose(input: DraftInput): Promise<Float32Array>;
}

/** Why generation stopped. */
export type StopReason = "eos" | "max_new_tokens" | "capacity";

/** Passed to `onStep` after every committed step (for progress display and tests). */
export interface StepEvent {
  /** Step index (0-based). */
  step: number;
  /** Tokens committed this step (not truncated at EOS / max new tokens). */
  committed: Int32Array;
  /** Every committed token so far after the prompt (not truncated). */
  sequence: readonly number[];
  /** Cache length after compaction. */
  cacheLength: number;
}

/** Options shared by both loops. */
export interface LoopOptions {
  /** Stop after this many new tokens (output is truncated to exactly this many). */
  maxNewTokens: number;
  /** End-of-sequence ids; generation stops after the first one (which is kept in the output). */
  eosTokenIds?: readonly number[];
  /** Millisecond clock (default `performance.now`); injected so tests are deterministic. */
  clock?: () => number;
  /** Observer called after every step. */
  onStep?: (event: StepEvent) => void;
}

/** Options of {@linkcode speculativeGenerate}. */
export interface SpeculativeOptions extends LoopOptions {
  /** Tree buffers from `buildTreeBuffers`. */
  tree: TreeBuffers;
  /** Acceptance rule (default greedy). The root is always argmax (Medusa fast mode). */
  acceptance?: AcceptanceRule;
}

/** Options of {@linkcode autoregressiveGenerate}. */
export interface AutoregressiveOptions extends LoopOptions {
  /** Temperature 0 (default) = greedy; > 0 samples with the seeded PRNG. */
  temperature?: number;
  /** Seed of the mulberry32 PRNG (default 0). */
  seed?: number;
  /** Nucleus filter for sampling (default 1). */
  topP?: number;
}

/** Result of one generation. */
export interface GenerationResult {
  /** New tokens after the prompt (EOS included when hit; at most maxNewTokens). */
  tokens: number[];
  /**
   * Tokens committed per step, the target's own token included (Spec-Bench's `accept_lengths`;
   * AR: one 1 per generated token). The last speculative step is not truncated, so the sum can
   * exceed `tokens.length` by at most the tree depth.
   */
  acceptLengths: number[];
  /**
   * Timing of every target-forward step (speculative: one per step; AR: one per generated token
   * after the first, which comes from prefill).
   */
  steps: StepTiming[];
  /** Prefill time in milliseconds. */
  prefillMs: number;
  /** Whole generation in milliseconds (prefill included), for tokens/s. */
  wallMs: number;
  /** Why generation stopped. */
  stopReason: StopReason;
}

function checkLoopOptions(prompt: Int32Array, options: LoopOptions, where: string): void {
  if (prompt.length === 0) {
    throw new Error(`${where}: the prompt is empty; give at least one token`);
  }
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
    throw new RangeError(
      `${where}: maxNewTokens must be a positive integer, got ${options.maxNewTokens}`,
    );
  }
}

/** Appends committed tokens to the output, honouring EOS and the token budget. */
function commit(
  output: number[],
  committed: ArrayLike<number>,
  options: LoopOptions,
): StopReason | undefined {
  const eos = options.eosTokenIds ?? [];
  for (let i = 0; i < committed.length; i++) {
    output.push(committed[i]);
    if (eos.includes(committed[i])) return "eos";
    if (output.length >= options.maxNewTokens) return "max_new_tokens";
  }
  return undefined;
}

function range(start: number, end: number): Int32Array {
  const out = new Int32Array(end - start);
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}

/**
 * Speculative decoding with a drafter and tree verification (greedy or typical acceptance).
 * With greedy acceptance the output equals {@linkcode autoregressiveGenerate}'s greedy output.
 *
 * @param target the target model and its cache.
 * @param drafter the drafting heads.
 * @param prompt prompt tokens.
 * @param options tree, acceptance rule, stop conditions, clock.
 * @returns tokens, accept lengths, step timings.
 */
export async function speculativeGenerate(
  target: TreeTarget,
  drafter: Drafter,
  prompt: Int32Array,
  options: SpeculativeOptions,
): Promise<GenerationResult> {
  checkLoopOptions(prompt, options, "speculativeGenerate");
  const { tree } = options;
  if (tree.maxDepth > drafter.numHeads) {
    throw new RangeError(
      `speculativeGenerate: the tree is ${tree.maxDepth} deep but the drafter has ${drafter.numHeads} heads; use a shallower tree`,
    );
  }
  const V = target.vocabSize;
  const d = target.hiddenSize;
  if (tree.topk > V) {
    throw new RangeError(
      `speculativeGenerate: tree topk ${tree.topk} exceeds the vocabulary size ${V}`,
    );
  }
  const rule: AcceptanceRule = options.acceptance ?? { kind: "greedy" };
  const clock = options.clock ?? (() => performance.now());

  const t0 = clock();
  await drafter.reset?.();
  const pre = await target.prefill(prompt);
  const tPrefill = clock();
  let lastLogits: Float32Array = pre.logits;
  const m0 = pre.hidden.length / d;
  let pending: { hidden: Float32Array; tokens: Int32Array; positions: Int32Array } = {
    hidden: pre.hidden,
    tokens: prompt.slice(prompt.length - m0),
    positions: range(prompt.length - m0, prompt.length),
  };

  const output: number[] = [];
  const sequence: number[] = [];
  const acceptLengths: number[] = [];
  const steps: StepTiming[] = [];
  let stopReason: StopReason | undefined;
  for (let step = 0; stopReason === undefined; step++) {
    const n = target.cacheLength;
    if (target.maxCacheLength !== undefined && n + tree.size > target.maxCacheLength) {
      stopReason = "capacity";
      break;
    }
    // 1. Draft.
    const tStart = clock();
    const root = argmax(lastLogits);
    // A root-only tree needs no drafts: it is AR through the tree path (for overhead baselines).
    const numHeads = tree.maxDepth === 0 ? 0 : drafter.numHeads;
    const headLogits = numHeads === 0
      ? new Float32Array(0)
      : await drafter.propose({ ...pending, nextToken: root });
    const candidates = buildCandidates({
      root,
      headLogits,
      numHeads,
      vocabSize: V,
      topk: tree.topk,
      useHeads: tree.maxDepth,
    });
    const tokens = treeTokens(candidates, tree);
    const tDraft = clock();

    // 2. Verify.
    const positions = new Int32Array(tree.size);
    for (let i = 0; i < tree.size; i++) positions[i] = n + tree.depths[i];
    const out = await target.forward({
      tokens,
      positions,
      attentionBias: treeAttentionBias(tree, n),
    });
    const tVerify = clock();

    // 3. Bookkeeping.
    const verdict = acceptCandidates(
      { buffers: tree, tokens, logits: out.logits, vocabSize: V },
      rule,
    );
    const a = verdict.acceptLength;
    const keep = new Int32Array(n + a + 1);
    keep.set(range(0, n));
    for (let i = 0; i <= a; i++) keep[n + i] = n + verdict.acceptedNodes[i];
    await target.selectCache(keep);
    const hidden = new Float32Array((a + 1) * d);
    for (let i = 0; i <= a; i++) {
      const node = verdict.acceptedNodes[i];
      hidden.set(out.hidden.subarray(node * d, (node + 1) * d), i * d);
    }
    pending = { hidden, tokens: verdict.acceptedTokens, positions: range(n, n + a + 1) };
    lastLogits = out.logits.slice(verdict.lastNode * V, (verdict.lastNode + 1) * V);
    acceptLengths.push(a + 1);
    sequence.push(...verdict.acceptedTokens);
    stopReason = commit(output, verdict.acceptedTokens, options);
    const tEnd = clock();
    steps.push({
      draftMs: tDraft - tStart,
      verifyMs: tVerify - tDraft,
      bookkeepingMs: tEnd - tVerify,
    });
    options.onStep?.({
      step,
      committed: verdict.acceptedTokens,
      sequence,
      cacheLength: target.cacheLength,
    });
  }
  return {
    tokens: output,
    acceptLengths,
    steps,
    prefillMs: tPrefill - t0,
    wallMs: clock() - t0,
    stopReason: stopReason!,
  };
}

/**
 * Autoregressive decoding on the same {@linkcode TreeTarget} (same session, cache and mask path as
 * the speculative loop): one token per forward, greedy or seeded sampling.
 *
 * @param target the target model and its cache.
 * @param prompt prompt tokens.
 * @param options stop conditions, temperature/seed, clock.
 * @returns tokens, accept lengths (all 1), step timings.
 */
export async function autoregressiveGenerate(
  target: TreeTarget,
  prompt: Int32Array,
  options: AutoregressiveOptions,
): Promise<GenerationResult> {
  checkLoopOptions(prompt, options, "autoregressiveGenerate");
  const clock = options.clock ?? (() => performance.now());
  const temperature = options.temperature ?? 0;
  const random = mulberry32(options.seed ?? 0);
  const choose = (logits: Float32Array) =>
    sampleFromLogits(logits, { temperature, random, topP: options.topP });

  const t0 = clock();
  const pre = await target.prefill(prompt);
  let token = choose(pre.logits);
  const tPrefill = clock();
  const output: number[] = [];
  const sequence: number[] = [];
  const acceptLengths: number[] = [];
  const steps: StepTiming[] = [];
  let stopReason: StopReason | undefined;
  for (let step = 0;; step++) {
    const committed = Int32Array.of(token);
    acceptLengths.push(1);
    sequence.push(token);
    stopReason = commit(output, committed, options);
    if (stopReason !== undefined) break;
    const n = target.cacheLength;
    if (target.maxCacheLength !== undefined && n + 1 > target.maxCacheLength) {
      stopReason = "capacity";
      break;
    }
    const tStart = clock();
    const out = await target.forward({
      tokens: committed,
      positions: Int32Array.of(n),
      attentionBias: causalAttentionBias({ pastLength: n, queryLength: 1 }),
    });
    const tVerify = clock();
    token = choose(out.logits);
    const tEnd = clock();
    steps.push({ draftMs: 0, verifyMs: tVerify - tStart, bookkeepingMs: tEnd - tVerify });
    options.onStep?.({ step, committed, sequence, cacheLength: target.cacheLength });
  }
  return {
    tokens: output,
    acceptLengths,
    steps,
    prefillMs: tPrefill - t0,
    wallMs: clock() - t0,
    stopReason,
  };
}
