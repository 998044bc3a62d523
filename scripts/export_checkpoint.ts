/**
 * Exports the current training checkpoint (`.cache/train/lm`) as a Hugging Face folder, for
 * developing against a partly trained model while training runs.
 * Usage: `deno run -A scripts/export_checkpoint.ts [outDir]` (default `.cache/dev-model`).
 *
 * @module
 */
import { readSafetensors } from "../src/model/safetensors.ts";
import { EMBEDDED_LM_SETTINGS } from "../src/train/lm_defaults.ts";
import { writeHfModelFolder } from "../src/model/weights.ts";
import { llamaParameterShapes } from "../src/train/tf_llama.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const out = Deno.args[0] ?? `${root}/.cache/dev-model`;
const path = `${root}/.cache/train/lm/checkpoint.safetensors`;
const t = readSafetensors(await Deno.readFile(path), path);
const cfg = EMBEDDED_LM_SETTINGS.config;
const weights = new Map(
  llamaParameterShapes(cfg).map(([n]) => [n, t.get(`param/${n}`)!.data] as [string, Float32Array]),
);
await writeHfModelFolder(out, cfg, weights);
for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
  await Deno.copyFile(`${root}/bench/models/sparsespec-tiny/${f}`, `${out}/${f}`);
}
console.log(`exported step ${t.metadata.step} to ${out}`);
