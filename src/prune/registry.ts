/**
 * Name → pruner lookup, with the calibration statistics each method needs, so a driver can
 * collect only what the chosen method uses.
 *
 * @module
 */

import { magnitudePrune } from "./magnitude.ts";
import { sparsegptPrune } from "./sparsegpt.ts";
import type { PruneInfo, Pruner } from "./types.ts";
import { wandaPrune } from "./wanda.ts";

/** A calibration statistic a pruner may need. */
export type StatKind = "hessian" | "colSqNorms";

/** One registered pruning method. */
export interface PrunerEntry {
  /** Registry name. */
  name: string;
  /** One-line description. */
  description: string;
  /** Statistics the pruner reads from `layer.stats`. */
  needs: readonly StatKind[];
  /** Default parameters (what an omitted parameter means). */
  defaults: Readonly<Record<string, number | string>>;
  /** The pure pruning function. */
  // deno-lint-ignore no-explicit-any
  prune: Pruner<any, PruneInfo>;
}

/** Names of the built-in pruners. */
export type PrunerName = "magnitude" | "wanda" | "sparsegpt";

/** The built-in pruners. */
export const PRUNERS: Readonly<Record<PrunerName, PrunerEntry>> = Object.freeze({
  magnitude: {
    name: "magnitude",
    description: "|W|, one threshold per matrix (N:M: per group); no calibration data",
    needs: [],
    defaults: {},
    prune: magnitudePrune,
  },
  wanda: {
    name: "wanda",
    description: "|W|·‖X_j‖₂ compared within each output row (N:M: per group); no update",
    needs: ["colSqNorms"],
    defaults: {},
    prune: wandaPrune,
  },
  sparsegpt: {
    name: "sparsegpt",
    description: "OBS with Cholesky of H⁻¹, adaptive block masks, lazy batch updates",
    needs: ["hessian"],
    defaults: {
      damp: 0.01,
      blocksize: 128,
      precision: "f64",
      budget: "matrix",
      maxEscalations: 6,
      dampGrowth: 10,
    },
    prune: sparsegptPrune,
  },
});

/**
 * Names of all registered pruners.
 *
 * @returns The names, in registry order.
 */
export function prunerNames(): PrunerName[] {
  return Object.keys(PRUNERS) as PrunerName[];
}

/**
 * Looks a pruner up by name.
 *
 * @param name Registry name (e.g. from a spec file).
 * @param where Where the name came from, for the error (e.g. `"suite.methods[2]"`).
 * @returns The entry.
 * @throws {RangeError} Listing the known names, if `name` is unknown.
 */
export function getPruner(name: string, where?: string): PrunerEntry {
  if (Object.hasOwn(PRUNERS, name)) return PRUNERS[name as PrunerName];
  throw new RangeError(
    `${where ? `${where}: ` : ""}unknown pruning method "${name}"; ` +
      `use one of ${prunerNames().map((n) => `"${n}"`).join(", ")}`,
  );
}
