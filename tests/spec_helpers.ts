// Test helper: plan a spec given as a plain object (not a test file itself).
import { parseSuiteValue, planSuite } from "../src/spec/mod.ts";

/** Validates a spec object and returns its planned runs. */
export function loadSpecText(value: unknown) {
  return planSuite(parseSuiteValue(value, "test-spec.json"));
}
