// The prune executor end to end on a tiny model: magnitude 2:4, perplexity on a user text file,
// and `--save-model` writing a Hugging Face folder that loads back with the pruned weights.
import assert from "node:assert/strict";
import { tinyConfig, tinyWeights } from "./model_fixture.ts";
import { writeHfModelFolder } from "../src/model/weights.ts";
import { loadModelFolder } from "../src/model/causal_lm.ts";
import { execute } from "../src/prune/executor.ts";
import { loadSpecText } from "./spec_helpers.ts";
import { prepareEmbeddedDefault } from "../src/data/prepare.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("prune executor: magnitude 2:4 on a tiny model, saved and reloaded", async () => {
  await prepareEmbeddedDefault({ root }); // calibration sequences come from the train split
  const tmp = await Deno.makeTempDir();
  try {
    const cfg = tinyConfig({
      vocab_size: 4096,
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 1,
    });
    await writeHfModelFolder(`${tmp}/model`, cfg, tinyWeights(cfg, 5));
    await Deno.copyFile(
      `${root}/bench/models/sparsespec-tiny/tokenizer.json`,
      `${tmp}/model/tokenizer.json`,
    );
    await Deno.writeTextFile(
      `${tmp}/eval.txt`,
      "The President spoke to the Congress about the Union. ".repeat(40),
    );
    const runs = loadSpecText({
      name: "t",
      backend: "wasm",
      threads: 1,
      models: [{ name: "tiny", path: `${tmp}/model` }],
      eval: {
        ppl: { sets: [`${tmp}/eval.txt`], seqlen: 32, maxWindows: 3 },
        zeroshot: { tasks: [] },
      },
      prune: [{ method: "magnitude", pattern: "2:4" }],
    });
    const run = runs.find((r) => r.kind === "prune")!;
    const out = await execute(run as never, {
      suite: "t",
      root,
      saveModelDir: `${tmp}/saved`,
      log: () => {},
      progress: () => {},
      phase: async (_n, fn) => await fn(),
    });
    const ppl =
      (out.metrics as Record<string, Record<string, { ppl: number; windows: number }>>).ppl;
    assert.equal(ppl[`${tmp}/eval.txt`].windows, 3);
    assert.ok(Number.isFinite(ppl[`${tmp}/eval.txt`].ppl));
    assert.equal((out.metrics as { sparsity: { overall: number } }).sparsity.overall, 0.5);
    const saved = await loadModelFolder(`${tmp}/saved/magnitude-2_4`, {
      backend: "wasm",
      threads: 1,
    });
    try {
      const w = saved.weights.get("model.layers.0.mlp.down_proj.weight")!;
      for (let g = 0; g < w.length; g += 4) {
        const kept = [w[g], w[g + 1], w[g + 2], w[g + 3]].filter((v) => v !== 0).length;
        assert.ok(kept <= 2, `group ${g / 4} keeps ${kept} of 4`);
      }
    } finally {
      await saved.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
