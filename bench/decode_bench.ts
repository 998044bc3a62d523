/**
 * The latency terms of speculative decoding on wasm (2 threads), for reading a tree-size sweep:
 * one target forward of T query tokens behind a 100-token KV cache (T = 1 is an AR step, T = N + 1
 * the verification of an N-node tree), the Medusa drafter with K heads, and KV compaction. Run with
 * `bin/deno bench -A bench/decode_bench.ts`.
 *
 * The model is `bench/models/sparsespec-tiny` with its `medusa/` and `amphista/` heads when
 * present, else a random model of the embedded default's size with random heads. The Amphista
 * drafter is timed in its steady state: 3 newly committed rows (about τ) after a full history. Overhead of a tree ≈
 * (drafter + verify(N + 1) + bookkeeping) ÷ verify(1); speedup ≈ τ ÷ overhead.
 *
 * @module
 */
import { loadModelFolder, OrtCausalLM } from "../src/model/causal_lm.ts";
import { randomLlamaWeights } from "../src/model/weights.ts";
import { EMBEDDED_CONFIG } from "../src/train/lm_defaults.ts";
import { causalAttentionBias } from "../src/decode/tree.ts";
import { compactCache } from "../src/decode/target.ts";
import { openDrafter, readDrafterFolder, targetLmHead } from "../src/draft/folder.ts";
import { medusaConfig, MedusaDrafter, randomMedusaWeights } from "../src/draft/medusa.ts";
import {
  amphistaConfig,
  AmphistaDrafter,
  openAmphistaDrafter,
  randomAmphistaWeights,
  readAmphistaFolder,
} from "../src/draft/amphista.ts";

const DIR = "bench/models/sparsespec-tiny";
const PREFIX = 100;
const THREADS = 2;

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

const trained = await exists(`${DIR}/model.safetensors`);
const model = trained
  ? await loadModelFolder(DIR, { backend: "wasm", threads: THREADS })
  : await OrtCausalLM.create(EMBEDDED_CONFIG, randomLlamaWeights(EMBEDDED_CONFIG, { seed: 1 }), {
    backend: "wasm",
    threads: THREADS,
  });
const V = model.config.vocab_size, d = model.config.hidden_size;
const prompt = Array.from({ length: PREFIX }, (_, i) => (i * 7919 + 13) % V);
const pre = await model.logits(prompt);
const hidden = pre.hidden.slice((PREFIX - 1) * d);

for (const T of [1, 2, 3, 4, 5, 9, 17, 33, 65]) {
  const tokens = Array.from({ length: T }, (_, i) => (i * 31 + 5) % V);
  const mask = causalAttentionBias({ pastLength: PREFIX, queryLength: T });
  const positions = Array.from({ length: T }, (_, i) => PREFIX + i);
  Deno.bench({
    name: `target forward, ${T} token${T > 1 ? "s" : ""} after ${PREFIX} cached`,
    group: "verify",
    baseline: T === 1,
    fn: async () => void await model.logits(tokens, { cache: pre.cache, mask, positions }),
  });
}

const runtime = model.runtime;
const folder = trained && await exists(`${DIR}/medusa/config.json`)
  ? await readDrafterFolder(`${DIR}/medusa`)
  : undefined;
for (const K of [1, 2, 3, 4]) {
  const drafter = folder
    ? await openDrafter(folder, {
      hiddenSize: d,
      vocabSize: V,
      lmHead: targetLmHead(model),
      runtime,
    }, {
      heads: K,
    })
    : await MedusaDrafter.create({
      config: medusaConfig(d, V, { num_heads: K }),
      weights: randomMedusaWeights(medusaConfig(d, V, { num_heads: K }), { seed: 1 }),
      lmHead: targetLmHead(model),
      runtime,
    });
  Deno.bench({
    name: `Medusa drafter, ${K} head${K > 1 ? "s" : ""}`,
    group: "draft",
    baseline: K === 1,
    fn: async () =>
      void await drafter.propose({
        hidden,
        tokens: new Int32Array(1),
        positions: Int32Array.of(PREFIX - 1),
        nextToken: 0,
      }),
  });
}

const amphistaFolder = trained && await exists(`${DIR}/amphista/config.json`)
  ? await readAmphistaFolder(`${DIR}/amphista`)
  : undefined;
const amphista = amphistaFolder
  ? await openAmphistaDrafter(amphistaFolder, {
    hiddenSize: d,
    vocabSize: V,
    lmHead: targetLmHead(model),
    runtime,
  })
  : await AmphistaDrafter.create({
    config: amphistaConfig(d, V),
    weights: randomAmphistaWeights(amphistaConfig(d, V), { seed: 1 }),
    lmHead: targetLmHead(model),
    runtime,
  });
const rows = (m: number) => pre.hidden.slice((PREFIX - m) * d, PREFIX * d);
const ids = (m: number) => Int32Array.from(prompt.slice(PREFIX - m));
const positions = (m: number) => Int32Array.from({ length: m }, (_, i) => PREFIX - m + i);
await amphista.propose({
  hidden: rows(amphista.historyRows),
  tokens: ids(amphista.historyRows),
  positions: positions(amphista.historyRows),
  nextToken: 0,
});
Deno.bench({
  name: `Amphista drafter, ${amphista.numHeads} heads, 3 new rows`,
  group: "draft",
  fn: async () =>
    void await amphista.propose({
      hidden: rows(3),
      tokens: ids(3),
      positions: positions(3),
      nextToken: 0,
    }),
});

Deno.bench({
  name: `KV compaction, keep ${PREFIX - 5} + 3 of ${PREFIX} rows`,
  group: "bookkeeping",
  fn: () => void compactCache(pre.cache, PREFIX - 5, [PREFIX - 4, PREFIX - 2, PREFIX - 1]),
});
