/**
 * Builders of the project's four zero-shot tasks (see `shared/research/data.md` §4(b)). They are
 * "-style" tasks made from held-out text and WordNet, never the original benchmarks:
 *
 * | task        | style           | source                        | item                            |
 * |-------------|-----------------|-------------------------------|---------------------------------|
 * | `lastword`  | LAMBADA-style   | test-id + test-ood passages   | context → final word            |
 * | `nextsent4` | HellaSwag-style | test-id + test-ood sentences  | context → 1 of 4 next sentences |
 * | `wncloze4`  | cloze           | WordNet 3.1 example sentences | prefix → 1 of 4 lemmas + rest   |
 * | `swappairs` | BLiMP-style     | test-id + test-ood sentences  | original vs adjacent swap       |
 *
 * Every builder is a pure, seeded function of its inputs (mulberry32), so the same inputs give
 * byte-identical items. Held-out builders accept only documents of the `test-id` and `test-ood`
 * splits (never train or val) and, given the train split's sentences, drop any candidate that
 * contains a sentence (of 4 or more words) that also occurs verbatim in train. Train is read
 * only for that filter and for the unigram counts that frequency-match WordNet distractors.
 *
 * @module
 */

import { mulberry32, type UniformSource } from "../linalg/random.ts";
import type { CorpusDocument, SplitName } from "./splits.ts";
import type { TaskItem } from "./tasks.ts";

/** The splits held-out tasks and prompts may be built from. */
export const HELDOUT_SPLITS = ["test-id", "test-ood"] as const;
/** A split held-out tasks and prompts may be built from. */
export type HeldoutSplit = typeof HELDOUT_SPLITS[number];

/** A document of a held-out split, tagged with its split. */
export interface HeldoutDocument extends CorpusDocument {
  /** The split the document belongs to. */
  split: HeldoutSplit;
}

/**
 * Tags documents with their split, refusing any split other than `test-id` / `test-ood`.
 *
 * @throws Error when `split` is train or val
 */
export function heldoutDocuments(
  split: SplitName,
  docs: readonly CorpusDocument[],
): HeldoutDocument[] {
  if (!(HELDOUT_SPLITS as readonly string[]).includes(split)) {
    throw new Error(
      `split "${split}" is not held out: tasks and prompts are built from ${
        HELDOUT_SPLITS.join(" and ")
      } only`,
    );
  }
  return docs.map((d) => ({ ...d, split: split as HeldoutSplit }));
}

function checkHeldout(docs: readonly HeldoutDocument[]): void {
  for (const d of docs) {
    if (!(HELDOUT_SPLITS as readonly string[]).includes(d.split)) {
      throw new Error(`document ${d.id}: split "${d.split}" is not held out`);
    }
  }
}

/**
 * English stopwords that `lastword` never uses as targets: articles, pronouns, auxiliaries,
 * prepositions, conjunctions and the commonest adverbs (a hand-written list).
 */
export const STOPWORDS: ReadonlySet<string> = new Set(
  (
    "a about above after again against all almost also although always am among an and another " +
    "any anyone anything are around as at be became because become been before being below " +
    "between both but by can cannot could did do does doing done down during each either else " +
    "enough even ever every few for from further had has have having he her here hers herself " +
    "him himself his how however i if in into is it its itself just least less let like made " +
    "make many may me might more most much must my myself neither never no nor not now of off " +
    "often on once one only or other others ought our ours ourselves out over own per perhaps " +
    "quite rather said same say says shall she should since so some something still such than " +
    "that the their theirs them themselves then there therefore these they this those though " +
    "through thus to too toward towards under until up upon us very was we well were what " +
    "whatever when where whether which while who whom whose why will with within without would " +
    "yet you your yours yourself yourselves"
  ).split(" "),
);

/** Abbreviations whose final period does not end a sentence (lower-cased, no period). */
const ABBREVIATIONS: ReadonlySet<string> = new Set(
  (
    "mr mrs ms messrs mme dr st jr sr gen gov col lt capt sgt maj adm cmdr rev prof sen rep hon " +
    "co corp inc ltd bros vol vols vs jan feb mar apr jun jul aug sep sept oct nov dec mt ft pp " +
    "ch fig dept univ ave blvd esq cf al approx"
  ).split(" "),
);

/** One sentence of a document, with its offsets into the document text. */
export interface Sentence {
  /** The sentence text (no surrounding whitespace, no newline inside). */
  text: string;
  /** Offset of its first character in the document. */
  start: number;
  /** Offset one past its last character. */
  end: number;
  /** Index of the paragraph (newline-separated block) it belongs to. */
  paragraph: number;
  /** Whether it is the first sentence of its paragraph. */
  first: boolean;
}

/** Number of whitespace-separated words. */
export function wordCount(text: string): number {
  const t = text.trim();
  return t === "" ? 0 : t.split(/\s+/).length;
}

const TERMINATOR = /[.!?]+["')\]]*/g;

function endsSentence(para: string, at: number, end: number): boolean {
  // Bounded look-around windows keep the scan linear on one-line documents.
  const rest = para.slice(end, end + 8);
  if (rest !== "" && !/^\s+["'(\[]*[A-Z0-9]/.test(rest)) return false;
  if (para[at] !== "." || para[at + 1] === ".") return true;
  const before = para.slice(Math.max(0, at - 32), at);
  const word = /[^\s"'(\[]*$/.exec(before)?.[0] ?? "";
  if (/^[A-Z]$/.test(word)) return false; // an initial: "John F. Kennedy"
  if (/^([A-Za-z]\.)+[A-Za-z]$/.test(word)) return false; // "U.S", "i.e"
  return !ABBREVIATIONS.has(word.toLowerCase());
}

/**
 * Splits a document into sentences. Paragraphs are blocks separated by newlines; inside a
 * paragraph a sentence ends at `.`, `!` or `?` (plus closing quotes or brackets) followed by the
 * end of the paragraph or by whitespace and an upper-case letter or digit, unless the period
 * closes an initial, a dotted abbreviation (`U.S.`) or a listed title/abbreviation (`Mr.`).
 */
export function documentSentences(text: string): Sentence[] {
  const out: Sentence[] = [];
  const re = /[^\n]+/g;
  let paragraph = -1;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const para = m[0];
    if (para.trim() === "") continue;
    paragraph++;
    const base = m.index;
    let start = 0;
    let first = true;
    const push = (from: number, to: number) => {
      const raw = para.slice(from, to);
      const lead = raw.length - raw.trimStart().length;
      const t = raw.trim();
      if (t === "") return;
      out.push({
        text: t,
        start: base + from + lead,
        end: base + from + lead + t.length,
        paragraph,
        first,
      });
      first = false;
    };
    TERMINATOR.lastIndex = 0;
    for (let t = TERMINATOR.exec(para); t !== null; t = TERMINATOR.exec(para)) {
      const end = t.index + t[0].length;
      if (endsSentence(para, t.index, end)) {
        push(start, end);
        start = end;
      }
    }
    push(start, para.length);
  }
  return out;
}

/** Minimum words a sentence needs before the train-overlap filter considers it. */
export const TRAIN_FILTER_MIN_WORDS = 4;

/** The train split's sentences of at least {@linkcode TRAIN_FILTER_MIN_WORDS} words. */
export function trainSentenceSet(train: readonly CorpusDocument[]): Set<string> {
  const set = new Set<string>();
  for (const d of train) {
    for (const s of documentSentences(d.text)) {
      if (wordCount(s.text) >= TRAIN_FILTER_MIN_WORDS) set.add(s.text);
    }
  }
  return set;
}

/** Whether a sentence counts as train text (long enough and present verbatim in train). */
export function isTrainSentence(text: string, train: ReadonlySet<string> | undefined): boolean {
  return train !== undefined && wordCount(text) >= TRAIN_FILTER_MIN_WORDS && train.has(text);
}

/** Lower-cased counts of alphabetic words (`[A-Za-z]+`) over documents. */
export function unigramCounts(docs: readonly { text: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of docs) {
    for (const m of d.text.matchAll(/[A-Za-z]+/g)) {
      const w = m[0].toLowerCase();
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  }
  return counts;
}

/** Fisher–Yates shuffle in place driven by `rand`; returns the array. */
export function shuffleInPlace<T>(items: T[], rand: UniformSource): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/** Options every held-out text builder shares. */
export interface HeldoutBuildOptions {
  /** PRNG seed (mulberry32). */
  seed: number;
  /** Items taken from each held-out split present in the input. */
  perSplit: number;
  /** Train sentences (from {@linkcode trainSentenceSet}); candidates containing one are dropped. */
  trainSentences?: ReadonlySet<string>;
  /** Token counter; with it, items whose context + longest choice exceed `maxTokens` are dropped. */
  countTokens?: (text: string) => number;
  /** Token budget per item (default 200). */
  maxTokens?: number;
}

interface Candidate {
  docIndex: number;
  /** Sentence index used for ordering and spacing. */
  sentence: number;
  /** Items sharing a key are capped (e.g. the lower-cased lastword target). */
  key?: string;
  make(rand: UniformSource): TaskItem | null;
}

function fitsTokens(item: TaskItem, opts: HeldoutBuildOptions): boolean {
  if (!opts.countTokens) return true;
  const ctx = item.context === "" ? 1 : opts.countTokens(item.context);
  const longest = Math.max(...item.choices.map((c) => opts.countTokens!(c)));
  return ctx + longest <= (opts.maxTokens ?? 200);
}

/**
 * Shared selection: shuffles each split's candidates with the seed, accepts them in that order
 * while they succeed, fit the token budget, keep `gap` sentences from accepted items of the
 * same document and stay under `maxPerKey` items per key; stops at `perSplit` per split, then
 * orders the items by split, document and position and numbers them `<task>-NNNN`.
 */
function select(
  task: string,
  docs: readonly HeldoutDocument[],
  candidates: Candidate[],
  opts: HeldoutBuildOptions,
  gap: number,
  maxPerKey = Infinity,
): TaskItem[] {
  const rand = mulberry32(opts.seed);
  const chosen: Array<{ c: Candidate; item: TaskItem }> = [];
  for (const split of HELDOUT_SPLITS) {
    const pool = candidates.filter((c) => docs[c.docIndex].split === split);
    if (pool.length === 0) continue;
    shuffleInPlace(pool, rand);
    const taken = new Map<number, number[]>();
    const perKey = new Map<string, number>();
    let n = 0;
    for (const c of pool) {
      if (n >= opts.perSplit) break;
      const near = taken.get(c.docIndex) ?? [];
      if (near.some((s) => Math.abs(s - c.sentence) < gap)) continue;
      if (c.key !== undefined && (perKey.get(c.key) ?? 0) >= maxPerKey) continue;
      const item = c.make(rand);
      if (item === null || !fitsTokens(item, opts)) continue;
      near.push(c.sentence);
      taken.set(c.docIndex, near);
      if (c.key !== undefined) perKey.set(c.key, (perKey.get(c.key) ?? 0) + 1);
      chosen.push({ c, item });
      n++;
    }
  }
  const splitRank = (c: Candidate) => HELDOUT_SPLITS.indexOf(docs[c.docIndex].split);
  chosen.sort((a, b) =>
    splitRank(a.c) - splitRank(b.c) || a.c.docIndex - b.c.docIndex ||
    a.c.sentence - b.c.sentence
  );
  return chosen.map(({ item }, i) => ({ id: `${task}-${String(i).padStart(4, "0")}`, ...item }));
}

/** Options of {@linkcode buildLastword}. */
export interface LastwordOptions extends HeldoutBuildOptions {
  /** Require the target to occur earlier in the context (default true: the strict variant). */
  strict?: boolean;
  /** Minimum context length in words (default 60). */
  minContextWords?: number;
  /** Minimum words of the target's own sentence before the target (default 3). */
  minSentencePrefixWords?: number;
  /** Minimum distance in sentences between two targets of one document (default 3). */
  sentenceGap?: number;
  /** At most this many items per split share one (lower-cased) target word (default 5). */
  maxPerTarget?: number;
}

/**
 * LAMBADA-style last-word items. A target is the final word of a sentence: preceded by a space,
 * followed directly by `.`, `!` or `?`, alphabetic, at least 3 letters, not a stopword. The
 * context is the shortest run of whole preceding sentences (same document) that, with the
 * target sentence's own words before the target, reaches `minContextWords` words; it ends
 * mid-sentence, right before the target. At most `maxPerTarget` items per split share a target
 * word, so formulaic endings ("the United States") cannot dominate. Strict variant: the target (case-insensitive, whole
 * word) also occurs in the context. Items: `{type: "loglikelihood", context, choices:
 * [" target"], gold: 0}`.
 */
export function buildLastword(docs: readonly HeldoutDocument[], opts: LastwordOptions): TaskItem[] {
  checkHeldout(docs);
  const strict = opts.strict ?? true;
  const minWords = opts.minContextWords ?? 60;
  const minPrefix = opts.minSentencePrefixWords ?? 3;
  const candidates: Candidate[] = [];
  docs.forEach((doc, docIndex) => {
    const sents = documentSentences(doc.text);
    const words = sents.map((s) => wordCount(s.text));
    sents.forEach((s, i) => {
      const m = /\s([A-Za-z]{3,})[.!?]+["')\]]*$/.exec(s.text);
      if (!m) return;
      const target = m[1];
      if (STOPWORDS.has(target.toLowerCase())) return;
      const prefixWords = wordCount(s.text.slice(0, m.index));
      if (prefixWords < minPrefix) return;
      let j = i;
      let total = prefixWords;
      while (total < minWords && j > 0) total += words[--j];
      if (total < minWords) return;
      candidates.push({
        docIndex,
        sentence: i,
        key: target.toLowerCase(),
        make: () => {
          for (let k = j; k <= i; k++) {
            if (isTrainSentence(sents[k].text, opts.trainSentences)) return null;
          }
          const context = doc.text.slice(sents[j].start, s.start + m.index).trimEnd();
          if (strict && !new RegExp(`\\b${target}\\b`, "i").test(context)) return null;
          return {
            category: doc.category,
            doc: doc.id,
            type: "loglikelihood",
            context,
            choices: [` ${target}`],
            gold: 0,
          };
        },
      });
    });
  });
  return select("lastword", docs, candidates, opts, opts.sentenceGap ?? 3, opts.maxPerTarget ?? 5);
}

/** Options of {@linkcode buildNextsent}. */
export interface NextsentOptions extends HeldoutBuildOptions {
  /** Fewest context sentences (default 2). */
  minContext?: number;
  /** Most context sentences (default 4). */
  maxContext?: number;
  /** Distractor length tolerance relative to the gold sentence, in characters (default 0.15). */
  lengthTolerance?: number;
  /** Word range of gold and distractor sentences (default [6, 40]). */
  sentenceWords?: [number, number];
  /** Minimum distance in sentences between two gold sentences of one document (default 5). */
  sentenceGap?: number;
}

interface PoolSentence {
  text: string;
  docIndex: number;
}

/**
 * HellaSwag-style true-continuation items. Context = 2–4 (seeded) consecutive sentences of one
 * paragraph; choices = the true next sentence of that paragraph and 3 distinct sentences from
 * *other* documents of the same held-out split whose length in characters is within ±15% of
 * the gold sentence's and differs from it. How many distractors are shorter than the gold is
 * drawn uniformly from 0–3, so the gold's length rank is uniform: with distractors drawn around
 * the gold, "pick the middle-length choice" would otherwise beat chance. The gold position is
 * seeded. Choices carry a leading space.
 */
export function buildNextsent(docs: readonly HeldoutDocument[], opts: NextsentOptions): TaskItem[] {
  checkHeldout(docs);
  const minCtx = opts.minContext ?? 2;
  const maxCtx = opts.maxContext ?? 4;
  const tol = opts.lengthTolerance ?? 0.15;
  const [minW, maxW] = opts.sentenceWords ?? [6, 40];
  const sentsOf = docs.map((d) => documentSentences(d.text));
  const usable = (t: string) => {
    const w = wordCount(t);
    return w >= minW && w <= maxW && !isTrainSentence(t, opts.trainSentences);
  };
  const pools = new Map<HeldoutSplit, PoolSentence[]>();
  for (const split of HELDOUT_SPLITS) {
    const pool: PoolSentence[] = [];
    docs.forEach((d, docIndex) => {
      if (d.split !== split) return;
      for (const s of sentsOf[docIndex]) if (usable(s.text)) pool.push({ text: s.text, docIndex });
    });
    pool.sort((a, b) => a.text.length - b.text.length || a.docIndex - b.docIndex);
    pools.set(split, pool);
  }
  const lowerBound = (pool: PoolSentence[], len: number) => {
    let lo = 0, hi = pool.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pool[mid].text.length < len) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const candidates: Candidate[] = [];
  docs.forEach((doc, docIndex) => {
    const sents = sentsOf[docIndex];
    sents.forEach((gold, i) => {
      if (i < minCtx || !usable(gold.text)) return;
      let avail = 0;
      while (
        avail < maxCtx && i - avail - 1 >= 0 && sents[i - avail - 1].paragraph === gold.paragraph
      ) {
        avail++;
      }
      if (avail < minCtx) return;
      candidates.push({
        docIndex,
        sentence: i,
        make: (rand) => {
          const k = Math.min(avail, minCtx + Math.floor(rand() * (maxCtx - minCtx + 1)));
          for (let c = i - k; c < i; c++) {
            if (isTrainSentence(sents[c].text, opts.trainSentences)) return null;
          }
          const pool = pools.get(doc.split)!;
          const len = gold.text.length;
          // Distinct sentences of other documents, strictly shorter / strictly longer than the
          // gold, all within the tolerance.
          const side = (lo: number, hi: number): string[] => {
            const out: string[] = [];
            const seen = new Set<string>();
            for (let p = lowerBound(pool, lo); p < lowerBound(pool, hi + 1); p++) {
              const s = pool[p];
              if (s.docIndex === docIndex || seen.has(s.text)) continue;
              seen.add(s.text);
              out.push(s.text);
            }
            return out;
          };
          const shorter = side(Math.ceil(len * (1 - tol)), len - 1);
          const longer = side(len + 1, Math.floor(len * (1 + tol)));
          // The gold's length rank among the four is uniform: r distractors are shorter.
          const r = Math.floor(rand() * 4);
          if (shorter.length < r || longer.length < 3 - r) return null;
          const draw = (from: string[], count: number): string[] => {
            for (let n = 0; n < count; n++) {
              const at = n + Math.floor(rand() * (from.length - n));
              [from[n], from[at]] = [from[at], from[n]];
            }
            return from.slice(0, count);
          };
          const distractors = [...draw(shorter, r), ...draw(longer, 3 - r)];
          shuffleInPlace(distractors, rand);
          const gi = Math.floor(rand() * 4);
          const choices = [...distractors];
          choices.splice(gi, 0, gold.text);
          return {
            category: doc.category,
            doc: doc.id,
            context: doc.text.slice(sents[i - k].start, sents[i - 1].end),
            choices: choices.map((c) => ` ${c}`),
            gold: gi,
          };
        },
      });
    });
  });
  return select("nextsent4", docs, candidates, opts, opts.sentenceGap ?? 5);
}

/** Options of {@linkcode buildSwappairs}. */
export interface SwappairsOptions extends HeldoutBuildOptions {
  /** Word range of the sentences used (default [8, 30]). */
  sentenceWords?: [number, number];
  /** Minimum distance in sentences between two items of one document (default 2). */
  sentenceGap?: number;
}

/**
 * BLiMP-style minimal pairs: a held-out sentence against the same sentence with one seeded
 * pair of adjacent words swapped. Both words are lower-case alphabetic, distinct, and not the
 * sentence's first word (so capitalisation and punctuation stay put). Context is empty (the
 * evaluator conditions on end-of-text, like lm-eval's BLiMP); the gold (original) position is
 * seeded.
 */
export function buildSwappairs(
  docs: readonly HeldoutDocument[],
  opts: SwappairsOptions,
): TaskItem[] {
  checkHeldout(docs);
  const [minW, maxW] = opts.sentenceWords ?? [8, 30];
  const candidates: Candidate[] = [];
  docs.forEach((doc, docIndex) => {
    documentSentences(doc.text).forEach((s, i) => {
      const words = s.text.split(" ");
      if (words.length < minW || words.length > maxW) return;
      if (isTrainSentence(s.text, opts.trainSentences)) return;
      const spots: number[] = [];
      for (let j = 1; j + 1 < words.length; j++) {
        const a = words[j], b = words[j + 1];
        if (/^[a-z]+$/.test(a) && /^[a-z]+$/.test(b) && a !== b) spots.push(j);
      }
      if (spots.length === 0) return;
      candidates.push({
        docIndex,
        sentence: i,
        make: (rand) => {
          const j = spots[Math.floor(rand() * spots.length)];
          const swapped = [...words];
          [swapped[j], swapped[j + 1]] = [swapped[j + 1], swapped[j]];
          const gi = Math.floor(rand() * 2);
          const choices = gi === 0 ? [s.text, swapped.join(" ")] : [swapped.join(" "), s.text];
          return { category: doc.category, doc: doc.id, context: "", choices, gold: gi };
        },
      });
    });
  });
  return select("swappairs", docs, candidates, opts, opts.sentenceGap ?? 2);
}

/** Part of speech of a WordNet synset (satellite adjectives count as `adj`). */
export type WordNetPos = "noun" | "verb" | "adj" | "adv";

/** One WordNet synset with its lemmas and quoted example sentences. */
export interface WordNetSynset {
  /** `<offset>-<ss_type>`, e.g. `00217701-n`. */
  id: string;
  /** Part of speech. */
  pos: WordNetPos;
  /** Lemmas in synset order, syntactic markers such as `(a)` removed. */
  lemmas: string[];
  /** Quoted example sentences of the gloss. */
  examples: string[];
}

const SS_TYPE_POS: Record<string, WordNetPos> = {
  n: "noun",
  v: "verb",
  a: "adj",
  s: "adj",
  r: "adv",
};

/**
 * Parses a WordNet `data.{noun,verb,adj,adv}` file (licence header lines start with two spaces
 * and are skipped).
 *
 * @param text File contents.
 * @param file File name for error messages.
 * @throws Error naming the file and line on a malformed synset line
 */
export function parseWordNetData(text: string, file: string): WordNetSynset[] {
  const out: WordNetSynset[] = [];
  const lines = text.split("\n");
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li];
    if (line === "" || line.startsWith("  ")) continue;
    const bar = line.indexOf(" | ");
    const f = (bar < 0 ? line : line.slice(0, bar)).split(" ");
    const pos = SS_TYPE_POS[f[2]];
    const count = parseInt(f[3], 16);
    if (!/^\d{8}$/.test(f[0]) || pos === undefined || !(count > 0)) {
      throw new Error(
        `${file}:${li + 1}: not a WordNet synset line (offset, lex_filenum, ss_type, w_cnt)`,
      );
    }
    const lemmas: string[] = [];
    for (let w = 0; w < count; w++) lemmas.push(f[4 + 2 * w].replace(/\([a-z]+\)$/, ""));
    const gloss = bar < 0 ? "" : line.slice(bar + 3);
    const examples = [...gloss.matchAll(/"([^"]+)"/g)].map((m) => m[1].trim());
    out.push({ id: `${f[0]}-${f[2]}`, pos, lemmas, examples });
  }
  return out;
}

/** Options of {@linkcode buildWncloze}. */
export interface WnclozeOptions {
  /** PRNG seed (mulberry32). */
  seed: number;
  /** Number of items to sample. */
  count: number;
  /** Lower-cased unigram counts of the train split ({@linkcode unigramCounts}). */
  counts: ReadonlyMap<string, number>;
  /** Lemmas (gold and distractors) need at least this train count (default 3). */
  minCount?: number;
  /** Distractors come from within this many frequency ranks of the gold (default 20). */
  rankWindow?: number;
  /** Example sentences need at least this many words (default 4). */
  minWords?: number;
  /** Example sentences may have at most this many characters (default 200). */
  maxChars?: number;
}

/** Frequency rank table of one part of speech: lemmas by train count, descending. */
export interface FrequencyRanks {
  /** Lemmas sorted by count (descending), ties by spelling. */
  lemmas: string[];
  /** Lemma → its index in `lemmas`. */
  rank: Map<string, number>;
}

/**
 * The distractor pool of each part of speech: single-word, lower-case alphabetic lemmas with at
 * least `minCount` train occurrences, ranked by count.
 */
export function frequencyRanks(
  synsets: readonly WordNetSynset[],
  counts: ReadonlyMap<string, number>,
  minCount = 3,
): Map<WordNetPos, FrequencyRanks> {
  const byPos = new Map<WordNetPos, Set<string>>();
  for (const s of synsets) {
    const set = byPos.get(s.pos) ?? new Set<string>();
    for (const l of s.lemmas) {
      if (/^[a-z]{2,}$/.test(l) && (counts.get(l) ?? 0) >= minCount) set.add(l);
    }
    byPos.set(s.pos, set);
  }
  const out = new Map<WordNetPos, FrequencyRanks>();
  for (const [pos, set] of byPos) {
    const lemmas = [...set].sort((a, b) =>
      counts.get(b)! - counts.get(a)! || (a < b ? -1 : a > b ? 1 : 0)
    );
    out.set(pos, { lemmas, rank: new Map(lemmas.map((l, i) => [l, i])) });
  }
  return out;
}

/**
 * Cloze items from WordNet example sentences. A candidate is an example in which exactly one
 * single-word lemma of its own synset (lower-case alphabetic, train count ≥ `minCount`) occurs
 * exactly once, verbatim, as a whole word preceded by a space or starting the sentence. The
 * 3 distractors are drawn (seeded) from the same part of speech within `rankWindow` frequency
 * ranks of the gold, excluding the gold, every lemma sharing a synset with it (its synonyms in
 * any sense), every word of the sentence and every lemma of the gold's length; after an
 * "a"/"an" they start with a vowel exactly when the gold does. How many distractors are more
 * frequent than the gold, and how many are shorter, are each drawn uniformly from 0–3
 * (candidates that cannot meet the draw are skipped), so neither "pick the k-th most frequent"
 * nor "pick the k-th shortest" beats chance by construction. Context = the sentence before the blank;
 * choices = `" lemma" + rest of the sentence` (no leading space when the blank starts the
 * sentence). One item per synset; `count` items sampled uniformly from all candidates.
 */
export function buildWncloze(synsets: readonly WordNetSynset[], opts: WnclozeOptions): TaskItem[] {
  const minCount = opts.minCount ?? 3;
  const window = opts.rankWindow ?? 20;
  const minWords = opts.minWords ?? 4;
  const maxChars = opts.maxChars ?? 200;
  const ranks = frequencyRanks(synsets, opts.counts, minCount);
  const synsetsOfLemma = new Map<string, number[]>();
  synsets.forEach((s, i) => {
    for (const l of s.lemmas) {
      const key = `${s.pos}:${l}`;
      const list = synsetsOfLemma.get(key) ?? [];
      list.push(i);
      synsetsOfLemma.set(key, list);
    }
  });
  interface Cand {
    synset: number;
    example: string;
    lemma: string;
    at: number;
  }
  const cands: Cand[] = [];
  synsets.forEach((s, si) => {
    const table = ranks.get(s.pos);
    for (const example of s.examples) {
      if (example.length > maxChars || wordCount(example) < minWords) continue;
      const lemma = s.lemmas.find((l) => {
        if (!table?.rank.has(l)) return false;
        return [...example.matchAll(new RegExp(`(?<![A-Za-z'-])${l}(?![A-Za-z'-])`, "g"))]
          .length === 1;
      });
      if (lemma === undefined) continue;
      const at = example.search(new RegExp(`(?<![A-Za-z'-])${lemma}(?![A-Za-z'-])`));
      if (at > 0 && example[at - 1] !== " ") continue;
      cands.push({ synset: si, example, lemma, at });
      break; // one candidate per synset: its first usable example
    }
  });
  const rand = mulberry32(opts.seed);
  shuffleInPlace(cands, rand);
  const chosen: Array<{ c: Cand; item: TaskItem }> = [];
  for (const c of cands) {
    if (chosen.length >= opts.count) break;
    const s = synsets[c.synset];
    const table = ranks.get(s.pos)!;
    const excluded = new Set<string>(
      [...c.example.toLowerCase().matchAll(/[a-z]+/g)].map((m) => m[0]),
    );
    for (const si of synsetsOfLemma.get(`${s.pos}:${c.lemma}`) ?? []) {
      for (const l of synsets[si].lemmas) excluded.add(l);
    }
    const r = table.rank.get(c.lemma)!;
    // After "a"/"an", distractors must start like the gold (vowel or not): no article shortcut.
    const article = /(?:^|\s)an?$/i.test(c.example.slice(0, c.at).trimEnd());
    const vowel = (w: string) => /^[aeiou]/.test(w);
    const len = c.lemma.length;
    // Four cells: more/less frequent than the gold × shorter/longer (equal length excluded).
    const cells: string[][] = [[], [], [], []];
    const lo = Math.max(0, r - window), hi = Math.min(table.lemmas.length - 1, r + window);
    for (let k = lo; k <= hi; k++) {
      const w = table.lemmas[k];
      if (k === r || w.length === len || excluded.has(w)) continue;
      if (article && vowel(w) !== vowel(c.lemma)) continue;
      cells[(k < r ? 0 : 2) + (w.length < len ? 0 : 1)].push(w);
    }
    // How many distractors are more frequent, and how many shorter, are each uniform in 0–3,
    // so the gold's frequency rank and its length rank among the four are both uniform.
    const more = Math.floor(rand() * 4);
    const shorter = Math.floor(rand() * 4);
    const freqSide = shuffleInPlace([0, 1, 2].map((n) => (n < more ? 0 : 2)), rand);
    const lenSide = shuffleInPlace([0, 1, 2].map((n) => (n < shorter ? 0 : 1)), rand);
    const need = [0, 0, 0, 0];
    for (let n = 0; n < 3; n++) need[freqSide[n] + lenSide[n]]++;
    if (need.some((k, cell) => cells[cell].length < k)) continue;
    const distractors: string[] = [];
    for (let cell = 0; cell < 4; cell++) {
      const from = cells[cell];
      for (let n = 0; n < need[cell]; n++) {
        const at = n + Math.floor(rand() * (from.length - n));
        [from[n], from[at]] = [from[at], from[n]];
        distractors.push(from[n]);
      }
    }
    shuffleInPlace(distractors, rand);
    const gi = Math.floor(rand() * 4);
    const words = [...distractors];
    words.splice(gi, 0, c.lemma);
    const context = c.example.slice(0, c.at).trimEnd();
    const rest = c.example.slice(c.at + c.lemma.length);
    const lead = context === "" ? "" : " ";
    chosen.push({
      c,
      item: {
        category: s.pos,
        doc: `wordnet-3.1/${s.id}`,
        context,
        choices: words.map((w) => `${lead}${w}${rest}`),
        gold: gi,
      },
    });
  }
  chosen.sort((a, b) => a.c.synset - b.c.synset);
  return chosen.map(({ item }, i) => ({ id: `wncloze4-${String(i).padStart(4, "0")}`, ...item }));
}
