/**
 * Adapts a {@linkcode CausalLM} to the zero-shot evaluator's log-likelihood interface: one
 * forward pass over context + continuation, scored at the continuation's positions.
 *
 * @module
 */

import type { CausalLM } from "../model/causal_lm.ts";
import type { LogLikelihood, LogLikelihoodScorer } from "./zeroshot.ts";

/** Log-likelihood scorer over a causal LM (batch 1, no cache reuse between calls). */
export function causalLmScorer(model: CausalLM): LogLikelihoodScorer {
  const V = model.config.vocab_size;
  return {
    maxLength: model.config.max_position_embeddings,
    async loglikelihood(contextIds, continuationIds): Promise<LogLikelihood> {
      const ids = [...contextIds, ...continuationIds].slice(0, -1);
      const { logits } = await model.logits(ids);
      let logprob = 0;
      let greedyMatch = true;
      for (let i = 0; i < continuationIds.length; i++) {
        const row = (contextIds.length - 1 + i) * V;
        let max = -Infinity, arg = 0;
        for (let v = 0; v < V; v++) {
          if (logits[row + v] > max) {
            max = logits[row + v];
            arg = v;
          }
        }
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(logits[row + v] - max);
        const target = continuationIds[i];
        logprob += logits[row + target] - max - Math.log(z);
        if (arg !== target) greedyMatch = false;
      }
      return { logprob, greedyMatch };
    },
  };
}
