/**
 * Reader and writer for the safetensors format (Hugging Face): an 8-byte little-endian header
 * length N, N bytes of JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__}`,
 * then the tensor bytes, offsets relative to the end of the header.
 *
 * The reader accepts F32, F16, BF16 (and F64) and always returns fresh `Float32Array`s. It
 * validates everything it can (header length, JSON, dtypes, shapes against byte ranges, bounds,
 * overlap, holes, trailing bytes), so a truncated or corrupt file raises an error naming the
 * file and the tensor instead of yielding garbage weights.
 *
 * @module
 */

/** Storage dtypes this reader understands. */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "F64";

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** One decoded tensor: the dtype it was stored in, its shape, and its values as float32. */
export interface SafeTensor {
  /** dtype as stored in the file (values are converted to float32). */
  dtype: SafetensorsDtype;
  /** Shape, row-major. */
  shape: number[];
  /** Values, row-major, freshly allocated. */
  data: Float32Array;
}

/** A tensor to write: shape and float32 values (row-major). */
export interface TensorToWrite {
  /** Shape, row-major; its product must equal `data.length`. */
  shape: readonly number[];
  /** Values. */
  data: Float32Array;
}

/** Largest header we accept (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/** Converts an IEEE-754 binary16 bit pattern to a number. */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Decodes a safetensors file.
 *
 * @param bytes the whole file
 * @param file path used in error messages
 * @returns tensors by name (insertion order = sorted by name) and the `__metadata__` map on
 *   the `metadata` property of the returned Map
 * @throws Error naming the file and the tensor for any inconsistency
 */
export function readSafetensors(
  bytes: Uint8Array,
  file: string,
): Map<string, SafeTensor> & { metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new Error(`${file}: not a valid safetensors file: ${msg}`);
  };
  if (bytes.length < 8) {
    fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) {
    fail(
      `header length ${headerLen} runs past the end of the file (${bytes.length} bytes): truncated?`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLen),
    ));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("header JSON is not an object");
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const entries: {
    name: string;
    dtype: SafetensorsDtype;
    shape: number[];
    b: number;
    e: number;
  }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        fail("__metadata__ must be an object of strings");
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__.${k} must be a string`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const where = `tensor "${name}"`;
    if (typeof raw !== "object" || raw === null) fail(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) {
      fail(`${where}: dtype ${JSON.stringify(dtype)} is not supported (F32, F16, BF16, F64)`);
    }
    if (
      !Array.isArray(shape) ||
      !shape.every((s) => Number.isSafeInteger(s) && (s as number) >= 0)
    ) fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (
      !Array.isArray(data_offsets) || data_offsets.length !== 2 ||
      !data_offsets.every((s) => Number.isSafeInteger(s) && (s as number) >= 0)
    ) fail(`${where}: data_offsets ${JSON.stringify(data_offsets)} must be [begin, end]`);
    const [b, e] = data_offsets as number[];
    const count = (shape as number[]).reduce((a, s) => a * s, 1);
    const want = count * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (e < b) fail(`${where}: data_offsets end ${e} < begin ${b}`);
    if (e - b !== want) {
      fail(
        `${where}: shape [${shape}] of ${dtype} needs ${want} bytes but data_offsets span ${e - b}`,
      );
    }
    if (e > dataLen) {
      fail(
        `${where}: bytes [${b}, ${e}) run past the end of the data (${dataLen} bytes): file truncated`,
      );
    }
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], b, e });
  }
  const byOffset = [...entries].sort((x, y) => x.b - y.b || x.e - y.e);
  let cursor = 0;
  for (const t of byOffset) {
    if (t.b < cursor) fail(`tensor "${t.name}": bytes [${t.b}, ${t.e}) overlap another tensor`);
    if (t.b > cursor) fail(`tensor "${t.name}": hole of ${t.b - cursor} bytes before it`);
    cursor = t.e;
  }
  if (cursor !== dataLen) {
    fail(`${dataLen - cursor} trailing bytes after the last tensor (corrupt or wrong header)`);
  }
  const out = new Map<string, SafeTensor>() as Map<string, SafeTensor> & {
    metadata: Record<string, string>;
  };
  out.metadata = metadata;
  for (const t of [...entries].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))) {
    out.set(t.name, { dtype: t.dtype, shape: t.shape, data: decode(bytes, dataStart + t.b, t) });
  }
  return out;
}

function decode(
  bytes: Uint8Array,
  start: number,
  t: { dtype: SafetensorsDtype; b: number; e: number },
): Float32Array {
  // Copy the byte range to a fresh aligned buffer first (offsets need not be aligned), then
  // view it in the stored type. Typed arrays use platform order; every Deno target is
  // little-endian like the format.
  const raw = bytes.slice(start, start + (t.e - t.b)).buffer;
  switch (t.dtype) {
    case "F32":
      return new Float32Array(raw);
    case "F64":
      return Float32Array.from(new Float64Array(raw));
    case "F16": {
      const h = new Uint16Array(raw);
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = f16BitsToNumber(h[i]);
      return out;
    }
    case "BF16": {
      const h = new Uint16Array(raw);
      const out = new Float32Array(h.length);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < h.length; i++) u[i] = h[i] << 16;
      return out;
    }
  }
}

/**
 * Encodes tensors as a safetensors file (F32). Tensor order and header key order are sorted by
 * name, so the output is byte-for-byte deterministic; the header is space-padded to 8 bytes.
 *
 * @param tensors name → {shape, data}
 * @param metadata optional `__metadata__` (string → string)
 * @throws Error when a shape does not match its data length
 */
export function writeSafetensors(
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Uint8Array {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const names = [...map.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) sorted[k] = String(metadata[k]);
    header.__metadata__ = sorted;
  }
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__") throw new Error(`writeSafetensors: "__metadata__" is reserved`);
    const t = map.get(name)!;
    const count = t.shape.reduce((a, s) => a * s, 1);
    if (count !== t.data.length) {
      throw new Error(
        `writeSafetensors: tensor "${name}" shape [${t.shape}] has ${count} elements but data has ${t.data.length}`,
      );
    }
    header[name] = {
      dtype: "F32",
      shape: [...t.shape],
      data_offsets: [offset, offset + 4 * count],
    };
    offset += 4 * count;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const name of names) {
    const d = map.get(name)!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
  return out;
}
