// The SDS pipeline at the model level on a tiny random model: the full pipeline, the "no re-dense"
// ablation (step 3b adjusts the step-1 model directly) and the "re-dense alone" output.
import assert from "node:assert/strict";
import { tinyConfig, tinyWeights } from "./model_fixture.ts";
import { writeHfModelFolder } from "../src/model/weights.ts";
import { type CausalLM, loadModelFolder } from "../src/model/causal_lm.ts";
import { mulberry32 } from "../src/linalg/random.ts";
import { parsePattern } from "../src/prune/pattern.ts";
import { getPruner } from "../src/prune/registry.ts";
import { runSds, type SdsOutcome } from "../src/prune/sds_pipeline.ts";
import { SDS_DEFAULTS, type SdsParams } from "../src/prune/sds.ts";

async function withTinyModel(fn: (model: CausalLM) => Promise<void>): Promise<void> {
  const tmp = await Deno.makeTempDir();
  try {
    const cfg = tinyConfig({ hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2 });
    await writeHfModelFolder(tmp, cfg, tinyWeights(cfg, 11));
    const model = await loadModelFolder(tmp, { backend: "wasm", threads: 1 });
    try {
      await fn(model);
    } finally {
      await model.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

function sequences(vocab: number): number[][] {
  const rnd = mulberry32(3);
  return Array.from(
    { length: 6 },
    () => Array.from({ length: 24 }, () => Math.floor(rnd() * vocab)),
  );
}

async function sds(
  model: CausalLM,
  overrides: Partial<SdsParams>,
): Promise<{ out: SdsOutcome; phases: string[] }> {
  const phases: string[] = [];
  const base = getPruner("sparsegpt");
  const out = await runSds(model, {
    base,
    baseParams: { ...base.defaults },
    pattern: parsePattern("2:4"),
    params: { ...SDS_DEFAULTS, iters: 30, earlyExit: false, ...overrides },
    sequences: sequences(model.config.vocab_size),
    hooks: {
      phase: async (name, fn) => {
        phases.push(name);
        return await fn();
      },
      log: () => {},
      progress: () => {},
    },
  });
  return { out, phases };
}

function assertTwoFour(w: Float32Array, name: string): void {
  for (let g = 0; g < w.length; g += 4) {
    const kept = [w[g], w[g + 1], w[g + 2], w[g + 3]].filter((v) => v !== 0).length;
    assert.ok(kept <= 2, `${name}: group ${g / 4} keeps ${kept} of 4`);
  }
}

Deno.test("SDS pipeline: full run, no re-dense ablation and re-dense output", async () => {
  await withTinyModel(async (dense) => {
    const full = await sds(dense, {});
    try {
      assert.deepEqual(full.phases, [
        "sds:step1-prune",
        "sds:step2-stats",
        "sds:step2-redense",
        "sds:step3-prune",
        "sds:step3-stats",
        "sds:step3-adjust",
      ]);
      const nll = full.out.summary.calibrationNll as Record<string, number | null>;
      assert.ok(Number.isFinite(nll.redense) && Number.isFinite(nll.step2));
      assert.equal(full.out.summary.adjusted, true);
      for (const r of full.out.reports) assertTwoFour(full.out.model.weights.get(r.name)!, r.name);
    } finally {
      await full.out.redense?.close();
      await full.out.model.close();
    }

    // No re-dense: steps 2 and 3a are skipped and 3b starts from the step-1 weights.
    const direct = await sds(dense, { redense: false });
    try {
      assert.deepEqual(direct.phases, ["sds:step1-prune", "sds:step3-stats", "sds:step3-adjust"]);
      const nll = direct.out.summary.calibrationNll as Record<string, number | null>;
      assert.equal(nll.redense, null);
      assert.equal(nll.step2, null);
      assert.equal(direct.out.summary.redense, false);
      assert.equal(direct.out.redense, undefined);
      assert.equal(direct.out.reports.length, 2 * 7);
      for (const r of direct.out.reports) {
        assertTwoFour(direct.out.model.weights.get(r.name)!, r.name);
      }
      // The adjustment improves every layer on its own calibration objective (keepBest).
      for (
        const a of (direct.out.details.adjust as { relErrorStart: number; relErrorEnd: number }[])
      ) {
        assert.ok(a.relErrorEnd <= a.relErrorStart);
      }
    } finally {
      await direct.out.model.close();
    }

    // Re-dense alone: the reported model is the (dense) step-2 model.
    const redense = await sds(dense, { output: "redense" });
    try {
      assert.deepEqual(redense.phases, [
        "sds:step1-prune",
        "sds:step2-stats",
        "sds:step2-redense",
      ]);
      assert.equal(redense.out.summary.output, "redense");
      assert.equal(redense.out.redense, undefined, "returned as the model, not twice");
      const layers = redense.out.details.redense as {
        relErrorStart: number;
        relErrorEnd: number;
      }[];
      assert.equal(layers.length, 2 * 7);
      for (const l of layers) assert.ok(l.relErrorEnd < l.relErrorStart);
      for (const r of redense.out.reports) {
        assert.equal(r.info.pattern, "dense");
        assert.ok(r.sparsity < 0.2, `${r.name} re-dense sparsity ${r.sparsity}`);
      }
    } finally {
      await redense.out.model.close();
    }

    await assert.rejects(
      () => sds(dense, { redense: false, output: "redense" }),
      /output "redense" needs the re-dense step/,
    );
  });
});
