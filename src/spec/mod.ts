/**
 * Specs: the suite schema, loader, planner and run ids. Import from here.
 *
 * @module
 */

export * from "./canonical.ts";
export * from "./errors.ts";
export * from "./load.ts";
export * from "./methods.ts";
export * from "./pattern.ts";
export * from "./plan.ts";
export * from "./schema.ts";
