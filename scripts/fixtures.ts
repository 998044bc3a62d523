/**
 * Regenerates the embedded default from scratch, in order: corpus splits (checked against
 * `bench/data/splits.json`), the tokenizer (retrained and compared byte for byte with the
 * committed one), the zero-shot task files and prompts, the reference model, then the drafting
 * heads. Each step is its own script and resumes from its checkpoint after a stop.
 *
 * Usage: `deno task fixtures [--from step]` with steps data, tasks, model, heads.
 *
 * @module
 */

import {
  EMBEDDED,
  prepareEmbeddedDefault,
  readSplitDocuments,
  trainDefaultTokenizer,
} from "../src/data/prepare.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const steps = ["data", "tasks", "model", "heads"] as const;
const fromArg = Deno.args.indexOf("--from");
const from = fromArg >= 0 ? steps.indexOf(Deno.args[fromArg + 1] as typeof steps[number]) : 0;
if (from < 0) {
  console.error(`--from: expected one of ${steps.join(", ")}`);
  Deno.exit(2);
}
const log = (m: string) => console.log(`[fixtures] ${m}`);

async function script(path: string, args: string[] = []): Promise<void> {
  log(`deno run -A ${path} ${args.join(" ")}`);
  const p = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}/${path}`, ...args],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const { code } = await p.status;
  if (code !== 0) throw new Error(`${path} exited with ${code}`);
}

if (from <= 0) {
  await prepareEmbeddedDefault({ root, log });
  const fresh = trainDefaultTokenizer(await readSplitDocuments(root, "train"), EMBEDDED.vocabSize);
  const committed = await Deno.readTextFile(`${root}/${EMBEDDED.modelDir}/tokenizer.json`);
  if (fresh !== committed) {
    throw new Error(`${EMBEDDED.modelDir}/tokenizer.json differs from a fresh training run`);
  }
  log("tokenizer reproduces byte for byte");
}
if (from <= 1) await script("scripts/build_tasks.ts");
if (from <= 2) await script("scripts/train_lm.ts");
if (from <= 3) {
  try {
    await Deno.stat(`${root}/scripts/train_heads.ts`);
    await script("scripts/train_heads.ts");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    log("no heads trainer yet; skipping");
  }
}
log("done");
