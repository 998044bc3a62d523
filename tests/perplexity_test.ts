import assert from "node:assert/strict";
import { OrtCausalLM } from "../src/model/causal_lm.ts";
import { referenceForward } from "../src/model/reference_forward.ts";
import { perplexity, windowMeanNll } from "../src/eval/perplexity.ts";
import { tinyConfig, tinyWeights } from "./model_fixture.ts";

const V = 10;
const config = tinyConfig({ vocab_size: V, max_position_embeddings: 64 });

/**
 * A fake model whose logits are known: every row gives logit `a` to token (row's token + 1) mod V
 * and 0 elsewhere, with `a` = the window's first token. The stream below always continues with
 * token + 1, so each position's NLL is log(e^a + V - 1) - a.
 */
const fake = {
  config,
  logits(ids: ArrayLike<number>) {
    const a = ids[0];
    const logits = new Float32Array(ids.length * V);
    for (let t = 0; t < ids.length; t++) logits[t * V + ((ids[t] + 1) % V)] = a;
    return Promise.resolve({ logits });
  },
};

Deno.test("perplexity: windows, dropped tail, and ppl = exp(mean window NLL) on a known model", async () => {
  const seqlen = 5;
  // windows start at tokens 0, 5, 10 (a = 0, 5, 0) ; 3 tail tokens are dropped
  const stream = Array.from({ length: 3 * seqlen + 3 }, (_, i) => i % V);
  const progress: number[] = [];
  const r = await perplexity(fake, stream, { seqlen, onProgress: (done) => progress.push(done) });
  const nll = (a: number) => Math.log(Math.exp(a) + V - 1) - a;
  const want = (nll(0) + nll(5) + nll(0)) / 3;
  assert.equal(r.windows, 3);
  assert.equal(r.tokens, 15);
  assert.equal(r.seqlen, seqlen);
  assert.ok(Math.abs(r.nll - want) < 1e-6, `${r.nll} vs ${want}`);
  assert.ok(Math.abs(r.ppl - Math.exp(want)) < 1e-5);
  assert.deepEqual(progress, [1, 2, 3]);
  const two = await perplexity(fake, stream, { seqlen, maxWindows: 2 });
  assert.equal(two.windows, 2);
  assert.ok(Math.abs(two.nll - (nll(0) + nll(5)) / 2) < 1e-6);
  // uniform logits (a = 0 everywhere) give ppl = V exactly
  const zeros = await perplexity(
    fake,
    Array.from({ length: 10 }, (_, i) => (i % 2 ? i % V : 0) * 0),
    {
      seqlen: 10,
    },
  );
  assert.ok(Math.abs(zeros.ppl - V) < 1e-4, `uniform ppl ${zeros.ppl}`);
  await assert.rejects(perplexity(fake, stream, { seqlen: 40 }), /do not fill one window/);
  await assert.rejects(perplexity(fake, stream, { seqlen: 100 }), /exceeds the model context/);
  await assert.rejects(perplexity(fake, stream, { seqlen: 1 }), /seqlen/);
});

Deno.test("perplexity (wasm): ORT model NLL equals a hand log-softmax over the reference logits", async () => {
  const cfg = tinyConfig();
  const weights = tinyWeights(cfg, 5);
  const model = await OrtCausalLM.create(cfg, weights, { backend: "wasm" });
  try {
    const seqlen = 8;
    const stream = Array.from({ length: 2 * seqlen + 1 }, (_, i) => (i * 7 + 3) % cfg.vocab_size);
    const r = await perplexity(model, stream, { seqlen });
    let sum = 0;
    for (let w = 0; w < 2; w++) {
      const ids = stream.slice(w * seqlen, (w + 1) * seqlen);
      const { logits } = referenceForward(cfg, weights, ids);
      for (let t = 0; t < seqlen - 1; t++) {
        const row = Array.from(logits.subarray(t * cfg.vocab_size, (t + 1) * cfg.vocab_size));
        const lse = Math.log(row.reduce((a, x) => a + Math.exp(x), 0));
        sum += (lse - row[ids[t + 1]]) / (seqlen - 1);
      }
    }
    const want = sum / 2;
    assert.equal(r.windows, 2);
    assert.ok(Math.abs(r.nll - want) < 1e-4, `ORT nll ${r.nll} vs reference ${want}`);
    assert.ok(r.ppl > 1 && Number.isFinite(r.ppl));
  } finally {
    await model.close();
  }
});

Deno.test("windowMeanNll: stable for large logits", () => {
  const logits = new Float32Array([1000, 0, 0, 0, 1000, 0]);
  // row 0 predicts ids[1] = 0 with logit 1000 vs 0, 0 → NLL ≈ 0
  assert.ok(windowMeanNll(logits, [2, 0, 1], 3) < 1e-6);
  assert.throws(() => windowMeanNll(logits, [1], 3), /at least 2/);
});
