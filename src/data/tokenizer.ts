/**
 * The one tokenizer wrapper the project uses: a Hugging Face `tokenizer.json` (plus an optional
 * `tokenizer_config.json`) run by `@huggingface/tokenizers`, with no network.
 *
 * @module
 */

import { Tokenizer } from "@huggingface/tokenizers";

/** Encode/decode over a loaded `tokenizer.json`. */
export interface TextTokenizer {
  /** Token ids of a text, no special tokens added. */
  encode(text: string): number[];
  /** Text of token ids; exact inverse of {@linkcode TextTokenizer.encode} (no space clean-up). */
  decode(ids: ArrayLike<number>): string;
  /** Vocabulary size including special tokens. */
  vocabSize: number;
  /** Id of `<|endoftext|>`, or undefined when the vocabulary has none. */
  eosId: number | undefined;
}

/** Builds a {@linkcode TextTokenizer} from parsed `tokenizer.json` (and config) objects. */
export function tokenizerFromJson(
  json: Record<string, unknown>,
  config: Record<string, unknown> = {},
): TextTokenizer {
  const tok = new Tokenizer(json as never, { clean_up_tokenization_spaces: false, ...config });
  const model = json.model as { vocab?: Record<string, number> } | undefined;
  const vocab = model?.vocab ?? {};
  const added = (json.added_tokens as Array<{ id: number; content: string }> | undefined) ?? [];
  let size = Object.keys(vocab).length;
  for (const t of added) if (!(t.content in vocab)) size++;
  const eos = added.find((t) => t.content === "<|endoftext|>")?.id ?? vocab["<|endoftext|>"];
  return {
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) =>
      tok.decode(Array.from(ids), {
        skip_special_tokens: false,
        clean_up_tokenization_spaces: false,
      }),
    vocabSize: size,
    eosId: eos,
  };
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read tokenizer file (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Loads `tokenizer.json` from a model folder (or a direct path to the file), with
 * `tokenizer_config.json` beside it when present.
 */
export function loadTokenizer(path: string): TextTokenizer {
  const file = path.endsWith(".json") ? path : `${path}/tokenizer.json`;
  const json = readJson(file);
  if (typeof json.model !== "object" || json.model === null) {
    throw new Error(`${file}: field "model" is missing; expected a Hugging Face tokenizer.json`);
  }
  const cfgPath = file.replace(/tokenizer\.json$/, "tokenizer_config.json");
  let config: Record<string, unknown> = {};
  try {
    Deno.statSync(cfgPath);
    config = readJson(cfgPath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return tokenizerFromJson(json, config);
}
