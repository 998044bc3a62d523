import assert from "node:assert/strict";
import { generateSpecSchema } from "../scripts/gen_schema.ts";
import { SPEC_SCHEMA_PATH, suiteJsonSchema, suiteJsonSchemaText } from "../src/spec/json_schema.ts";
import { loadSpec } from "../src/spec/load.ts";
import { PRUNE_METHODS } from "../src/spec/methods.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

Deno.test("the committed spec JSON Schema is up to date", async () => {
  const committed = await Deno.readTextFile(`${ROOT}/${SPEC_SCHEMA_PATH}`);
  assert.ok(
    committed === suiteJsonSchemaText(),
    `${SPEC_SCHEMA_PATH} is stale: run bin/deno run -A scripts/gen_schema.ts`,
  );
  assert.equal(await generateSpecSchema({ root: ROOT, check: true }), true);
});

Deno.test("gen_schema writes the file and --check notices a stale one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await generateSpecSchema({ root: dir, check: true }), false);
    await generateSpecSchema({ root: dir });
    assert.equal(await Deno.readTextFile(`${dir}/${SPEC_SCHEMA_PATH}`), suiteJsonSchemaText());
    assert.equal(await generateSpecSchema({ root: dir, check: true }), true);
    await Deno.writeTextFile(`${dir}/${SPEC_SCHEMA_PATH}`, "{}\n");
    assert.equal(await generateSpecSchema({ root: dir, check: true }), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the schema describes the input side: strict objects, defaults, method names", () => {
  const schema = suiteJsonSchema() as {
    additionalProperties: boolean;
    required: string[];
    properties: Record<string, { default?: unknown }>;
  };
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(schema.required, ["name"]);
  assert.equal(schema.properties.threads.default, 2);
  const text = JSON.stringify(schema);
  for (const m of PRUNE_METHODS) assert.ok(text.includes(`"${m}"`), m);
});

Deno.test("the shipped specs validate and plan", async () => {
  for (const name of ["default", "ci"]) {
    const { suite, runs } = await loadSpec(`${ROOT}/bench/specs/${name}.json`);
    assert.equal(suite.name, name);
    assert.ok(runs.length >= 1);
    const dense = runs.find((r) => r.spec.kind === "prune" && r.spec.method === "dense");
    assert.ok(dense && dense.spec.kind === "prune");
    assert.deepEqual(dense.spec.eval.ppl.sets, ["test-id", "test-ood"]);
    assert.equal(dense.spec.model.path, "bench/models/sparsespec-tiny");
  }
});
