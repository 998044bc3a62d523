/**
 * Trains the Amphista ablation drafters that `bench/specs/amphista-ablation.json` reads from
 * `.cache/amphista-ablation/<variant>/`, one after another, each with `scripts/train_amphista.ts`
 * at Medusa's data budget (400 steps × 4 sequences of the same distillation data) and exactly one
 * switch changed from the default drafter. A variant whose folder already holds weights is
 * skipped; an interrupted one resumes from its checkpoint.
 *
 * Usage: `deno run -A scripts/train_amphista_ablations.ts [--only NAME[,NAME]] [--threads N]`
 *
 * @module
 */

import { parseArgs } from "node:util";

/** Each ablation variant and the `train_amphista.ts` flags that make it. */
export const AMPHISTA_ABLATIONS: Readonly<Record<string, readonly string[]>> = {
  "no-encoder": ["--encoder-layers", "0"],
  "no-adapter": ["--stages", "0"],
  "no-fusion": ["--no-fusion"],
  "1stage": ["--stages", "1"],
  "enc2": ["--encoder-layers", "2"],
};

/** Medusa's budget (`bench/models/sparsespec-tiny/medusa/training.json`). */
const BUDGET = ["--steps", "400", "--batch", "4"];

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const { values } = parseArgs({
    args: Deno.args,
    options: { only: { type: "string" }, threads: { type: "string", default: "1" } },
  });
  const names = values.only ? values.only.split(",") : Object.keys(AMPHISTA_ABLATIONS);
  for (const name of names) {
    const flags = AMPHISTA_ABLATIONS[name];
    if (!flags) {
      throw new Error(
        `--only: unknown variant "${name}"; use ${Object.keys(AMPHISTA_ABLATIONS).join(", ")}`,
      );
    }
    const out = `${root}/.cache/amphista-ablation/${name}`;
    const done = await Deno.stat(`${out}/model.safetensors`).then(() => true, () => false);
    if (done) {
      console.log(`${name}: ${out} exists, skipped`);
      continue;
    }
    console.log(`${name}: training (${flags.join(" ")})`);
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${root}/scripts/train_amphista.ts`,
        ...BUDGET,
        "--threads",
        values.threads!,
        "--out",
        out,
        ...flags,
      ],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) throw new Error(`${name}: scripts/train_amphista.ts exited with ${code}`);
  }
}
