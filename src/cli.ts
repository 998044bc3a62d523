/**
 * The `sparsespec` command line (run as `deno task bench|validate|compare|site|data|regress`).
 *
 * Exit codes: 0 ok, 1 a run (or a delegated step) failed, 2 bad input (malformed spec, unknown
 * method, bad flag, unreadable result file).
 *
 * Every effect goes through {@link CliDeps}, so tests drive {@link main} in-process with fake
 * executors, a fake data step and captured output.
 *
 * @module
 */

import { Command, CommanderError, Option } from "@commander-js/extra-typings";
import { type ExecutorLoad, loadExecutors } from "./executors.ts";
import { createProgressDisplay } from "./progress.ts";
import type { HostProvenance } from "./results/provenance.ts";
import { compareResults, formatComparison, formatTable } from "./results/compare.ts";
import { readResultsUnder, ResultFileError, ResultStore } from "./results/store.ts";
import { makeRunFilter, runSuite } from "./runner.ts";
import { SpecError } from "./spec/errors.ts";
import { type LoadedSpec, loadSpec } from "./spec/load.ts";
import { countByKind, type Run, type RunKind } from "./spec/plan.ts";
import type { Backend } from "./spec/schema.ts";

/** Exit code: everything ran and passed. */
export const EXIT_OK = 0;
/** Exit code: a run (or a delegated step such as data preparation) failed. */
export const EXIT_FAILED = 1;
/** Exit code: bad input (malformed spec, unknown method, bad flag, unreadable result). */
export const EXIT_BAD_INPUT = 2;

/** What `prepareEmbeddedDefault` (src/data/prepare.ts) returns. */
export interface PreparedData {
  /** Checksums and sizes of the corpus splits. */
  splits: Record<string, { sha256: string; bytes: number }>;
  /** Path of the trained `tokenizer.json`. */
  tokenizerPath: string;
}

/** The data preparation step (`prepareEmbeddedDefault` from src/data/prepare.ts). */
export type PrepareFn = (opts: { root: string; log?: (msg: string) => void }) => Promise<
  PreparedData
>;

/** The effects the CLI needs; every one can be replaced (tests). */
export interface CliDeps {
  /** Writes to standard output (text includes its newlines). */
  stdout(text: string): void;
  /** Writes to standard error (text includes its newlines). */
  stderr(text: string): void;
  /** Repository root: default specs, data and executors resolve against it. */
  root: string;
  /** Draw progress bars (default true; false prints plain per-run lines only). */
  progressBar: boolean;
  /** Finds executors (default: `loadExecutors()` from src/executors.ts). */
  loadExecutors(): Promise<ExecutorLoad>;
  /** The data step; default: lazily imported from src/data/prepare.ts. */
  prepare?: PrepareFn;
  /**
   * Imports a module by path relative to src/ (for the delegating commands). Throws
   * {@link MissingModuleError} when it does not exist.
   */
  importModule(path: string): Promise<Record<string, unknown>>;
  /** Host provenance for results (default: collected once when the first run executes). */
  host?: () => Promise<HostProvenance>;
}

/** A module a command delegates to is not there (yet). */
export class MissingModuleError extends Error {
  /** Builds the error for `path`. */
  constructor(path: string, reason: string) {
    super(`${path} is not available (${reason})`);
    this.name = "MissingModuleError";
  }
}

/** An error that ends the CLI with a given exit code and message. */
export class CliExit extends Error {
  /** The exit code. */
  readonly code: number;
  /** Builds it. */
  constructor(code: number, message: string) {
    super(message);
    this.name = "CliExit";
    this.code = code;
  }
}

const encoder = new TextEncoder();

function writeAllSync(target: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(target.writeSync(bytes));
}

async function importFromSrc(path: string): Promise<Record<string, unknown>> {
  const url = new URL(path, import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    throw new MissingModuleError(
      path.replace(/^\.\//, "src/").replace(/^\.\.\//, ""),
      "not built yet",
    );
  }
  return await import(url.href) as Record<string, unknown>;
}

/** The real effects (process stdout/stderr, repository root from this file's location). */
export function defaultDeps(): CliDeps {
  return {
    stdout: (text) => writeAllSync(Deno.stdout, text),
    stderr: (text) => writeAllSync(Deno.stderr, text),
    root: decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, ""),
    progressBar: true,
    loadExecutors: () => loadExecutors(),
    importModule: importFromSrc,
  };
}

async function delegate<T>(
  deps: CliDeps,
  path: string,
  exportName: string,
): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = await deps.importModule(path);
  } catch (error) {
    if (error instanceof MissingModuleError) throw new CliExit(EXIT_FAILED, error.message);
    throw error;
  }
  const fn = mod[exportName];
  if (typeof fn !== "function") {
    throw new CliExit(EXIT_FAILED, `${path} does not export a function named "${exportName}"`);
  }
  return fn as T;
}

function exitCodeOf(value: unknown): number {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (value && typeof value === "object" && "exitCode" in value) {
    const code = (value as { exitCode: unknown }).exitCode;
    if (typeof code === "number") return code;
  }
  return EXIT_OK;
}

async function loadAll(files: readonly string[], backend?: Backend): Promise<LoadedSpec[]> {
  const loaded: LoadedSpec[] = [];
  const problems: string[] = [];
  for (const file of files) {
    try {
      loaded.push(await loadSpec(file, backend ? { backend } : {}));
    } catch (error) {
      if (error instanceof SpecError) problems.push(error.message);
      else throw error;
    }
  }
  if (problems.length > 0) {
    throw new CliExit(EXIT_BAD_INPUT, problems.join("\n"));
  }
  return loaded;
}

function kindCounts(runs: readonly Run[]): string {
  const counts = countByKind(runs);
  return Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ");
}

interface BenchOptions {
  filter?: string;
  backend?: Backend;
  force?: boolean;
  dryRun?: boolean;
  out: string;
  saveModel?: string;
}

async function planStatus(store: ResultStore, suite: string, run: Run, force: boolean) {
  let status: string;
  try {
    const existing = await store.read(suite, run.id);
    if (existing?.status === "ok") return force ? "pending (forced)" : "cached";
    status = existing ? "pending (failed before)" : "pending";
  } catch (error) {
    if (!(error instanceof ResultFileError)) throw error;
    status = "pending (unusable result file)";
  }
  if (force) return status;
  const donor = await store.findOkElsewhere(run.id, suite);
  return donor ? `reused from ${donor.suite}` : status;
}

async function bench(files: string[], options: BenchOptions, deps: CliDeps): Promise<number> {
  const specFiles = files.length > 0 ? files : [`${deps.root}/bench/specs/default.json`];
  const loaded = await loadAll(specFiles, options.backend);
  let filter: (run: Run) => boolean = () => true;
  if (options.filter !== undefined) {
    try {
      filter = makeRunFilter(options.filter);
    } catch (error) {
      throw new CliExit(EXIT_BAD_INPUT, error instanceof Error ? error.message : String(error));
    }
  }
  const { executors, unavailable } = await deps.loadExecutors();
  const missing = new Map<RunKind, string>(unavailable.map((u) => [u.kind, u.reason]));
  const store = new ResultStore(options.out);

  const plans = loaded.map((spec) => {
    const selected = spec.runs.filter(filter);
    const runnable = selected.filter((r) => executors[r.kind] !== undefined);
    const blocked = selected.filter((r) => executors[r.kind] === undefined);
    return { spec, selected, runnable, blocked };
  });
  for (const { spec, blocked } of plans) {
    const byKind = new Map<RunKind, number>();
    for (const run of blocked) byKind.set(run.kind, (byKind.get(run.kind) ?? 0) + 1);
    for (const [kind, n] of byKind) {
      deps.stderr(
        `${spec.file}: not planning ${n} ${kind} run${n === 1 ? "" : "s"}: no executor for kind ` +
          `"${kind}" yet (${missing.get(kind) ?? "not registered"})\n`,
      );
    }
  }

  if (options.dryRun) {
    for (const { spec, selected } of plans) {
      const rows: string[][] = [];
      for (const run of selected) {
        const status = executors[run.kind] === undefined
          ? "no executor"
          : await planStatus(store, spec.suite.name, run, options.force ?? false);
        rows.push([run.id, run.label, run.kind, status]);
      }
      deps.stdout(
        `suite "${spec.suite.name}" (${spec.file}): ${selected.length} of ${spec.runs.length} ` +
          `runs selected\n`,
      );
      if (rows.length > 0) deps.stdout(`${formatTable(["id", "label", "kind", "status"], rows)}\n`);
    }
    return EXIT_OK;
  }

  const prepare = deps.prepare ??
    await delegate<PrepareFn>(deps, "./data/prepare.ts", "prepareEmbeddedDefault");
  try {
    await prepare({ root: deps.root, log: (msg) => deps.stderr(`data: ${msg}\n`) });
  } catch (error) {
    deps.stderr(
      `data preparation failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return EXIT_FAILED;
  }

  let exitCode = EXIT_OK;
  let hostPromise: Promise<HostProvenance> | undefined;
  const host = deps.host ?? (async () => {
    const { collectHostProvenance } = await import("./results/provenance.ts");
    return await collectHostProvenance({ root: deps.root });
  });
  const sharedHost = () => (hostPromise ??= host());
  for (const { spec, runnable } of plans) {
    const display = createProgressDisplay({
      title: spec.suite.name,
      total: runnable.length,
      bar: deps.progressBar,
      write: (line) => deps.stderr(`${line}\n`),
    });
    let summary;
    try {
      summary = await runSuite({
        suite: spec.suite,
        runs: runnable,
        executors,
        store,
        force: options.force,
        onProgress: (event) => display.handle(event),
        host: sharedHost,
        root: deps.root,
        saveModelDir: options.saveModel,
      });
    } finally {
      display.stop();
    }
    deps.stdout(
      `suite "${summary.suite}": ${summary.ok} ok (${summary.cached} cached), ${summary.failed} ` +
        `failed, ${summary.selected} run${
          summary.selected === 1 ? "" : "s"
        } -> ${store.root}/${summary.suite}/\n`,
    );
    for (const outcome of summary.outcomes) {
      if (outcome.status === "failed") {
        deps.stdout(`  FAILED ${outcome.label} (${outcome.id}): ${outcome.error}\n`);
      }
    }
    if (summary.exitCode !== 0) exitCode = EXIT_FAILED;
  }
  return exitCode;
}

async function validate(files: string[], deps: CliDeps): Promise<number> {
  let bad = 0;
  for (const file of files) {
    try {
      const { suite, runs } = await loadSpec(file);
      deps.stdout(`ok ${file}: suite "${suite.name}", ${runs.length} runs (${kindCounts(runs)})\n`);
    } catch (error) {
      if (!(error instanceof SpecError)) throw error;
      bad++;
      deps.stderr(`${error.message}\n`);
    }
  }
  return bad > 0 ? EXIT_BAD_INPUT : EXIT_OK;
}

async function compare(baseline: string, candidate: string, deps: CliDeps): Promise<number> {
  const [a, b] = await Promise.all([readResultsUnder(baseline), readResultsUnder(candidate)]);
  const errors = [...a.errors, ...b.errors];
  if (errors.length > 0) {
    throw new CliExit(EXIT_BAD_INPUT, errors.map((e) => e.message).join("\n"));
  }
  for (const [path, listing] of [[baseline, a], [candidate, b]] as const) {
    if (listing.results.length === 0) {
      throw new CliExit(EXIT_BAD_INPUT, `${path}: no result files (*.json) found`);
    }
  }
  const comparison = compareResults(
    a.results.map((e) => e.result),
    b.results.map((e) => e.result),
  );
  deps.stdout(`${formatComparison(comparison)}\n`);
  return EXIT_OK;
}

/** Builds the commander program; actions report their exit code through `setExit`. */
export function buildProgram(deps: CliDeps, setExit: (code: number) => void) {
  const program = new Command("sparsespec")
    .description(
      "Benchmark harness for LLM pruning (SDS, SparseGPT, Wanda, magnitude) and speculative " +
        "decoding (Amphista, Medusa, AR).\nExit codes: 0 ok, 1 a run failed, 2 bad input.",
    )
    .configureOutput({
      writeOut: (text) => deps.stdout(text),
      writeErr: (text) => deps.stderr(text),
    })
    .exitOverride()
    .showHelpAfterError("(add --help for usage)");

  program.command("bench")
    .description(
      "run benchmark suites: plan each spec, skip runs with an ok result, run the rest, write " +
        "reports/runs/<suite>/<id>.json",
    )
    .argument("[specs...]", "spec files (default: bench/specs/default.json)")
    .option("--filter <expr>", "only runs whose label, id or kind contains expr (or /regex/flags)")
    .addOption(
      new Option("--backend <backend>", "override the specs' backend").choices(
        ["webgpu", "wasm", "auto"] as const,
      ),
    )
    .option("--force", "re-run runs that already have an ok result")
    .option("--dry-run", "print the plan (id, label, kind, cached/pending) and run nothing")
    .option("--out <dir>", "results root", "reports/runs")
    .option(
      "--save-model <dir>",
      "write each pruned model there (Hugging Face layout, one folder per run)",
    )
    .action(async (specs, opts) => setExit(await bench(specs, opts, deps)));

  program.command("validate")
    .description("check spec files (schema, names, patterns) and print their run counts")
    .argument("<specs...>", "spec files")
    .action(async (specs) => setExit(await validate(specs, deps)));

  program.command("compare")
    .description(
      "print metric changes from baseline to candidate (result files or folders of them), " +
        "matching runs by id, then by label",
    )
    .argument("<baseline>", "result file or folder")
    .argument("<candidate>", "result file or folder")
    .action(async (baseline, candidate) => setExit(await compare(baseline, candidate, deps)));

  program.command("site")
    .description("build the static leaderboard from the results (site/build.ts)")
    .option("--reports <dir>", "results root", "reports/runs")
    .option("--out <dir>", "output folder", "_site")
    .action(async (opts) => {
      const buildSite = await delegate<
        (o: Record<string, unknown>) => Promise<unknown>
      >(deps, "../site/build.ts", "buildSite");
      setExit(exitCodeOf(
        await buildSite({
          root: deps.root,
          reportsDir: opts.reports,
          outDir: opts.out,
          log: (msg: string) => deps.stderr(`${msg}\n`),
        }),
      ));
    });

  program.command("data")
    .description("prepare the embedded default corpus splits and tokenizer (src/data/prepare.ts)")
    .action(async () => {
      const prepare = deps.prepare ??
        await delegate<PrepareFn>(deps, "./data/prepare.ts", "prepareEmbeddedDefault");
      const prepared = await prepare({
        root: deps.root,
        log: (msg) => deps.stderr(`data: ${msg}\n`),
      });
      const rows = Object.entries(prepared.splits).map(([name, s]) => [
        name,
        String(s.bytes),
        s.sha256,
      ]);
      deps.stdout(`${formatTable(["split", "bytes", "sha256"], rows)}\n`);
      deps.stdout(`tokenizer: ${prepared.tokenizerPath}\n`);
      setExit(EXIT_OK);
    });

  program.command("regress")
    .description("check results against the committed baseline (src/regress.ts)")
    .argument("[args...]", "passed to the regression check")
    .allowUnknownOption()
    .action(async (args) => {
      const runRegress = await delegate<
        (o: Record<string, unknown>) => Promise<unknown>
      >(deps, "./regress.ts", "runRegress");
      setExit(exitCodeOf(
        await runRegress({
          root: deps.root,
          args,
          stdout: deps.stdout,
          stderr: deps.stderr,
        }),
      ));
    });

  return program;
}

/**
 * Runs the CLI on `args` (without the program name) and returns the exit code. Never calls
 * `Deno.exit`; never throws for bad input.
 */
export async function main(
  args: readonly string[],
  overrides: Partial<CliDeps> = {},
): Promise<number> {
  const deps: CliDeps = { ...defaultDeps(), ...overrides };
  let exitCode = EXIT_OK;
  const program = buildProgram(deps, (code) => (exitCode = code));
  try {
    await program.parseAsync([...args], { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") {
        return EXIT_OK;
      }
      return EXIT_BAD_INPUT;
    }
    if (error instanceof CliExit) {
      deps.stderr(`${error.message}\n`);
      return error.code;
    }
    if (error instanceof SpecError || error instanceof ResultFileError) {
      deps.stderr(`${error.message}\n`);
      return EXIT_BAD_INPUT;
    }
    deps.stderr(
      `sparsespec: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT_FAILED;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
