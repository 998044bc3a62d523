/**
 * Zero-shot evaluation in the style of lm-evaluation-harness, written against a minimal
 * log-likelihood interface ({@linkcode LogLikelihoodScorer}) so that any model adapter can run it.
 *
 * Protocol (as lm-eval-harness does it):
 *
 * - **Tokenization** ({@linkcode encodePair}): trailing whitespace of the context moves to the
 *   front of the continuation; `whole = encode(context + continuation)`,
 *   `contextIds = encode(context)`, `continuationIds = whole.slice(contextIds.length)`. Where a
 *   merge across the boundary makes `whole` not start with `contextIds` (rare with byte-level
 *   BPE and space-led continuations), lm-eval would silently score a wrong split; here the
 *   continuation is then encoded on its own. An empty context is replaced by the end-of-text
 *   token (`contextIds = [eos]`, `continuationIds = encode(continuation)`).
 * - **Truncation**: the model sees `contextIds ++ continuationIds` minus its last token; when
 *   that exceeds the scorer's `maxLength`, the context is cut from the left (the continuation is
 *   never cut; a continuation longer than `maxLength` is an error).
 * - **multiple_choice items**: each choice is scored by the sum of its tokens' log-probabilities;
 *   `acc` = the gold choice has the highest sum; `acc_norm` = the gold choice has the highest
 *   sum divided by the choice's length in **characters** (Unicode code points, Python's `len`,
 *   which is what lm-eval's `acc_norm` uses; for this project's ASCII-folded text it equals the
 *   byte length). Ties go to the lowest index (`argmax`).
 * - **loglikelihood items** (one target continuation, LAMBADA-style): `acc` = greedy decoding
 *   reproduces every target token (lm-eval's `is_greedy`); `acc_norm` is the same number (no
 *   normalisation applies to a single continuation); `ppl` = exp(−mean target log-probability),
 *   lm-eval's LAMBADA perplexity (per target word, not per token).
 * - **Intervals**: 95% Wilson score intervals on `acc` and `acc_norm`.
 * - **Breakdown**: items carrying a `category` are also tallied per category (`by_category`).
 *
 * @module
 */
import type { TaskItem } from "../data/tasks.ts";

/** Score of one continuation given one context. */
export interface LogLikelihood {
  /** Σ log p(continuation token | everything before it), natural log. */
  logprob: number;
  /** Whether every continuation token is the model's argmax at its position. */
  greedyMatch: boolean;
}

/**
 * What a model must provide to be evaluated. `contextIds` is never empty. The evaluator issues
 * the requests of one item consecutively with the same `contextIds` array, so an adapter may
 * compute the context once (e.g. keep its KV cache) and reuse it for every choice.
 */
export interface LogLikelihoodScorer {
  /** Most tokens one forward pass takes (the model's context length). */
  readonly maxLength: number;
  /** Scores `continuationIds` after `contextIds`. */
  loglikelihood(
    contextIds: readonly number[],
    continuationIds: readonly number[],
  ): Promise<LogLikelihood>;
}

/** The tokenizer part the evaluator needs. */
export interface ZeroShotTokenizer {
  /** Token ids of a text, no special tokens added. */
  encode(text: string): number[];
  /** End-of-text id, used as the context of items whose context is empty. */
  eosId: number | undefined;
}

/** Token ids of one request. */
export interface EncodedPair {
  /** Context ids (never empty). */
  context: number[];
  /** Continuation ids (never empty). */
  continuation: number[];
}

/**
 * Tokenizes a (context, continuation) pair as lm-eval-harness does (see the module doc).
 *
 * @throws Error when the context is empty and the tokenizer has no end-of-text token, or the
 *   continuation encodes to no tokens
 */
export function encodePair(
  tokenizer: ZeroShotTokenizer,
  context: string,
  continuation: string,
): EncodedPair {
  const trimmed = context.replace(/\s+$/, "");
  const moved = context.slice(trimmed.length) + continuation;
  let ctx: number[];
  let cont: number[];
  if (trimmed === "") {
    if (tokenizer.eosId === undefined) {
      throw new Error(
        "zero-shot: an item has an empty context and the tokenizer has no end-of-text token to " +
          "condition on; give the item a context or use a tokenizer with <|endoftext|>",
      );
    }
    ctx = [tokenizer.eosId];
    cont = tokenizer.encode(moved);
  } else {
    const whole = tokenizer.encode(trimmed + moved);
    ctx = tokenizer.encode(trimmed);
    cont = sameIds(whole.slice(0, ctx.length), ctx)
      ? whole.slice(ctx.length)
      : tokenizer.encode(moved);
  }
  if (cont.length === 0) {
    throw new Error(`zero-shot: continuation ${JSON.stringify(continuation)} encodes to no tokens`);
  }
  return { context: ctx, continuation: cont };
}

/**
 * Left-truncates a context so that context + continuation − 1 ≤ `maxLength` tokens.
 *
 * @throws Error when the continuation alone does not fit
 */
export function truncateContext(
  context: readonly number[],
  continuation: readonly number[],
  maxLength: number,
): number[] {
  const room = maxLength + 1 - continuation.length;
  if (room < 1) {
    throw new Error(
      `zero-shot: a continuation of ${continuation.length} tokens does not fit the model's ` +
        `${maxLength}-token context; shorten the choices or use a model with a longer context`,
    );
  }
  return context.length <= room ? [...context] : context.slice(context.length - room);
}

/** 1.96: the two-sided 95% normal quantile, to the precision lm-eval and SciPy use. */
export const Z95 = 1.959963984540054;

/**
 * Wilson score interval of a binomial proportion.
 *
 * @param successes Number of successes (0 ≤ successes ≤ n).
 * @param n Number of trials (> 0).
 * @param z Normal quantile (default {@linkcode Z95}).
 * @returns `[low, high]`, clamped to [0, 1].
 * @throws Error when n ≤ 0 or successes is outside [0, n]
 */
export function wilsonInterval(successes: number, n: number, z = Z95): [number, number] {
  if (!(n > 0) || successes < 0 || successes > n) {
    throw new Error(`wilsonInterval: need 0 ≤ successes (${successes}) ≤ n (${n}) and n > 0`);
  }
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/** Outcome of one item. */
export interface ItemOutcome {
  /** Scored by `acc`. */
  correct: boolean;
  /** Scored by `acc_norm`. */
  correctNorm: boolean;
  /** Argmax choice by summed log-probability (0 for loglikelihood items). */
  predicted: number;
  /** Per-choice log-probabilities. */
  logprobs: number[];
}

/** Length in characters (Unicode code points) used by `acc_norm`. */
export function charLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * Judges one item from its choices' scores (pure; the scoring rules of the module doc).
 *
 * @throws Error when the number of scores differs from the number of choices
 */
export function judgeItem(item: TaskItem, scores: readonly LogLikelihood[]): ItemOutcome {
  if (scores.length !== item.choices.length) {
    throw new Error(`judgeItem: ${scores.length} scores for ${item.choices.length} choices`);
  }
  const logprobs = scores.map((s) => s.logprob);
  if (item.type === "loglikelihood") {
    const ok = scores[item.gold].greedyMatch;
    return { correct: ok, correctNorm: ok, predicted: 0, logprobs };
  }
  const predicted = argmax(logprobs);
  const norm = argmax(logprobs.map((lp, i) => lp / Math.max(1, charLength(item.choices[i]))));
  return { correct: predicted === item.gold, correctNorm: norm === item.gold, predicted, logprobs };
}

/** Metrics of one task; the shape of `metrics.zeroshot[task]` in a result file. */
export interface ZeroShotResult {
  /** Accuracy (see the module doc). */
  acc: number;
  /** Length-normalised accuracy (characters). */
  acc_norm: number;
  /** Items scored. */
  n: number;
  /** 95% Wilson interval of `acc`. */
  acc_ci: [number, number];
  /** 95% Wilson interval of `acc_norm`. */
  acc_norm_ci: [number, number];
  /** exp(−mean target log-probability) over loglikelihood items; absent when there are none. */
  ppl?: number;
  /** What `acc_norm` divides by. */
  norm: "chars";
  /** Items whose context was left-truncated to fit the model. */
  truncated: number;
  /** Scorer calls made (one per choice). */
  requests: number;
  /** Per-category counts and accuracies, for items that carry a `category`. */
  by_category?: Record<string, CategoryScore>;
}

/** Accuracy of the items of one category. */
export interface CategoryScore {
  /** Items of the category. */
  n: number;
  /** Accuracy within the category. */
  acc: number;
  /** Length-normalised accuracy within the category. */
  acc_norm: number;
}

/** Options of {@linkcode evaluateZeroShot}. */
export interface ZeroShotOptions {
  /** Tokenizer of the scored model. */
  tokenizer: ZeroShotTokenizer;
  /** Score only the first `limit` items. */
  limit?: number;
  /** Called after each item with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Receives every item's outcome (for per-category breakdowns or debugging). */
  onItem?: (item: TaskItem, outcome: ItemOutcome) => void;
}

/**
 * Evaluates a model on zero-shot items (see the module doc for the protocol).
 *
 * @param scorer The model adapter.
 * @param items Task items (e.g. `(await loadTask("nextsent4", {root})).items`).
 * @param opts Tokenizer, limit, callbacks.
 * @returns acc, acc_norm, n, their 95% intervals, and ppl for loglikelihood items.
 * @throws Error on an empty item list, or an item that cannot be tokenized or scored; the
 *   message names the item id (or index)
 */
export async function evaluateZeroShot(
  scorer: LogLikelihoodScorer,
  items: readonly TaskItem[],
  opts: ZeroShotOptions,
): Promise<ZeroShotResult> {
  const todo = opts.limit === undefined ? items : items.slice(0, opts.limit);
  if (todo.length === 0) throw new Error("evaluateZeroShot: no items to score");
  let correct = 0, correctNorm = 0, truncated = 0, requests = 0;
  let targetLogprob = 0, targets = 0;
  const categories = new Map<string, { n: number; correct: number; correctNorm: number }>();
  for (let i = 0; i < todo.length; i++) {
    const item = todo[i];
    const where = item.id ?? `item ${i}`;
    const scores: LogLikelihood[] = [];
    let contextIds: number[] | undefined;
    let wasTruncated = false;
    try {
      for (const choice of item.choices) {
        const pair = encodePair(opts.tokenizer, item.context, choice);
        const ctx = truncateContext(pair.context, pair.continuation, scorer.maxLength);
        if (ctx.length < pair.context.length) wasTruncated = true;
        // Reuse the same array when the context ids agree, so adapters can cache on identity.
        if (contextIds === undefined || !sameIds(contextIds, ctx)) contextIds = ctx;
        const score = await scorer.loglikelihood(contextIds, pair.continuation);
        if (!Number.isFinite(score.logprob)) {
          throw new Error(`scorer returned a non-finite log-probability (${score.logprob})`);
        }
        scores.push(score);
        requests++;
      }
    } catch (e) {
      throw new Error(`zero-shot ${where}: ${(e as Error).message}`);
    }
    if (wasTruncated) truncated++;
    const outcome = judgeItem(item, scores);
    if (outcome.correct) correct++;
    if (outcome.correctNorm) correctNorm++;
    if (item.type === "loglikelihood") {
      targetLogprob += scores[item.gold].logprob;
      targets++;
    }
    if (item.category !== undefined) {
      const c = categories.get(item.category) ?? { n: 0, correct: 0, correctNorm: 0 };
      c.n++;
      if (outcome.correct) c.correct++;
      if (outcome.correctNorm) c.correctNorm++;
      categories.set(item.category, c);
    }
    opts.onItem?.(item, outcome);
    opts.onProgress?.(i + 1, todo.length);
  }
  const n = todo.length;
  const result: ZeroShotResult = {
    acc: correct / n,
    acc_norm: correctNorm / n,
    n,
    acc_ci: wilsonInterval(correct, n),
    acc_norm_ci: wilsonInterval(correctNorm, n),
    norm: "chars",
    truncated,
    requests,
  };
  if (targets > 0) result.ppl = Math.exp(-targetLogprob / targets);
  if (categories.size > 0) {
    result.by_category = Object.fromEntries(
      [...categories].map((
        [name, c],
      ) => [name, { n: c.n, acc: c.correct / c.n, acc_norm: c.correctNorm / c.n }]),
    );
  }
  return result;
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
