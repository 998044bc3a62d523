/**
 * Trains (or resumes training of) the Medusa heads of a target model by self-distillation and
 * writes the drafter folder (`config.json`, `model.safetensors`, `accuracy.json`,
 * `loss_curve.json`, `training.json`). With no arguments it regenerates the committed heads of the
 * embedded model, `bench/models/sparsespec-tiny/medusa/` (`deno task fixtures` calls it).
 *
 * Usage: `deno run -A scripts/train_heads.ts [--model DIR] [--out DIR] [--steps N]
 * [--sequences N] [--heldout N] [--heads K] [--layers L] [--lm-head shared|own] [--threads N]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  headsCheckpointDir,
  headsSettingsFromArgs,
  headsTrainingRecord,
  measureHeads,
  prepareHeadsTraining,
} from "../src/train/heads_setup.ts";
import { initMedusaWeights, medusaConfig, medusaParameterCount } from "../src/draft/medusa.ts";
import { targetLmHead, writeDrafterFolder } from "../src/draft/folder.ts";
import { trainHeads } from "../src/train/heads_trainer.ts";
import { tfMedusaModule } from "../src/train/tf_heads.ts";
import { initTfWasm } from "../src/train/tf_backend.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string", default: "bench/models/sparsespec-tiny" },
    out: { type: "string" },
    steps: { type: "string" },
    batch: { type: "string" },
    lr: { type: "string" },
    sequences: { type: "string" },
    heldout: { type: "string" },
    continuation: { type: "string" },
    heads: { type: "string", default: "4" },
    layers: { type: "string", default: "1" },
    "lm-head": { type: "string", default: "shared" },
    threads: { type: "string", default: "1" },
    "stop-after": { type: "string" },
  },
});
const abs = (p: string) => (p.startsWith("/") ? p : `${root}/${p}`);
const modelDir = abs(a.model!);
const outDir = abs(a.out ?? `${a.model}/medusa`);
const log = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

const { settings, distill } = headsSettingsFromArgs(a);
const { model, fingerprint, data } = await prepareHeadsTraining({
  root,
  modelDir,
  threads: Number(a.threads),
  distill,
  log,
});
const lmHead = targetLmHead(model);
const cfg = medusaConfig(model.config.hidden_size, model.config.vocab_size, {
  num_heads: Number(a.heads),
  num_layers: Number(a.layers),
  lm_head: a["lm-head"] as "shared" | "own",
});
await model.close();

const tf = await initTfWasm();
const module = tfMedusaModule(tf, cfg, lmHead);
const init = initMedusaWeights(cfg, { seed: settings.seed, lmHead });
const result = await trainHeads({
  tf,
  module,
  init,
  settings,
  train: data.train,
  heldout: data.heldout,
  checkpointDir: await headsCheckpointDir(
    root,
    `heads-${cfg.num_heads}x${cfg.num_layers}-${cfg.lm_head}`,
    JSON.stringify({ cfg, distill, fingerprint, settings }),
  ),
  identity: JSON.stringify({ cfg, distill, fingerprint }),
  log,
  stopAfter: a["stop-after"] ? Number(a["stop-after"]) : undefined,
});
if (!result.finished) {
  log(`stopped at step ${result.steps}; run again to resume`);
  Deno.exit(0);
}
const accuracy = measureHeads({ tf, module, weights: result.weights, heldout: data.heldout, log });
await writeDrafterFolder(outDir, {
  config: cfg,
  weights: result.weights,
  baseModel: { path: a.model!, fingerprint },
  accuracy,
  lossCurve: result.curve,
  training: headsTrainingRecord({
    drafter: cfg,
    parameters: medusaParameterCount(cfg),
    settings,
    distill,
    data,
    loss: "sum_k lossDecay^k * CE(head_k(h_t), x_{t+k+2}) over continuation positions",
    result,
  }),
});
log(`wrote ${outDir}`);
