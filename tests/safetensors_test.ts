import assert from "node:assert/strict";
import { f16BitsToNumber, readSafetensors, writeSafetensors } from "../src/model/safetensors.ts";

/** Builds a safetensors file from a raw header object and a data blob (for odd dtypes / faults). */
function rawFile(header: unknown, data: Uint8Array, headerLenOverride?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLenOverride ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function u16(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint16(2 * i, v, true));
  return out;
}

Deno.test("safetensors: write → read roundtrip keeps names, shapes, values, metadata", () => {
  const a = new Float32Array([1.5, -2.25, 3e-8, 1e30, -0, 7]);
  const b = new Float32Array([Math.PI]);
  const c = new Float32Array(0);
  const bytes = writeSafetensors(
    {
      "z.weight": { shape: [2, 3], data: a },
      "a.bias": { shape: [1], data: b },
      "e": { shape: [0, 4], data: c },
    },
    { format: "pt" },
  );
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerLen % 8, 0, "header padded to 8 bytes");
  const t = readSafetensors(bytes, "mem.safetensors");
  assert.deepEqual([...t.keys()], ["a.bias", "e", "z.weight"]);
  assert.deepEqual(t.get("z.weight")!.shape, [2, 3]);
  assert.deepEqual([...t.get("z.weight")!.data], [...a]);
  assert.equal(t.get("a.bias")!.data[0], Math.fround(Math.PI));
  assert.deepEqual(t.get("e")!.shape, [0, 4]);
  assert.equal(t.get("e")!.data.length, 0);
  assert.deepEqual(t.metadata, { format: "pt" });
  // deterministic: Map vs Record, any insertion order → identical bytes
  const again = writeSafetensors(
    new Map([["e", { shape: [0, 4], data: c }], ["a.bias", { shape: [1], data: b }], [
      "z.weight",
      { shape: [2, 3], data: a },
    ]]),
    { format: "pt" },
  );
  assert.deepEqual(again, bytes);
});

Deno.test("safetensors: F16 and BF16 decode known values", () => {
  assert.equal(f16BitsToNumber(0x3c00), 1);
  assert.equal(f16BitsToNumber(0xc000), -2);
  assert.equal(f16BitsToNumber(0x7bff), 65504);
  assert.equal(f16BitsToNumber(0x0001), 2 ** -24);
  assert.equal(f16BitsToNumber(0x7c00), Infinity);
  assert.ok(Number.isNaN(f16BitsToNumber(0x7e00)));
  const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x0000];
  const bf16 = [0x3f80, 0x4049, 0xc2f7, 0x0000];
  const f16Bytes = u16(f16), bf16Bytes = u16(bf16);
  const data = new Uint8Array(f16Bytes.length + bf16Bytes.length);
  data.set(f16Bytes);
  data.set(bf16Bytes, f16Bytes.length);
  const file = rawFile({
    h: { dtype: "F16", shape: [2, 3], data_offsets: [0, 12] },
    b: { dtype: "BF16", shape: [4], data_offsets: [12, 20] },
  }, data);
  const t = readSafetensors(file, "mixed.safetensors");
  assert.equal(t.get("h")!.dtype, "F16");
  assert.deepEqual([...t.get("h")!.data], [
    1,
    -2,
    65504,
    Math.fround(2 ** -24),
    Math.fround(0.333251953125),
    0,
  ]);
  assert.deepEqual([...t.get("b")!.data], [1, 3.140625, -123.5, 0]);
});

function expectError(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(() => readSafetensors(bytes, "bad.safetensors"), (e: Error) => {
    assert.match(e.message, /bad\.safetensors/);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("safetensors: truncated and corrupt files are rejected with clear messages", () => {
  const good = writeSafetensors({
    "model.norm.weight": { shape: [4], data: new Float32Array([1, 2, 3, 4]) },
    "model.embed_tokens.weight": { shape: [2, 2], data: new Float32Array([5, 6, 7, 8]) },
  });
  readSafetensors(good, "good.safetensors");
  // truncated in the data: names the tensor that runs past the end
  expectError(good.subarray(0, good.length - 3), /"model\.norm\.weight".*truncated/);
  // truncated inside the header
  expectError(good.subarray(0, 20), /header length \d+ runs past the end/);
  expectError(good.subarray(0, 5), /shorter than the 8-byte header length/);
  // trailing garbage
  const longer = new Uint8Array(good.length + 4);
  longer.set(good);
  expectError(longer, /4 trailing bytes/);
  // absurd header length
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  expectError(huge, /exceeds/);
  // header not JSON
  const notJson = good.slice();
  notJson[8] = 0x7b + 1; // '{' → '|'
  expectError(notJson, /not valid UTF-8 JSON/);
  const four = new Uint8Array(16);
  // wrong dtype, size mismatch, overlap, hole
  expectError(
    rawFile({ x: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, four),
    /tensor "x".*dtype "I64"/,
  );
  expectError(
    rawFile({ x: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }, four),
    /tensor "x".*needs 12 bytes.*span 16/,
  );
  expectError(
    rawFile({
      x: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      y: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
    }, new Uint8Array(12)),
    /tensor "y".*overlap/,
  );
  expectError(
    rawFile({ x: { dtype: "F32", shape: [2], data_offsets: [8, 16] } }, four),
    /tensor "x".*hole of 8 bytes/,
  );
  expectError(rawFile({ x: { dtype: "F32", shape: [-1], data_offsets: [0, 16] } }, four), /shape/);
  expectError(
    rawFile({ x: { dtype: "F32", shape: [4], data_offsets: [0] } }, four),
    /data_offsets/,
  );
  expectError(rawFile([1, 2], new Uint8Array(0)), /not an object/);
});

Deno.test("safetensors: writer rejects shape/data mismatch", () => {
  assert.throws(
    () => writeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } }),
    /tensor "w" shape \[2,2\] has 4 elements but data has 3/,
  );
});
