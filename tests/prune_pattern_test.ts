import assert from "node:assert/strict";
import {
  applyMask,
  checkNMMask,
  checkNMWeights,
  countPruned,
  countZeros,
  matrixMaskFromScores,
  nm,
  nmMaskFromScores,
  parsePattern,
  patternLabel,
  patternSparsity,
  prunedCount,
  rowMaskFromScores,
  unstructured,
  validatePattern,
} from "../src/prune/pattern.ts";

Deno.test("parsePattern accepts N:M, fractions and percentages", () => {
  assert.deepEqual(parsePattern("2:4"), { type: "nm", n: 2, m: 4 });
  assert.deepEqual(parsePattern(" 4:8 "), { type: "nm", n: 4, m: 8 });
  assert.deepEqual(parsePattern("0.5"), { type: "unstructured", sparsity: 0.5 });
  assert.deepEqual(parsePattern("50%"), { type: "unstructured", sparsity: 0.5 });
  assert.deepEqual(parsePattern("unstructured:0.3"), { type: "unstructured", sparsity: 0.3 });
  assert.deepEqual(parsePattern("0"), { type: "unstructured", sparsity: 0 });
  assert.throws(() => parsePattern("half"), /not understood/);
  assert.throws(() => parsePattern("5:4"), /n in \[0, m=4\]/);
  assert.throws(() => parsePattern("1.5"), /\[0, 1\]/);
  assert.throws(() => parsePattern("2:0"), /m ≥ 1/);
});

Deno.test("labels and nominal sparsity", () => {
  assert.equal(patternLabel(nm(2, 4)), "2:4");
  assert.equal(patternLabel(unstructured(0.5)), "50%");
  assert.equal(patternLabel(unstructured(0.3)), "30%");
  assert.equal(patternLabel(unstructured(1 / 3)), "33.333333%");
  assert.equal(patternSparsity(nm(4, 8)), 0.5);
  assert.equal(patternSparsity(unstructured(0.7)), 0.7);
});

Deno.test("validatePattern checks N:M fit and names the location", () => {
  validatePattern(nm(2, 4), { cols: 8 });
  assert.throws(
    () => validatePattern(nm(2, 4), { cols: 6, where: "suite.patterns[1]" }),
    /suite\.patterns\[1\]: .*cols=6 is not a multiple of 4/,
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => validatePattern({ type: "blocky" } as any),
    /unknown pattern type "blocky"/,
  );
  assert.throws(() => unstructured(NaN), /\[0, 1\]/);
  assert.throws(() => nm(1.5, 4), /integer n/);
});

Deno.test("prunedCount is floor(count·p), like the reference's int(numel * p)", () => {
  assert.equal(prunedCount(0.5, 10), 5);
  assert.equal(prunedCount(0.3, 37 * 200), 2220);
  assert.equal(prunedCount(0.5, 7), 3);
  assert.equal(prunedCount(0, 7), 0);
  assert.equal(prunedCount(1, 7), 7);
  // binary floating point: 0.29 · 100 = 28.999999999999996 → 28, as Python's int() gives
  assert.equal(prunedCount(0.29, 100), 28);
});

Deno.test("matrix, row and N:M masks from scores, ties by index", () => {
  const scores = [5, 1, 1, 0, 2, 2, 2, 2];
  const m1 = matrixMaskFromScores(scores, 3);
  assert.deepEqual([...m1], [1, 0, 0, 0, 1, 1, 1, 1]);
  assert.equal(countPruned(m1), 3);
  const m2 = rowMaskFromScores(Float64Array.from(scores), { rows: 2, cols: 4 }, 1);
  assert.deepEqual([...m2], [1, 1, 1, 0, 0, 1, 1, 1]);
  const m3 = nmMaskFromScores(scores, { rows: 1, cols: 8 }, nm(2, 4));
  assert.deepEqual([...m3], [1, 0, 1, 0, 0, 0, 1, 1]);
  assert.ok(checkNMMask(m3, { rows: 1, cols: 8 }, nm(2, 4)).valid);
  assert.throws(() => nmMaskFromScores(scores, { rows: 1, cols: 8 }, nm(2, 3)), /multiple of 3/);
});

Deno.test("checkNMMask / checkNMWeights catch bad groups", () => {
  const shape = { rows: 2, cols: 8 };
  const mask = Uint8Array.from([0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 0]);
  const res = checkNMMask(mask, shape, nm(2, 4));
  assert.equal(res.valid, false);
  assert.equal(res.badGroups, 1);
  assert.deepEqual(res.first, { row: 1, col: 4 });
  // weights: extra zeros are fine (≤ m−n nonzeros), fewer zeros are not
  const w = Float32Array.from([0, 0, 0, 1, 0, 0, 3, 4, 1, 0, 0, 0, 1, 2, 0, 3]);
  const wres = checkNMWeights(w, shape, nm(2, 4));
  assert.equal(wres.badGroups, 1);
  assert.deepEqual(wres.first, { row: 1, col: 4 });
});

Deno.test("applyMask and countZeros", () => {
  const w = Float32Array.from([1, -2, 3, 0]);
  const out = applyMask(w, Uint8Array.from([1, 0, 1, 1]));
  assert.deepEqual([...out], [1, 0, 3, 0]);
  assert.deepEqual([...w], [1, -2, 3, 0]);
  assert.equal(countZeros(out), 2);
  assert.throws(() => applyMask(w, new Uint8Array(3)), /mask length/);
});
