/**
 * Adapts a {@linkcode CausalLM} to the zero-shot evaluator's log-likelihood interface. The
 * context is run once and its KV cache reused for every choice of an item (the evaluator passes
 * the same context array for all of an item's choices); each continuation is then one forward
 * pass over the cache.
 *
 * @module
 */

import type { CausalLM, KVCache } from "../model/causal_lm.ts";
import type { LogLikelihood, LogLikelihoodScorer } from "./zeroshot.ts";

/** Adds the log-probability of `target` under logits row `row` (length V) and its argmax check. */
function scoreRow(row: Float32Array, target: number): { logprob: number; isArgmax: boolean } {
  let max = -Infinity, arg = 0;
  for (let v = 0; v < row.length; v++) {
    if (row[v] > max) {
      max = row[v];
      arg = v;
    }
  }
  let z = 0;
  for (let v = 0; v < row.length; v++) z += Math.exp(row[v] - max);
  return { logprob: row[target] - max - Math.log(z), isArgmax: arg === target };
}

/** Log-likelihood scorer over a causal LM (batch 1), reusing the context's KV cache. */
export function causalLmScorer(model: CausalLM): LogLikelihoodScorer {
  const V = model.config.vocab_size;
  let lastContext: readonly number[] | undefined;
  let cache: KVCache | undefined;
  let lastRow = new Float32Array(V);
  return {
    maxLength: model.config.max_position_embeddings,
    async loglikelihood(contextIds, continuationIds): Promise<LogLikelihood> {
      if (contextIds !== lastContext) {
        const r = await model.logits(contextIds);
        lastContext = contextIds;
        cache = r.cache;
        lastRow = r.logits.slice((contextIds.length - 1) * V, contextIds.length * V);
      }
      const first = scoreRow(lastRow, continuationIds[0]);
      let logprob = first.logprob, greedyMatch = first.isArgmax;
      if (continuationIds.length > 1) {
        const { logits } = await model.logits(continuationIds.slice(0, -1), { cache });
        for (let i = 1; i < continuationIds.length; i++) {
          const s = scoreRow(logits.subarray((i - 1) * V, i * V), continuationIds[i]);
          logprob += s.logprob;
          if (!s.isArgmax) greedyMatch = false;
        }
      }
      return { logprob, greedyMatch };
    },
  };
}
