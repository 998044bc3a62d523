// The cached zero-shot scorer gives the same log-likelihoods as one plain forward pass.
import assert from "node:assert/strict";
import { tinyConfig, tinyWeights } from "./model_fixture.ts";
import { OrtCausalLM } from "../src/model/causal_lm.ts";
import { causalLmScorer } from "../src/eval/lm_scorer.ts";

Deno.test("cached context scoring equals a full forward pass over context + continuation", async () => {
  const cfg = tinyConfig();
  const model = await OrtCausalLM.create(cfg, tinyWeights(cfg, 3), { backend: "wasm", threads: 1 });
  try {
    const scorer = causalLmScorer(model);
    const V = cfg.vocab_size;
    const context = [4, 9, 33, 2, 17];
    for (const cont of [[8], [8, 1, 60], [21, 21]]) {
      const got = await scorer.loglikelihood(context, cont);
      const { logits } = await model.logits([...context, ...cont]);
      let want = 0;
      for (let i = 0; i < cont.length; i++) {
        const row = logits.subarray((context.length - 1 + i) * V, (context.length + i) * V);
        const max = Math.max(...row);
        const z = row.reduce((a, x) => a + Math.exp(x - max), 0);
        want += row[cont[i]] - max - Math.log(z);
      }
      assert.ok(Math.abs(got.logprob - want) < 1e-4, `${cont}: ${got.logprob} vs ${want}`);
    }
  } finally {
    await model.close();
  }
});
