/**
 * JSON Lines reading shared by the prompt and zero-shot task loaders: one JSON value per line,
 * blank lines skipped, errors that name the file and the 1-based line.
 *
 * @module
 */

/**
 * The JSON values of a JSONL text with their 1-based line numbers (blank lines skipped).
 *
 * @param text file contents.
 * @param path file name for messages.
 * @param expected what each line should be, appended to the parse error (e.g. the format).
 * @throws Error `path:line: not valid JSON (...)`
 */
export function* jsonlValues(
  text: string,
  path: string,
  expected = "one JSON value per line",
): Generator<{ value: unknown; line: number }> {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: not valid JSON (${(e as Error).message}); ${expected}`);
    }
    yield { value, line: i + 1 };
  }
}

/** A short rendering of a value for error messages (`nothing` for undefined, ≤ 60 chars). */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
