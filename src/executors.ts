/**
 * Where executors come from. Two ways, both ending in an {@link ExecutorMap}:
 *
 * 1. **By convention** (what the CLI uses): the module `src/<kind>/executor.ts` (see
 *    {@link EXECUTOR_MODULES}) exports `execute: Executor<kind>`. It is imported lazily, so a kind
 *    whose module does not exist yet is simply unavailable, and the CLI says so.
 * 2. **By registration** (embedding, tests): `registerExecutor("prune", fn)` before loading;
 *    a registered executor wins over the module.
 *
 * @module
 */

import type { Executor, ExecutorMap } from "./results/executor.ts";
import { RUN_KINDS, type RunKind } from "./spec/plan.ts";

/** Module (relative to this file) that provides each kind's executor as `export const execute`. */
export const EXECUTOR_MODULES: Record<RunKind, string> = {
  prune: "./prune/executor.ts",
  decode: "./decode/executor.ts",
};

const registry: ExecutorMap = {};

/** Registers (or replaces) the executor of a kind for this process. */
export function registerExecutor<K extends RunKind>(kind: K, executor: Executor<K>): void {
  (registry as Record<RunKind, unknown>)[kind] = executor;
}

/** Removes a registered executor (tests). */
export function unregisterExecutor(kind: RunKind): void {
  delete registry[kind];
}

/** A kind that has no executor, and why. */
export interface UnavailableKind {
  /** The kind. */
  kind: RunKind;
  /** The module that would provide it. */
  module: string;
  /** Why it is unavailable (module missing, import failed, no `execute` export). */
  reason: string;
}

/** Result of {@link loadExecutors}. */
export interface ExecutorLoad {
  /** Executors found. */
  executors: ExecutorMap;
  /** Kinds without one. */
  unavailable: UnavailableKind[];
}

/** Options of {@link loadExecutors}. */
export interface LoadExecutorsOptions {
  /** Kinds to load (default: all). */
  kinds?: readonly RunKind[];
  /** Module per kind, relative to this file or absolute URLs (default {@link EXECUTOR_MODULES}). */
  modules?: Partial<Record<RunKind, string>>;
}

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the executor of each kind: registered ones first, then `export const execute` of the
 * kind's module. Never throws: failures are listed in `unavailable` with the reason.
 */
export async function loadExecutors(options: LoadExecutorsOptions = {}): Promise<ExecutorLoad> {
  const load: ExecutorLoad = { executors: {}, unavailable: [] };
  for (const kind of options.kinds ?? RUN_KINDS) {
    const registered = registry[kind];
    if (registered) {
      (load.executors as Record<RunKind, unknown>)[kind] = registered;
      continue;
    }
    const module = options.modules?.[kind] ?? EXECUTOR_MODULES[kind];
    const url = new URL(module, import.meta.url);
    if (url.protocol === "file:" && !(await exists(url))) {
      load.unavailable.push({ kind, module, reason: `${module} does not exist yet` });
      continue;
    }
    try {
      const mod = await import(url.href) as { execute?: unknown };
      if (typeof mod.execute === "function") {
        (load.executors as Record<RunKind, unknown>)[kind] = mod.execute;
      } else {
        load.unavailable.push({
          kind,
          module,
          reason: `${module} does not export a function named "execute"`,
        });
      }
    } catch (error) {
      load.unavailable.push({
        kind,
        module,
        reason: `${module} failed to load: ${error instanceof Error ? error.message : error}`,
      });
    }
  }
  return load;
}
