/**
 * Trains (or resumes training of) Amphista heads of a target model by self-distillation with the
 * shared heads trainer (same data, loss `Σ_k 0.8^k·CE(head_k, x_{t+k+2})`, optimizer and
 * checkpoints as Medusa's `scripts/train_heads.ts`) and writes the drafter folder (`config.json`
 * with `drafter_type: "amphista"`, `model.safetensors`, `accuracy.json`, `loss_curve.json`,
 * `training.json`). With no arguments it writes `bench/models/sparsespec-tiny/amphista/`.
 *
 * Usage: `deno run -A scripts/train_amphista.ts [--model DIR] [--out DIR] [--steps N] [--batch N]
 * [--lr X] [--sequences N] [--heldout N] [--heads K] [--layers L] [--stages S]
 * [--layers-per-stage N] [--no-fusion] [--encoder-layers E] [--attention-heads H] [--ffn F]
 * [--window W] [--threads N] [--stop-after N]`
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
import {
  amphistaConfig,
  amphistaParameterCount,
  initAmphistaWeights,
  writeAmphistaFolder,
} from "../src/draft/amphista.ts";
import { targetLmHead } from "../src/draft/folder.ts";
import { trainHeads } from "../src/train/heads_trainer.ts";
import { tfAmphistaModule } from "../src/train/tf_amphista.ts";
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
    stages: { type: "string", default: "2" },
    "layers-per-stage": { type: "string", default: "1" },
    "no-fusion": { type: "boolean", default: false },
    "encoder-layers": { type: "string", default: "1" },
    "attention-heads": { type: "string", default: "4" },
    ffn: { type: "string" },
    window: { type: "string", default: "16" },
    threads: { type: "string", default: "2" },
    "stop-after": { type: "string" },
  },
});
const abs = (p: string) => (p.startsWith("/") ? p : `${root}/${p}`);
const modelDir = abs(a.model!);
const outDir = abs(a.out ?? `${a.model}/amphista`);
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
const embed = model.config.tie_word_embeddings
  ? undefined
  : model.weights.get("model.embed_tokens.weight");
const cfg = amphistaConfig(model.config.hidden_size, model.config.vocab_size, {
  num_heads: Number(a.heads),
  num_layers: Number(a.layers),
  adapter_stages: Number(a.stages),
  adapter_layers_per_stage: Number(a["layers-per-stage"]),
  token_fusion: !a["no-fusion"],
  encoder_layers: Number(a["encoder-layers"]),
  attention_heads: Number(a["attention-heads"]),
  ffn_size: a.ffn ? Number(a.ffn) : 2 * model.config.hidden_size,
  window: Number(a.window),
});
await model.close();
log(`amphista ${JSON.stringify(cfg)}: ${amphistaParameterCount(cfg)} parameters`);

const tf = await initTfWasm();
const module = tfAmphistaModule(tf, cfg, lmHead, embed);
const init = initAmphistaWeights(cfg, { seed: settings.seed });
const tag =
  `${cfg.num_heads}x${cfg.num_layers}-s${cfg.adapter_stages}x${cfg.adapter_layers_per_stage}` +
  `-f${Number(cfg.token_fusion)}-e${cfg.encoder_layers}-w${cfg.window}`;
const result = await trainHeads({
  tf,
  module,
  init,
  settings,
  train: data.train,
  heldout: data.heldout,
  checkpointDir: await headsCheckpointDir(
    root,
    `amphista-${tag}`,
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
await writeAmphistaFolder(outDir, {
  config: cfg,
  weights: result.weights,
  baseModel: { path: a.model!, fingerprint },
  accuracy,
  lossCurve: result.curve,
  training: headsTrainingRecord({
    drafter: cfg,
    parameters: amphistaParameterCount(cfg),
    settings,
    distill,
    data,
    loss:
      "sum_k lossDecay^k * CE(head_k(adapted h_t, e(x_{t+1})), x_{t+k+2}) over continuation positions",
    assumptions: {
      adapters:
        "pre-norm causal decoder layers, banded mask of width `window`, no position encoding",
      fusion:
        "W_f [x_i ; e(x_{i+1})] before the first layer of the last stage (frozen tied embedding)",
      heads: "Medusa ResBlocks from the adapted state at the last row",
      autoEmbedding:
        "pre-norm bidirectional encoder over the K head vectors + learned [K, d] positions",
      lmHead: "the target's frozen shared LM head",
      inference: cfg.adapter_cache === "kv"
        ? "each adapter layer keeps the keys/values of the last window−1 committed rows (exact)"
        : "adapters recomputed over the last A·(window−1)+1 committed rows (exact)",
    },
    result,
  }),
});
log(`wrote ${outDir}`);
