/**
 * The settings that produced the committed embedded model `bench/models/sparsespec-tiny`.
 *
 * @module
 */

import { parseLlamaConfig } from "../model/config.ts";
import type { LmTrainSettings } from "./lm_trainer.ts";

/** Architecture of the embedded default: 4 layers, width 256, 4 heads of 64, context 256. */
export const EMBEDDED_CONFIG = parseLlamaConfig({
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  max_position_embeddings: 256,
  vocab_size: 4096,
  tie_word_embeddings: true,
  bos_token_id: 0,
  eos_token_id: 0,
  torch_dtype: "float32",
}, "src/train/lm_defaults.ts");

/** Training settings of the embedded default (sized for about an hour on 2 cores). */
export const EMBEDDED_LM_SETTINGS: LmTrainSettings = {
  config: EMBEDDED_CONFIG,
  seqLen: 256,
  batch: 16,
  steps: 600,
  lr: 2e-3,
  minLr: 2e-4,
  warmup: 30,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  clip: 1.0,
  seed: 1234,
  evalEvery: 50,
  evalWindows: 32,
  checkpointEvery: 10,
  workers: 2,
};
