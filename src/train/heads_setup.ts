/**
 * The set-up every drafting-heads training script shares (`scripts/train_heads.ts` for Medusa,
 * `scripts/train_amphista.ts`): training and distillation settings from command-line strings, the
 * embedded data, the target model and its self-distillation data (generated once, then cached
 * under `.cache/distill/` by model fingerprint and settings); and the end of a run: per-head
 * accuracy and the `training.json` record.
 *
 * @module
 */

import { type CausalLM, loadModelFolder } from "../model/causal_lm.ts";
import { prepareEmbeddedDefault } from "../data/prepare.ts";
import { splitTokens } from "../data/token_cache.ts";
import { weightsFingerprint } from "../draft/folder.ts";
import type * as tfNs from "@tensorflow/tfjs";
import type { HeadAccuracy } from "../draft/folder.ts";
import {
  DEFAULT_DISTILL_SETTINGS,
  type DistillData,
  type DistillSet,
  type DistillSettings,
  loadOrGenerateDistillData,
  summariseDistillSet,
} from "./distill_data.ts";
import {
  DEFAULT_HEADS_SETTINGS,
  evaluateHeadAccuracy,
  type HeadsTrainSettings,
  type TrainHeadsResult,
} from "./heads_trainer.ts";
import type { TfDraftModule } from "./tf_heads.ts";
import { tfVersion } from "./tf_backend.ts";

type Tf = typeof tfNs;

/** Command-line overrides shared by the heads scripts (strings as `parseArgs` gives them). */
export interface HeadsArgs {
  steps?: string;
  batch?: string;
  lr?: string;
  sequences?: string;
  heldout?: string;
  continuation?: string;
}

/** Training and distillation settings: the defaults with the given overrides. */
export function headsSettingsFromArgs(
  a: HeadsArgs,
): { settings: HeadsTrainSettings; distill: DistillSettings } {
  const settings: HeadsTrainSettings = { ...DEFAULT_HEADS_SETTINGS };
  if (a.steps) settings.steps = Number(a.steps);
  if (a.batch) settings.batch = Number(a.batch);
  if (a.lr) settings.lr = Number(a.lr);
  const distill: DistillSettings = { ...DEFAULT_DISTILL_SETTINGS };
  if (a.sequences) distill.trainSequences = Number(a.sequences);
  if (a.heldout) distill.heldoutSequences = Number(a.heldout);
  if (a.continuation) distill.continuation = Number(a.continuation);
  return { settings, distill };
}

/**
 * Prepares the embedded data, loads the target (wasm) and loads or generates its
 * self-distillation data. The caller closes `model`.
 */
export async function prepareHeadsTraining(o: {
  root: string;
  modelDir: string;
  threads: number;
  distill: DistillSettings;
  log: (message: string) => void;
}): Promise<{ model: CausalLM; fingerprint: string; data: DistillData }> {
  const { root, modelDir, log } = o;
  await prepareEmbeddedDefault({ root, log });
  const model = await loadModelFolder(modelDir, { backend: "wasm", threads: o.threads });
  const fingerprint = await weightsFingerprint(model.weights);
  const trainTokens = await splitTokens("train", { root, tokenizer: modelDir });
  log(`target ${modelDir} (fingerprint ${fingerprint}); train split ${trainTokens.length} tokens`);
  let lastLog = 0;
  const data = await loadOrGenerateDistillData(model, trainTokens, o.distill, {
    cacheDir: `${root}/.cache/distill`,
    modelFingerprint: fingerprint,
    onProgress: (done, total) => {
      if (performance.now() - lastLog > 10_000 || done === total) {
        lastLog = performance.now();
        log(`distillation data: ${done}/${total} sequences`);
      }
    },
  });
  log(
    `distillation data ${data.cachePath} (${data.generationSeconds.toFixed(0)} s to generate): ` +
      `${data.train.count} train + ${data.heldout.count} held-out sequences of ${data.train.seqLength}`,
  );
  return { model, fingerprint, data };
}

/**
 * Checkpoint folder of a heads training run: `<root>/.cache/train/<name>-<hash>`, the hash taken
 * over everything that defines the run (architecture, data, settings, target fingerprint), so runs
 * that differ in anything never share (and never refuse) a checkpoint.
 */
export async function headsCheckpointDir(
  root: string,
  name: string,
  identity: string,
): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(identity)),
  );
  const hash = [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${root}/.cache/train/${name}-${hash}`;
}

/**
 * Measures per-head accuracy of trained weights on the held-out set, logs one line per head and
 * releases the module's tensors.
 */
export function measureHeads(o: {
  tf: Tf;
  module: TfDraftModule;
  weights: Map<string, Float32Array>;
  heldout: DistillSet;
  log: (message: string) => void;
}): HeadAccuracy {
  o.log("measuring per-head accuracy on the held-out sequences");
  const accuracy = evaluateHeadAccuracy(o.tf, o.module, o.weights, o.heldout);
  o.module.dispose();
  for (let k = 0; k < accuracy.top1.length; k++) {
    o.log(
      `head ${k} (predicts t+${k + 2}): top-1 ${accuracy.top1[k].toFixed(3)}, top-5 ${
        accuracy.top5[k].toFixed(3)
      } over ${accuracy.positions[k]} positions`,
    );
  }
  return accuracy;
}

/** The `training.json` record of a heads training run (Medusa and Amphista alike). */
export function headsTrainingRecord(o: {
  drafter: object;
  parameters: number;
  settings: HeadsTrainSettings;
  distill: DistillSettings;
  data: DistillData;
  loss: string;
  assumptions?: Record<string, string>;
  result: TrainHeadsResult;
}): Record<string, unknown> {
  return {
    drafter: o.drafter,
    parameters: o.parameters,
    settings: o.settings,
    distillation: {
      ...o.distill,
      split: "train",
      train: summariseDistillSet(o.data.train),
      heldout: summariseDistillSet(o.data.heldout),
      generationSeconds: o.data.generationSeconds,
    },
    loss: o.loss,
    ...(o.assumptions ? { assumptions: o.assumptions } : {}),
    finalValLoss: o.result.curve.filter((p) => p.valLoss !== undefined).at(-1)?.valLoss,
    trainingSeconds: o.result.seconds,
    engine: { name: "tfjs", version: tfVersion(), backend: "wasm" },
    deno: Deno.version.deno,
  };
}
