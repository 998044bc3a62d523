// WebGPU parity: the same checks as model_parity_test.ts on the WebGPU execution provider
// (onnxruntime-web/webgpu). On this machine Deno's navigator.gpu is the llvmpipe software
// adapter, which is slow but exact enough; the tests skip only when no adapter exists.
import assert from "node:assert/strict";
import { OrtCausalLM } from "../src/model/causal_lm.ts";
import { referenceForward } from "../src/model/reference_forward.ts";
import { probeGpuAdapter } from "../src/model/session.ts";
import { IDS, maxAbsDiff, rows, tinyConfig, tinyWeights } from "./model_fixture.ts";

const TOL = 1e-3;
const probe = await probeGpuAdapter();
if (!probe.adapter) console.warn(`SKIPPING WebGPU parity tests: ${probe.reason}`);

Deno.test({
  name: "parity (webgpu): logits, KV-cache decoding and block graph match the reference",
  ignore: !probe.adapter,
  async fn() {
    const cfg = tinyConfig();
    const weights = tinyWeights(cfg);
    const model = await OrtCausalLM.create(cfg, weights, { backend: "webgpu" });
    try {
      assert.equal(model.runtime.provider, "webgpu");
      assert.equal(model.runtime.adapter?.isFallbackAdapter, probe.adapter!.isFallbackAdapter);
      const V = cfg.vocab_size;
      // Few distinct shapes on purpose: every new shape compiles shaders, which takes seconds
      // on a software adapter with a cold shader cache.
      const ids = [...IDS, 27];
      const S = IDS.length;
      const ref = referenceForward(cfg, weights, ids);
      const full = await model.logits(IDS);
      const diff = maxAbsDiff(full.logits, rows(ref.logits, V, 0, S));
      assert.ok(diff <= TOL, `webgpu logits max abs diff ${diff}`);
      assert.ok(maxAbsDiff(full.hidden, rows(ref.hidden, cfg.hidden_size, 0, S)) <= TOL);
      // one decoding step with the KV cache of the full pass
      const step = await model.logits([27], { cache: full.cache });
      const d = maxAbsDiff(step.logits, rows(ref.logits, V, S, S + 1));
      assert.ok(d <= TOL, `webgpu decode step: diff ${d}`);
      // block 0 on webgpu reproduces the reference residual stream
      const b = await model.runBlock(0, model.blockInputs(IDS));
      assert.ok(maxAbsDiff(b.out, ref.residuals[1]) <= TOL);
    } finally {
      await model.close();
    }
  },
});
