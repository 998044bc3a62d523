/**
 * Trains (or resumes training of) the embedded reference model and exports it to
 * `bench/models/sparsespec-tiny`. Usage: `deno run -A scripts/train_lm.ts [--steps N] [--workers N]`.
 *
 * @module
 */

import { EMBEDDED, prepareEmbeddedDefault, readSplitText } from "../src/data/prepare.ts";
import { loadTokenizer } from "../src/data/tokenizer.ts";
import { sha256Hex } from "../src/data/sources.ts";
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
const tok = loadTokenizer(`${root}/${EMBEDDED.modelDir}`);
async function tokens(split: "train" | "val"): Promise<Int32Array> {
  const text = await readSplitText(root, split);
  const key = (await sha256Hex(
    text + (await Deno.readTextFile(`${root}/${EMBEDDED.modelDir}/tokenizer.json`)),
  )).slice(0, 16);
  const path = `${root}/.cache/train/${split}-${key}.i32`;
  try {
    const b = await Deno.readFile(path);
    return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  } catch {
    log(`tokenizing ${split}`);
    const ids = Int32Array.from(tok.encode(text));
    await Deno.mkdir(`${root}/.cache/train`, { recursive: true });
    await Deno.writeFile(path, new Uint8Array(ids.buffer));
    return ids;
  }
}
const trainTokens = await tokens("train");
const valTokens = await tokens("val");
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
