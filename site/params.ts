/**
 * Descriptions and defaults of recorded parameters, read from the spec's own zod schemas (via
 * their JSON Schema), so the methodology page never retypes what a parameter means.
 *
 * @module
 */

import { z } from "zod";
import { PRUNE_PARAMS, SDS_BASES } from "../src/spec/methods.ts";
import { Acceptance, Calibration } from "../src/spec/schema.ts";

/** What the schema says about one parameter. */
export interface ParamInfo {
  /** The schema's description, if any. */
  description: string | null;
  /** The default as JSON text, if the schema has one. */
  default: string | null;
}

type JsonSchema = {
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  description?: string;
  default?: unknown;
};

const cache = new Map<z.ZodType, JsonSchema>();

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  let out = cache.get(schema);
  if (!out) {
    out = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
    cache.set(schema, out);
  }
  return out;
}

function propertyOf(schema: JsonSchema, name: string): JsonSchema | null {
  if (schema.properties?.[name]) return schema.properties[name];
  for (const branch of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) {
    const found = propertyOf(branch, name);
    if (found) return found;
  }
  return null;
}

function infoAt(schema: z.ZodType, name: string): ParamInfo | null {
  const prop = propertyOf(jsonSchemaOf(schema), name);
  if (!prop) return null;
  return {
    description: prop.description ?? null,
    default: prop.default === undefined ? null : JSON.stringify(prop.default),
  };
}

const NONE: ParamInfo = { description: null, default: null };

/**
 * Looks up a recorded parameter (see `recordedChoices`): `owner` is a pruning method, a drafter,
 * `calibration (<method>)` or `acceptance (<drafter>)`; `name` a path inside the block (SDS's
 * `baseParams.<x>` resolves in its base pruner's schema).
 */
export function describeParam(owner: string, name: string): ParamInfo {
  if (owner.startsWith("calibration")) return infoAt(Calibration, name) ?? NONE;
  if (owner.startsWith("acceptance")) return infoAt(Acceptance, name) ?? NONE;
  const schema = (PRUNE_PARAMS as Record<string, z.ZodType>)[owner];
  if (!schema) return NONE;
  const nested = /^baseParams\.(.+)$/.exec(name);
  if (nested) {
    for (const base of SDS_BASES) {
      const info = infoAt(PRUNE_PARAMS[base], nested[1]);
      if (info) return info;
    }
    return NONE;
  }
  return infoAt(schema, name) ?? NONE;
}
