/**
 * Loading specs: file → text → JSON → {@link Suite} → planned runs, where every failure is one
 * {@link SpecError} naming the file, the JSON path and what is expected.
 *
 * ```ts
 * import { loadSpec } from "./src/spec/load.ts";
 * const { suite, runs } = await loadSpec("bench/specs/default.json");
 * for (const run of runs) console.log(run.id, run.label, run.spec.kind);
 * ```
 *
 * @module
 */

import { parseJsonText, SpecError, validateWith } from "./errors.ts";
import { planSuite, type Run } from "./plan.ts";
import { Suite } from "./schema.ts";

export { SpecError };

/** A loaded spec file: the parsed suite and its planned runs. */
export interface LoadedSpec {
  /** The file it came from (as given). */
  file: string;
  /** The suite, every default filled. */
  suite: Suite;
  /** Its runs (see `planSuite`). */
  runs: Run[];
}

/** Options for {@link parseSpec} and {@link loadSpec}. */
export interface SpecOverrides {
  /** Replaces the suite's `backend` before planning (the CLI's `--backend`). */
  backend?: Suite["backend"];
}

/**
 * Validates an already-parsed JSON value as a suite. Throws {@link SpecError} (and nothing else)
 * when it is not one.
 */
export function parseSuiteValue(value: unknown, file: string): Suite {
  const checked = validateWith(Suite, value);
  if (!checked.ok) throw new SpecError(file, checked.issues);
  return checked.value;
}

/**
 * Parses spec text (JSON) into a suite and its runs. Throws {@link SpecError} for invalid JSON
 * (with line and column) and for schema problems (with the JSON path).
 */
export function parseSpec(text: string, file: string, overrides: SpecOverrides = {}): LoadedSpec {
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw new SpecError(file, [{ path: [], message: parsed.message }]);
  const suite = parseSuiteValue(parsed.value, file);
  if (overrides.backend) suite.backend = overrides.backend;
  return { file, suite, runs: planSuite(suite) };
}

/**
 * Reads and parses a spec file. Throws {@link SpecError} when the file cannot be read, is not
 * JSON, or is not a valid suite.
 */
export async function loadSpec(file: string, overrides: SpecOverrides = {}): Promise<LoadedSpec> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "file not found"
      : error instanceof Deno.errors.IsADirectory
      ? "is a directory, expected a .json spec file"
      : `cannot read file (${error instanceof Error ? error.message : String(error)})`;
    throw new SpecError(file, [{ path: [], message: reason }]);
  }
  return parseSpec(text, file, overrides);
}
