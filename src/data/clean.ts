/**
 * Text clean-up for the corpus, one pure function per source. Every rule is deterministic, so
 * the split checksums pin the result.
 *
 * @module
 */

/** Typographic characters folded to ASCII so that all sources share one convention. */
const FOLD: ReadonlyArray<[RegExp, string]> = [
  [/[\u2018\u2019\u201B\u2032]/g, "'"],
  [/[\u201C\u201D\u201F\u2033]/g, '"'],
  [/[\u2013\u2012]/g, "-"],
  [/[\u2014\u2015]/g, "--"],
  [/\u2026/g, "..."],
  [/[\u00A0\u2009\u200A\u202F]/g, " "],
  [/[\u200B\uFEFF]/g, ""],
];

/** NFC-normalises and folds curly quotes, dashes, ellipses and odd spaces to ASCII. */
export function foldTypography(text: string): string {
  let out = text.normalize("NFC");
  for (const [re, to] of FOLD) out = out.replace(re, to);
  return out;
}

/** Collapses runs of spaces/tabs, trims each line, and drops empty lines at both ends. */
export function tidyWhitespace(text: string): string {
  return text
    .split("\n")
    .map((l) => l.replace(/[ \t\r\f\v]+/g, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/**
 * One State of the Union address. Audience notes (`[Laughter]`, `[Applause]`, `[missing text]`)
 * are removed; editorial insertions such as `[the States]` keep their words without brackets.
 */
export function cleanSotu(text: string): string {
  const noNotes = text
    .replace(/\[(laughter|applause|missing text)\]/gi, " ")
    .replace(/\[([^\]\n]{1,80})\]/g, "$1");
  return tidyWhitespace(foldTypography(noNotes)).replace(/ ([.,;:?!])/g, "$1");
}

/** One Moby-Dick chapter file: paragraphs one per line, separated by blank lines. */
export function cleanMobyDick(text: string): string {
  const paras = foldTypography(text).split(/\n\s*\n|\n/).map((p) => p.trim()).filter(Boolean);
  return tidyWhitespace(paras.join("\n\n"));
}

/**
 * One Brown corpus sample (`word/tag` tokens, blank-line paragraphs): strips the tags and undoes
 * the Treebank-style tokenisation (quotes, spaces before punctuation, split clitics).
 */
export function cleanBrown(text: string): string {
  const paras = text.split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
  const out = paras.map((p) =>
    p.split(/\s+/)
      .map((t) => {
        const i = t.lastIndexOf("/");
        return i > 0 ? t.slice(0, i) : t;
      })
      .join(" ")
      .replace(/``\s*/g, '"')
      .replace(/\s*''/g, '"')
      .replace(/ ([.,;:?!)])/g, "$1")
      .replace(/\( /g, "(")
      .replace(/ (n't|'s|'re|'ll|'d|'ve|'m)\b/gi, "$1")
  );
  return tidyWhitespace(foldTypography(out.join("\n\n")));
}
