/**
 * Token ids of a corpus split under a given tokenizer, cached on disk (`.cache/tokens/`) keyed
 * by the SHA-256 of the text and the tokenizer file, so that a changed split or tokenizer is
 * never served stale ids.
 *
 * @module
 */

import { readSplitText } from "./prepare.ts";
import { sha256Hex } from "./sources.ts";
import type { SplitName } from "./splits.ts";
import { loadTokenizer } from "./tokenizer.ts";

const memo = new Map<string, Int32Array>();

/** Options for {@linkcode splitTokens}. */
export interface SplitTokensOptions {
  /** Repository root (the split texts live under `.cache/data`). */
  root: string;
  /** Model folder (or tokenizer.json path) whose tokenizer to use. */
  tokenizer: string;
}

/** Token ids of a prepared split (run `prepareEmbeddedDefault` first). */
export async function splitTokens(split: SplitName, opts: SplitTokensOptions): Promise<Int32Array> {
  const text = await readSplitText(opts.root, split);
  const tokFile = opts.tokenizer.endsWith(".json")
    ? opts.tokenizer
    : `${opts.tokenizer}/tokenizer.json`;
  const key = (await sha256Hex(text + "\u0000" + (await Deno.readTextFile(tokFile)))).slice(0, 20);
  const hit = memo.get(key);
  if (hit) return hit;
  const dir = `${opts.root}/.cache/tokens`;
  const path = `${dir}/${split}-${key}.i32`;
  let ids: Int32Array;
  try {
    const b = await Deno.readFile(path);
    ids = new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  } catch {
    ids = Int32Array.from(loadTokenizer(tokFile).encode(text));
    await Deno.mkdir(dir, { recursive: true });
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(tmp, new Uint8Array(ids.buffer));
    await Deno.rename(tmp, path);
  }
  memo.set(key, ids);
  return ids;
}
