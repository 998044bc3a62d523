/**
 * Sparsity patterns: the string shorthands a spec may use (`"dense"`, `"50%"`,
 * `"unstructured:0.5"`, `"2:4"`) and the normalised objects every run carries.
 *
 * @module
 */

import { z } from "zod";

/** No weights removed: the unpruned baseline. */
export interface DensePattern {
  /** Discriminator. */
  type: "dense";
}

/** Unstructured sparsity: a fraction `sparsity` (0 < s < 1) of the weights are zero. */
export interface UnstructuredPattern {
  /** Discriminator. */
  type: "unstructured";
  /** Fraction of weights set to zero, strictly between 0 and 1. */
  sparsity: number;
}

/**
 * Semi-structured N:M sparsity in NVIDIA's convention: in every group of `m` consecutive weights
 * along a row's input dimension, at most `n` are nonzero (so `2:4` and `4:8` are 50% sparse,
 * `1:4` is 75% sparse).
 */
export interface NMPattern {
  /** Discriminator. */
  type: "nm";
  /** Nonzero weights kept per group. */
  n: number;
  /** Group size. */
  m: number;
}

/** A normalised sparsity pattern, as found at `run.spec.pattern`. */
export type Pattern = DensePattern | UnstructuredPattern | NMPattern;

const PATTERN_HELP =
  'a sparsity pattern: "dense", a percentage like "50%", "unstructured:0.5", an N:M pattern ' +
  'like "2:4", or an object {"type": "unstructured", "sparsity": 0.5} / {"type": "nm", "n": 2, "m": 4}';

const PATTERN_STRING_RE = /^(dense|\d+(\.\d+)?%|unstructured:\d*\.?\d+|\d+:\d+)$/;

/**
 * Parses a pattern shorthand string. Returns the pattern, or an error sentence saying what is
 * expected.
 */
export function parsePatternString(text: string): Pattern | { error: string } {
  if (text === "dense") return { type: "dense" };
  let match = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (match) return checkPattern({ type: "unstructured", sparsity: Number(match[1]) / 100 }, text);
  match = /^unstructured:(\d*\.?\d+)$/.exec(text);
  if (match) return checkPattern({ type: "unstructured", sparsity: Number(match[1]) }, text);
  match = /^(\d+):(\d+)$/.exec(text);
  if (match) return checkPattern({ type: "nm", n: Number(match[1]), m: Number(match[2]) }, text);
  return { error: `expected ${PATTERN_HELP}; got ${JSON.stringify(text)}` };
}

/** Checks a pattern's numbers; returns the pattern or an error sentence. */
export function checkPattern(pattern: Pattern, shown?: string): Pattern | { error: string } {
  const what = shown === undefined ? "" : `; got ${JSON.stringify(shown)}`;
  if (pattern.type === "unstructured") {
    const s = pattern.sparsity;
    if (!(s > 0 && s < 1)) {
      return {
        error: `unstructured sparsity must be strictly between 0 and 1 (0%-100% exclusive; use ` +
          `"dense" for no pruning)${what}`,
      };
    }
  }
  if (pattern.type === "nm") {
    const { n, m } = pattern;
    if (!Number.isSafeInteger(n) || !Number.isSafeInteger(m) || n < 1 || m < 2 || n >= m) {
      return { error: `an N:M pattern needs whole numbers 1 <= N < M (e.g. "2:4")${what}` };
    }
    if (m > 1024) return { error: `N:M group size M must be at most 1024${what}` };
  }
  return pattern;
}

function refinePattern(pattern: Pattern, ctx: z.RefinementCtx): Pattern {
  const checked = checkPattern(
    pattern,
    pattern.type === "nm" ? `${pattern.n}:${pattern.m}` : undefined,
  );
  if ("error" in checked) {
    ctx.addIssue({ code: "custom", message: checked.error, input: pattern });
    return z.NEVER;
  }
  return checked;
}

const PatternString = z.string().regex(PATTERN_STRING_RE, {
  error: (issue) => `expected ${PATTERN_HELP}; got ${JSON.stringify(issue.input)}`,
})
  .transform((text, ctx): Pattern => {
    const parsed = parsePatternString(text);
    if ("error" in parsed) {
      ctx.addIssue({ code: "custom", message: parsed.error, input: text });
      return z.NEVER;
    }
    return parsed;
  });

const PatternObject = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("dense") }),
  z.strictObject({
    type: z.literal("unstructured"),
    sparsity: z.number().gt(0).lt(1).meta({ description: "Fraction of zero weights, 0 < s < 1." }),
  }),
  z.strictObject({
    type: z.literal("nm"),
    n: z.number().int().min(1).meta({ description: "Nonzero weights kept per group of m." }),
    m: z.number().int().min(2).max(1024).meta({ description: "Group size." }),
  }),
], { error: `expected ${PATTERN_HELP}` }).transform(refinePattern);

/**
 * zod schema of one pattern as written in a spec (shorthand string or object); parses to a
 * normalised {@link Pattern}.
 */
export const PatternInput: z.ZodType<Pattern, string | Pattern> = z.union([
  PatternString,
  PatternObject,
], { error: `expected ${PATTERN_HELP}` }).meta({
  description: 'Sparsity pattern: "dense", "50%", "unstructured:0.5", "2:4", "N:M" or an object.',
});

/** Fraction of zero weights a pattern asks for (dense 0, `2:4` 0.5, `1:4` 0.75). */
export function patternSparsity(pattern: Pattern): number {
  switch (pattern.type) {
    case "dense":
      return 0;
    case "unstructured":
      return pattern.sparsity;
    case "nm":
      return 1 - pattern.n / pattern.m;
  }
}

/** Short human-readable label of a pattern: `dense`, `50%`, `62.5%`, `2:4`. */
export function patternLabel(pattern: Pattern): string {
  switch (pattern.type) {
    case "dense":
      return "dense";
    case "unstructured":
      return `${Number((pattern.sparsity * 100).toFixed(6))}%`;
    case "nm":
      return `${pattern.n}:${pattern.m}`;
  }
}
