/**
 * Regenerates the published spec JSON Schema (`reports/schema/spec.schema.json`) from the zod
 * Suite schema. Run after changing anything under src/spec/:
 *
 *     bin/deno run -A scripts/gen_schema.ts          # write the file
 *     bin/deno run -A scripts/gen_schema.ts --check  # exit 1 if the committed file is stale
 *
 * @module
 */

import { SPEC_SCHEMA_PATH, suiteJsonSchemaText } from "../src/spec/json_schema.ts";

/** Writes (or with `check`, compares) the schema file under `root`; returns true when current. */
export async function generateSpecSchema(
  options: { root: string; check?: boolean },
): Promise<boolean> {
  const file = `${options.root}/${SPEC_SCHEMA_PATH}`;
  const text = suiteJsonSchemaText();
  let current: string | null = null;
  try {
    current = await Deno.readTextFile(file);
  } catch {
    current = null;
  }
  if (options.check) return current === text;
  if (current !== text) {
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(file, text);
  }
  return true;
}

if (import.meta.main) {
  const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
  const check = Deno.args.includes("--check");
  const ok = await generateSpecSchema({ root, check });
  if (check && !ok) {
    console.error(`${SPEC_SCHEMA_PATH} is stale: run bin/deno run -A scripts/gen_schema.ts`);
    Deno.exit(1);
  }
  if (!check) console.log(`wrote ${SPEC_SCHEMA_PATH}`);
}
