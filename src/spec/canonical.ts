/**
 * Canonical JSON and run ids: the id of a run is the first 16 hex digits of the SHA-256 of the
 * canonical JSON of `{formatVersion, run}`, so it is stable across key order and changes when any
 * field of the normalised run, or {@link FORMAT_VERSION}, changes.
 *
 * @module
 */

import { createHash } from "node:crypto";

/**
 * Version of the run and result format. Bump it when the meaning of a normalised run or of a
 * metric changes: every run id changes with it, so no stale result is ever reused.
 */
export const FORMAT_VERSION = 1;

/**
 * Serialises a JSON value with object keys sorted (recursively) and no whitespace. `undefined`
 * object members are dropped (as `JSON.stringify` does); non-finite numbers and other non-JSON
 * values are an error, because they would not survive a round trip.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`cannot hash non-finite number ${value}`);
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(",")}}`;
    }
    default:
      throw new TypeError(`cannot hash a ${typeof value} value`);
  }
}

/** Hex SHA-256 of a UTF-8 string. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** Length of a run id in hex digits. */
export const RUN_ID_LENGTH = 16;

/** Stable id of a normalised run spec (see the module doc). */
export function runId(spec: unknown, formatVersion: number = FORMAT_VERSION): string {
  return sha256Hex(canonicalJson({ formatVersion, run: spec })).slice(0, RUN_ID_LENGTH);
}
