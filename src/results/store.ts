/**
 * The result store: one validated JSON file per run at `<root>/<suite>/<id>.json` (root defaults to
 * `reports/runs`), written atomically (temporary file in the same folder, then rename), read back
 * with validation. A corrupt or schema-invalid file is always reported as a
 * {@link ResultFileError} naming the file, the JSON path and what is expected — never skipped.
 *
 * ```ts
 * const store = new ResultStore("reports/runs");
 * await store.write(result);                       // reports/runs/<suite>/<id>.json
 * const cached = await store.read("default", id);  // RunResult | null (throws if corrupt)
 * const { results, errors } = await store.list("default");
 * ```
 *
 * @module
 */

import { formatIssues, type InputIssue, parseJsonText, validateWith } from "../spec/errors.ts";
import { RunResult } from "./schema.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";

/** A result file that cannot be used: unreadable, not JSON, or not a valid {@link RunResult}. */
export class ResultFileError extends Error {
  /** The file. */
  readonly file: string;
  /** Every problem found. */
  readonly issues: readonly InputIssue[];

  /** Builds the error; the message is `file: json.path: what is expected`. */
  constructor(file: string, issues: readonly InputIssue[]) {
    super(formatIssues(file, issues));
    this.name = "ResultFileError";
    this.file = file;
    this.issues = issues;
  }
}

/** Validates a value as a result; throws {@link ResultFileError} naming `file` if it is not one. */
export function validateResult(value: unknown, file: string): RunResult {
  const checked = validateWith(RunResult, value);
  if (!checked.ok) throw new ResultFileError(file, checked.issues);
  return checked.value as unknown as RunResult;
}

/** Parses result text; throws {@link ResultFileError} for bad JSON (line, column) or bad shape. */
export function parseResultText(text: string, file: string): RunResult {
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw new ResultFileError(file, [{ path: [], message: parsed.message }]);
  return validateResult(parsed.value, file);
}

/** Reads and validates one result file; throws {@link ResultFileError} on any problem. */
export async function readResultFile(file: string): Promise<RunResult> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new ResultFileError(file, [{
      path: [],
      message: error instanceof Deno.errors.NotFound
        ? "file not found"
        : `cannot read file (${error instanceof Error ? error.message : String(error)})`,
    }]);
  }
  return parseResultText(text, file);
}

/**
 * Writes text to `file` atomically: a temporary file in the same folder (so the rename never
 * crosses file systems), then a rename over the target. Readers see the old or the new file,
 * never a partial one. Creates the folder if needed. (The results' name for
 * {@linkcode writeFileAtomic}.)
 */
export async function writeTextAtomic(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text);
}

/** A result and the file it was read from. */
export interface ResultEntry {
  /** Path of the result file. */
  file: string;
  /** The validated result. */
  result: RunResult;
}

/** What listing a folder of results found: the valid ones and one error per bad file. */
export interface ResultListing {
  /** Valid results, sorted by file path. */
  results: ResultEntry[];
  /** Files that could not be used (never silently skipped). */
  errors: ResultFileError[];
}

async function collectJsonFiles(dir: string, out: string[]): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await collectJsonFiles(path, out);
    else if (entry.isFile && entry.name.endsWith(".json")) out.push(path);
  }
}

/**
 * Reads every result under a path: a single `.json` file, or a folder searched recursively
 * (hidden and temporary files ignored). A missing path is reported in `errors`.
 */
export async function readResultsUnder(path: string): Promise<ResultListing> {
  const listing: ResultListing = { results: [], errors: [] };
  let files: string[] = [];
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) await collectJsonFiles(path.replace(/\/+$/, "") || "/", files);
    else files = [path];
  } catch (error) {
    listing.errors.push(
      new ResultFileError(path, [{
        path: [],
        message: error instanceof Deno.errors.NotFound
          ? "no such file or folder"
          : `cannot read (${error instanceof Error ? error.message : String(error)})`,
      }]),
    );
    return listing;
  }
  files.sort();
  for (const file of files) {
    try {
      listing.results.push({ file, result: await readResultFile(file) });
    } catch (error) {
      if (error instanceof ResultFileError) listing.errors.push(error);
      else throw error;
    }
  }
  return listing;
}

/** Result files of a results root, organised as `<root>/<suite>/<id>.json`. */
export class ResultStore {
  /** The root folder (e.g. `reports/runs`). */
  readonly root: string;

  /** Opens a store rooted at `root` (nothing is created until the first write). */
  constructor(root = "reports/runs") {
    this.root = root.replace(/\/+$/, "") || "/";
  }

  /** Path of the result file of run `id` in suite `suite`. */
  fileFor(suite: string, id: string): string {
    return `${this.root}/${suite}/${id}.json`;
  }

  /**
   * Reads a run's result: null when there is none; throws {@link ResultFileError} when the file
   * exists but is corrupt, invalid, or belongs to another run or suite.
   */
  async read(suite: string, id: string): Promise<RunResult | null> {
    const file = this.fileFor(suite, id);
    try {
      await Deno.lstat(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    const result = await readResultFile(file);
    if (result.id !== id) {
      throw new ResultFileError(file, [{
        path: ["id"],
        message: `expected "${id}" (the file name), got "${result.id}"`,
      }]);
    }
    if (result.suite !== suite) {
      throw new ResultFileError(file, [{
        path: ["suite"],
        message: `expected "${suite}" (the folder name), got "${result.suite}"`,
      }]);
    }
    return result;
  }

  /**
   * Validates and atomically writes a result to `<root>/<suite>/<id>.json`; returns the path.
   * Throws {@link ResultFileError} (and writes nothing) when the result is invalid.
   */
  async write(result: RunResult): Promise<string> {
    const file = this.fileFor(result.suite, result.id);
    const valid = validateResult(result, file);
    await writeTextAtomic(file, `${JSON.stringify(valid, null, 2)}\n`);
    return file;
  }

  /**
   * The ok result of run `id` in another suite (suites in name order), or null. A run id is the
   * hash of the whole normalised run, so an ok result of the same id is the same experiment.
   * Unreadable or invalid files are skipped (the suite that owns them reports them).
   */
  async findOkElsewhere(id: string, exceptSuite: string): Promise<RunResult | null> {
    const suites: string[] = [];
    try {
      for await (const e of Deno.readDir(this.root)) {
        if (e.isDirectory && e.name !== exceptSuite) suites.push(e.name);
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    for (const suite of suites.sort()) {
      try {
        const result = await this.read(suite, id);
        if (result?.status === "ok") return result;
      } catch (error) {
        if (!(error instanceof ResultFileError)) throw error;
      }
    }
    return null;
  }

  /** Lists and validates the results of one suite, or of all suites when `suite` is omitted. */
  async list(suite?: string): Promise<ResultListing> {
    const dir = suite === undefined ? this.root : `${this.root}/${suite}`;
    try {
      await Deno.stat(dir);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { results: [], errors: [] };
      throw error;
    }
    return await readResultsUnder(dir);
  }
}
