/**
 * Readable validation errors: turns zod issues into `file: json.path: what is expected` lines.
 *
 * Shared by the spec loader and the result store, so every bad-input message in the project has
 * the same shape: it names the file, the JSON path (`prune[0].pattern`, or `root`) and the fix.
 *
 * @module
 */

import type { z } from "zod";

/** One step of a JSON path: an object key or an array index. */
export type PathSegment = string | number;

/** One problem found in an input document, ready to print. */
export interface InputIssue {
  /** Where in the document, as segments (empty for the document itself). */
  path: PathSegment[];
  /** What is wrong and what is expected, in one sentence (no path, no file name). */
  message: string;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Formats a JSON path the way a JavaScript reader would write it: `prune[0].pattern`,
 * `metrics.ppl["test-id"].ppl`, or `root` for the document itself.
 */
export function formatJsonPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "root";
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && IDENTIFIER.test(segment)) {
      out += out === "" ? segment : `.${segment}`;
    } else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/** Describes a received value briefly for an error message: `"banana"`, `5`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") {
    const shown = value.length > 40 ? `${value.slice(0, 37)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

const EXPECTED_WORDS: Record<string, string> = {
  int: "an integer",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  object: "an object",
  array: "an array",
  null: "null",
  tuple: "an array",
  record: "an object",
};

function expectedWord(expected: string): string {
  return EXPECTED_WORDS[expected] ?? expected;
}

const ZOD_DEFAULT_PREFIXES = ["Invalid", "Too small", "Too big", "Unrecognized key"];

function isDefaultMessage(message: string): boolean {
  return ZOD_DEFAULT_PREFIXES.some((prefix) => message.startsWith(prefix));
}

function hasInput(issue: object): boolean {
  return "input" in issue;
}

function inputOf(issue: object): unknown {
  return (issue as { input?: unknown }).input;
}

/** Levenshtein distance, for "did you mean" hints on misspelt field names. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/**
 * Returns the closest candidate to `word` when it is plausibly a typo of it (small edit distance
 * or different case), else undefined.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = candidate.toLowerCase() === word.toLowerCase()
      ? 0
      : editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

type ZodIssue = z.core.$ZodIssue;

function isRootTypeMismatch(issues: readonly ZodIssue[]): boolean {
  return issues.some((i) => i.code === "invalid_type" && i.path.length === 0);
}

/**
 * Picks the union alternative whose issues best explain the failure: one that matched the input's
 * shape (issues below the root) beats one that only rejected the value at the root, which beats a
 * plain type mismatch. Undefined when every alternative is a type mismatch.
 */
function pickBranch(branches: readonly (readonly ZodIssue[])[]): readonly ZodIssue[] | undefined {
  let best: readonly ZodIssue[] | undefined;
  let bestScore = 0;
  for (const branch of branches) {
    const score = isRootTypeMismatch(branch) ? 0 : branch.some((i) => i.path.length > 0) ? 2 : 1;
    if (score > bestScore) {
      best = branch;
      bestScore = score;
    }
  }
  return best;
}

function rangeMessage(issue: ZodIssue & { code: "too_small" | "too_big" }): string {
  const small = issue.code === "too_small";
  const bound = small ? issue.minimum : issue.maximum;
  const inclusive = issue.inclusive ?? true;
  const got = hasInput(issue) ? `, got ${describeValue(inputOf(issue))}` : "";
  switch (issue.origin) {
    case "array":
    case "set":
      return small
        ? `expected at least ${bound} item${Number(bound) === 1 ? "" : "s"}${got}`
        : `expected at most ${bound} item${Number(bound) === 1 ? "" : "s"}${got}`;
    case "string":
      return small
        ? Number(bound) === 1
          ? "expected a non-empty string"
          : `expected at least ${bound} characters`
        : `expected at most ${bound} characters`;
    default: {
      const op = small ? (inclusive ? ">=" : ">") : (inclusive ? "<=" : "<");
      return `expected a number ${op} ${bound}${got}`;
    }
  }
}

function messageFor(issue: ZodIssue): string {
  if (!isDefaultMessage(issue.message)) return issue.message;
  switch (issue.code) {
    case "invalid_type": {
      const received = inputOf(issue);
      if (received === undefined && !/received (?!undefined)/.test(issue.message)) {
        return `required field is missing (expected ${expectedWord(issue.expected)})`;
      }
      return `expected ${expectedWord(issue.expected)}, got ${
        hasInput(issue) ? describeValue(inputOf(issue)) : issue.message.replace(/^.*received /, "")
      }`;
    }
    case "too_small":
    case "too_big":
      return rangeMessage(issue);
    case "invalid_value": {
      const got = hasInput(issue) ? `, got ${describeValue(inputOf(issue))}` : "";
      const values = issue.values.map((v) => JSON.stringify(v));
      return values.length === 1
        ? `expected ${values[0]}${got}`
        : `expected one of ${values.join(", ")}${got}`;
    }
    case "invalid_format":
      return `expected a ${issue.format}${
        hasInput(issue) ? `, got ${describeValue(inputOf(issue))}` : ""
      }`;
    case "not_multiple_of":
      return `expected a multiple of ${issue.divisor}`;
    default:
      return issue.message.replace(/^Invalid input: /, "");
  }
}

/**
 * Flattens zod issues into readable {@link InputIssue}s.
 *
 * - Unions: when one alternative clearly matched the input's shape, its own (precise) issues are
 *   reported instead of zod's generic "Invalid input"; when none did, one "expected A or B" line.
 * - Unknown fields (`.strict()` objects) become one issue per field, at that field's path, with a
 *   "did you mean" hint when `knownKeys` lists a close spelling.
 *
 * @param issues zod issues from `safeParse(..., { reportInput: true })`
 * @param knownKeys optional lookup of the allowed fields at an object path, for typo hints
 */
export function flattenIssues(
  issues: readonly ZodIssue[],
  knownKeys?: (path: PathSegment[]) => readonly string[] | undefined,
  base: PathSegment[] = [],
): InputIssue[] {
  const out: InputIssue[] = [];
  for (const issue of issues) {
    const path = [...base, ...(issue.path as PathSegment[])];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const informative = pickBranch(issue.errors);
      if (informative) {
        out.push(...flattenIssues(informative, knownKeys, path));
        continue;
      }
      if (isDefaultMessage(issue.message)) {
        const expected = [
          ...new Set(
            issue.errors.flatMap((branch) =>
              branch.filter((i) => i.code === "invalid_type" && i.path.length === 0).map((i) =>
                isDefaultMessage(i.message)
                  ? expectedWord((i as { expected: string }).expected)
                  : i.message.replace(/^expected /, "")
              )
            ),
          ),
        ];
        const got = hasInput(issue) ? `, got ${describeValue(inputOf(issue))}` : "";
        out.push({ path, message: `expected ${expected.join(" or ")}${got}` });
        continue;
      }
    }
    if (issue.code === "invalid_union" && issue.errors.length === 0 && "options" in issue) {
      const options = (issue.options as unknown[]).map((o) => JSON.stringify(o));
      const input = inputOf(issue);
      const value = typeof input === "object" && input !== null
        ? (input as Record<string, unknown>)[String(issue.path.at(-1))]
        : undefined;
      out.push({
        path,
        message: value === undefined
          ? `required field is missing (expected one of ${options.join(", ")})`
          : `expected one of ${options.join(", ")}, got ${describeValue(value)}`,
      });
      continue;
    }
    if (issue.code === "unrecognized_keys") {
      const allowed = knownKeys?.(path);
      for (const key of issue.keys) {
        const hint = allowed ? closestMatch(key, allowed) : undefined;
        const allowedText = allowed && allowed.length > 0
          ? `; allowed fields here: ${allowed.join(", ")}`
          : "";
        out.push({
          path: [...path, key],
          message: hint
            ? `unknown field (did you mean "${hint}"?)${allowedText}`
            : `unknown field${allowedText}`,
        });
      }
      continue;
    }
    out.push({ path, message: messageFor(issue) });
  }
  return out;
}

/**
 * Renders issues for one file as a single message: the first issue on the first line
 * (`file: path: message`), up to `maxExtra` more indented below.
 */
export function formatIssues(file: string, issues: readonly InputIssue[], maxExtra = 5): string {
  if (issues.length === 0) return `${file}: invalid input`;
  const [first, ...rest] = issues;
  const lines = [`${file}: ${formatJsonPath(first.path)}: ${first.message}`];
  for (const issue of rest.slice(0, maxExtra)) {
    lines.push(`  also ${formatJsonPath(issue.path)}: ${issue.message}`);
  }
  if (rest.length > maxExtra) lines.push(`  ...and ${rest.length - maxExtra} more problems`);
  return lines.join("\n");
}

/**
 * Finds the line and column (both 1-based) of a character offset in a text.
 */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const clamped = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < clamped; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: clamped - lineStart + 1 };
}

/**
 * Parses JSON text, or explains where it is broken: returns `{ ok: false, message }` with a
 * message of the form `invalid JSON at line 3, column 7: <parser's reason>`.
 */
export function parseJsonText(
  text: string,
): { ok: true; value: unknown } | { ok: false; message: string; line: number; column: number } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const lineCol = /line (\d+) column (\d+)/.exec(reason);
    const position = /position (\d+)/.exec(reason);
    const where = lineCol
      ? { line: Number(lineCol[1]), column: Number(lineCol[2]) }
      : lineColumn(text, position ? Number(position[1]) : text.length);
    const cleaned = reason.replace(/\s*\(line \d+ column \d+\)/, "").replace(
      / in JSON at position \d+/,
      "",
    );
    return {
      ok: false,
      message: `invalid JSON at line ${where.line}, column ${where.column}: ${cleaned}`,
      ...where,
    };
  }
}

/**
 * The one error type the spec loader throws for bad input. `message` is ready to print (file,
 * JSON path, what is expected); `issues` holds every problem found, `file` the spec's path.
 */
export class SpecError extends Error {
  /** The spec file (as given by the caller) the problems were found in. */
  readonly file: string;
  /** Every problem found, first one first. */
  readonly issues: readonly InputIssue[];

  /** Builds the error; the message is {@link formatIssues} of the issues. */
  constructor(file: string, issues: readonly InputIssue[]) {
    super(formatIssues(file, issues));
    this.name = "SpecError";
    this.file = file;
    this.issues = issues;
  }
}

interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
  innerType?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
  items?: z.ZodType[];
  getter?: () => z.ZodType;
}

function defOf(schema: z.ZodType): SchemaDef {
  return (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
}

function expand(schema: z.ZodType, depth = 0): z.ZodType[] {
  if (depth > 20) return [];
  const def = defOf(schema);
  switch (def.type) {
    case "union":
      return (def.options ?? []).flatMap((o) => expand(o, depth + 1));
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
    case "nonoptional":
      return def.innerType ? expand(def.innerType, depth + 1) : [];
    case "pipe":
      return def.in ? expand(def.in, depth + 1) : [];
    case "lazy":
      return def.getter ? expand(def.getter(), depth + 1) : [];
    default:
      return [schema];
  }
}

/**
 * Lists the field names an object schema allows at `path` inside `schema` (following arrays,
 * records, unions, optionals and defaults), for "did you mean" hints. Undefined when the path
 * does not lead to an object schema.
 */
export function allowedKeysAt(
  schema: z.ZodType,
  path: readonly PathSegment[],
): string[] | undefined {
  let current = expand(schema);
  for (const segment of path) {
    const next: z.ZodType[] = [];
    for (const s of current) {
      const def = defOf(s);
      if (def.type === "object" && typeof segment === "string" && def.shape?.[segment]) {
        next.push(...expand(def.shape[segment]));
      } else if (def.type === "array" && typeof segment === "number" && def.element) {
        next.push(...expand(def.element));
      } else if (def.type === "record" && def.valueType) {
        next.push(...expand(def.valueType));
      } else if (def.type === "tuple" && typeof segment === "number" && def.items?.[segment]) {
        next.push(...expand(def.items[segment]));
      }
    }
    current = next;
  }
  const keys = new Set<string>();
  for (const s of current) {
    const def = defOf(s);
    if (def.type === "object") { for (const key of Object.keys(def.shape ?? {})) keys.add(key); }
  }
  return keys.size > 0 ? [...keys] : undefined;
}

/**
 * Validates `value` against `schema`; on failure returns readable issues (unions resolved, unknown
 * fields with typo hints). The one entry point both the spec loader and the result store use.
 */
export function validateWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
): { ok: true; value: z.output<S> } | { ok: false; issues: InputIssue[] } {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    issues: flattenIssues(result.error.issues, (path) => allowedKeysAt(schema, path)),
  };
}
