/**
 * The published JSON Schema of a spec file (`reports/schema/spec.schema.json`), generated from the
 * zod {@link Suite} schema with `io: "input"` (what a user writes, defaults shown).
 * `scripts/gen_schema.ts` writes it; `tests/spec_json_schema_test.ts` fails when it is stale.
 *
 * @module
 */

import { z } from "zod";
import { Suite } from "./schema.ts";

/** Repository-relative path of the published schema. */
export const SPEC_SCHEMA_PATH = "reports/schema/spec.schema.json";

/** The spec JSON Schema as an object. */
export function suiteJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(Suite, { io: "input", unrepresentable: "throw" }) as Record<
    string,
    unknown
  >;
}

/** The spec JSON Schema as the exact text committed to the repository (2-space JSON + newline). */
export function suiteJsonSchemaText(): string {
  return `${JSON.stringify(suiteJsonSchema(), null, 2)}\n`;
}
