/**
 * Trains (or resumes training of) the embedded reference model and exports it to
 * `bench/models/sparsespec-tiny`. Usage: `deno run -A scripts/train_lm.ts [--steps N] [--workers N]`.
 *
 * @module
 */

import { EMBEDDED, prepareEmbeddedDefault } from "../src/data/prepare.ts";
import { splitTokens } from "../src/data/token_cache.ts";
import { EMBEDDED_LM_SETTINGS } from "../src/train/lm_defaults.ts";
import { trainLm } from "../src/train/lm_trainer.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const arg = (name: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const settings = { ...EMBEDDED_LM_SETTINGS };
if (arg("--steps")) settings.steps = Number(arg("--steps"));
if (arg("--workers")) settings.workers = Number(arg("--workers"));
const log = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

await prepareEmbeddedDefault({ root, log });
const tokenizer = `${root}/${EMBEDDED.modelDir}`;
const trainTokens = await splitTokens("train", { root, tokenizer });
const valTokens = await splitTokens("val", { root, tokenizer });
log(`train ${trainTokens.length} tokens, val ${valTokens.length} tokens`);
await trainLm({
  settings,
  trainTokens,
  valTokens,
  checkpointDir: `${root}/.cache/train/lm`,
  outDir: `${root}/${EMBEDDED.modelDir}`,
  log,
  stopAfter: arg("--stop-after") ? Number(arg("--stop-after")) : undefined,
});
log("done");
