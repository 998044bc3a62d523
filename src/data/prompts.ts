/**
 * Prompt sets for the decoding benchmarks: the project's `prompts-heldout` set (category-labelled
 * continuation prompts from the held-out splits, `shared/research/data.md` §4(c)), its builder,
 * and loaders for JSONL prompt files in either of two shapes, detected per line:
 *
 * - this project's `{"id": string, "category": string, "prompt": string}`;
 * - Spec-Bench's `question.jsonl`, `{"question_id": number|string, "category": string,
 *   "turns": [string, ...]}`, read as `{id: String(question_id), category, prompt: turns[0]}`
 *   (only the first turn is used: the benchmarks here are single-turn).
 *
 * @module
 */

import { sha256Hex } from "./sources.ts";
import {
  documentSentences,
  HELDOUT_SPLITS,
  type HeldoutDocument,
  isTrainSentence,
} from "./tasks_build.ts";
import { describeValue, jsonlValues } from "./jsonl.ts";

/** One prompt. */
export interface Prompt {
  /** Unique id within its set. */
  id: string;
  /** Category for per-category breakdowns (a Brown genre, `sotu`, or Spec-Bench's category). */
  category: string;
  /** The prompt text. */
  prompt: string;
}

/** Built-in prompt sets: name → file relative to the repository root. */
export const PROMPT_SETS: Readonly<Record<string, string>> = {
  "prompts-heldout": "bench/prompts/prompts-heldout.jsonl",
};

/**
 * Reads one parsed JSONL line as a prompt, in either supported shape.
 *
 * @param value The parsed line.
 * @param where `file:line`, for messages.
 * @throws Error naming `where`, the field and the expected shapes
 */
export function parsePromptRecord(value: unknown, where: string): Prompt {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new Error(
      `${where}: field "${field}": expected ${want}, got ${describeValue(got)}; ` +
        `each line must be {"id", "category", "prompt"} or Spec-Bench's ` +
        `{"question_id", "category", "turns"}`,
    );
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return bad("(line)", "a JSON object", value);
  }
  const o = value as Record<string, unknown>;
  if (typeof o.category !== "string" || o.category === "") {
    bad("category", "a non-empty string", o.category);
  }
  if ("turns" in o || "question_id" in o) {
    const qid = o.question_id;
    if (!(typeof qid === "string" && qid !== "") && !Number.isInteger(qid)) {
      bad("question_id", "an integer or a non-empty string", qid);
    }
    if (!Array.isArray(o.turns) || o.turns.length === 0) {
      bad("turns", "a non-empty array of strings", o.turns);
    }
    const first = (o.turns as unknown[])[0];
    if (typeof first !== "string" || first === "") bad("turns[0]", "a non-empty string", first);
    return { id: String(qid), category: o.category as string, prompt: first as string };
  }
  if (typeof o.id !== "string" || o.id === "") bad("id", "a non-empty string", o.id);
  if (typeof o.prompt !== "string" || o.prompt === "") {
    bad("prompt", "a non-empty string", o.prompt);
  }
  return { id: o.id as string, category: o.category as string, prompt: o.prompt as string };
}

/**
 * Parses a prompts JSONL text (either shape, blank lines skipped) and checks ids are unique.
 *
 * @param text File contents.
 * @param path File name used in error messages.
 * @throws Error naming the file, the 1-based line and the field
 */
export function parsePromptsJsonl(text: string, path: string): Prompt[] {
  const out: Prompt[] = [];
  const seen = new Map<string, number>();
  for (const { value, line } of jsonlValues(text, path, "expected one JSON object per line")) {
    const p = parsePromptRecord(value, `${path}:${line}`);
    const prev = seen.get(p.id);
    if (prev !== undefined) {
      throw new Error(
        `${path}:${line}: field "id": ${
          JSON.stringify(p.id)
        } repeats line ${prev}; ids must be unique`,
      );
    }
    seen.set(p.id, line);
    out.push(p);
  }
  if (out.length === 0) throw new Error(`${path}: no prompts; expected one JSON object per line`);
  return out;
}

/** Options of {@linkcode loadPromptSet}. */
export interface LoadPromptSetOptions {
  /** Repository root; built-in sets and relative paths resolve against it. */
  root: string;
  /** Keep only the first `limit` prompts. */
  limit?: number;
}

/**
 * Loads a built-in prompt set by name (`prompts-heldout`) or a JSONL file by path (either
 * shape; relative paths resolve against `root`).
 *
 * @throws Error for an unknown name, an unreadable file, or a bad line (file, line, field)
 */
export async function loadPromptSet(
  nameOrPath: string,
  opts: LoadPromptSetOptions,
): Promise<Prompt[]> {
  let path: string;
  if (nameOrPath in PROMPT_SETS) path = `${opts.root}/${PROMPT_SETS[nameOrPath]}`;
  else if (nameOrPath.includes("/") || nameOrPath.endsWith(".jsonl")) {
    path = nameOrPath.startsWith("/") ? nameOrPath : `${opts.root}/${nameOrPath}`;
  } else {
    throw new Error(
      `unknown prompt set "${nameOrPath}": use ${Object.keys(PROMPT_SETS).join(", ")} or a path ` +
        `to a JSONL file ({id, category, prompt} or Spec-Bench question.jsonl)`,
    );
  }
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read prompt file (${(e as Error).message})`);
  }
  const prompts = parsePromptsJsonl(text, path);
  return opts.limit === undefined ? prompts : prompts.slice(0, opts.limit);
}

/** Options of {@linkcode buildHeldoutPrompts}. */
export interface HeldoutPromptOptions {
  /** Token counter of the embedded tokenizer. */
  countTokens: (text: string) => number;
  /** Prompts per category (default 10). */
  perCategory?: number;
  /** Overrides per category (default `{sotu: 25}`). */
  quotas?: Readonly<Record<string, number>>;
  /** Token range of a prompt (default [32, 128]). */
  tokenRange?: [number, number];
  /** Most whole sentences in a prompt (default 3). */
  maxSentences?: number;
  /** Train sentences; a prompt containing one is skipped. */
  trainSentences?: ReadonlySet<string>;
}

/**
 * Builds `prompts-heldout` from held-out documents. Candidate starts are paragraph starts; a
 * document without paragraph breaks (the SOTU addresses here are one line each) offers every
 * sentence start instead. A candidate's prompt is the fewest whole sentences (1 to
 * `maxSentences`, same paragraph) reaching the minimum token count; it is dropped if that
 * exceeds the maximum, cannot be reached, or contains a train sentence. Candidates of each
 * category are visited in ascending order of sha256(`<doc id>:<offset>`) and taken while the
 * category's quota is not met, at most ceil(quota / documents in the category) per document.
 * Categories come in order of first appearance; ids are `<category>-NN`.
 */
export async function buildHeldoutPrompts(
  docs: readonly HeldoutDocument[],
  opts: HeldoutPromptOptions,
): Promise<Prompt[]> {
  for (const d of docs) {
    if (!(HELDOUT_SPLITS as readonly string[]).includes(d.split)) {
      throw new Error(`document ${d.id}: split "${d.split}" is not held out`);
    }
  }
  const [minTok, maxTok] = opts.tokenRange ?? [32, 128];
  const maxSent = opts.maxSentences ?? 3;
  const quotas = opts.quotas ?? { sotu: 25 };
  const categories: string[] = [];
  const docsOf = new Map<string, number>();
  for (const d of docs) {
    if (!docsOf.has(d.category)) categories.push(d.category);
    docsOf.set(d.category, (docsOf.get(d.category) ?? 0) + 1);
  }
  interface Start {
    key: string;
    doc: number;
    sentence: number;
  }
  const starts = new Map<string, Start[]>(categories.map((c) => [c, []]));
  const sentsOf = docs.map((d) => documentSentences(d.text));
  for (let di = 0; di < docs.length; di++) {
    const sents = sentsOf[di];
    const paragraphs = new Set(sents.map((s) => s.paragraph)).size;
    for (let si = 0; si < sents.length; si++) {
      if (paragraphs > 1 && !sents[si].first) continue;
      const key = await sha256Hex(`${docs[di].id}:${sents[si].start}`);
      starts.get(docs[di].category)!.push({ key, doc: di, sentence: si });
    }
  }
  const out: Prompt[] = [];
  for (const category of categories) {
    const quota = quotas[category] ?? opts.perCategory ?? 10;
    const cap = Math.ceil(quota / docsOf.get(category)!);
    const list = starts.get(category)!.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const perDoc = new Map<number, number>();
    let n = 0;
    for (const st of list) {
      if (n >= quota) break;
      if ((perDoc.get(st.doc) ?? 0) >= cap) continue;
      const sents = sentsOf[st.doc];
      let text: string | null = null;
      for (let k = 1; k <= maxSent; k++) {
        const last = sents[st.sentence + k - 1];
        if (last === undefined || last.paragraph !== sents[st.sentence].paragraph) break;
        if (isTrainSentence(last.text, opts.trainSentences)) break;
        const t = docs[st.doc].text.slice(sents[st.sentence].start, last.end);
        const tokens = opts.countTokens(t);
        if (tokens >= minTok) {
          if (tokens <= maxTok) text = t;
          break;
        }
      }
      if (text === null) continue;
      perDoc.set(st.doc, (perDoc.get(st.doc) ?? 0) + 1);
      n++;
      out.push({ id: `${category}-${String(n).padStart(2, "0")}`, category, prompt: text });
    }
    if (n < quota) {
      throw new Error(
        `prompts-heldout: category "${category}" yields ${n} prompts, fewer than its quota ${quota}`,
      );
    }
  }
  return out;
}
