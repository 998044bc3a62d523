/**
 * A small helper for writing ONNX graphs with onnx-proto: named values, nodes with typed
 * attributes, initializers stored as raw little-endian bytes, and serialization to a
 * `ModelProto` byte array. Knows nothing about LLaMA.
 *
 * @module
 */
import pkg from "onnx-proto";
import type { onnx as O } from "onnx-proto";

const { onnx } = pkg;

/** ONNX element types used by this project. */
export type ElemType = "float32" | "int64";

/** A dimension: a fixed size or a symbolic name (`dim_param`). */
export type Dim = number | string;

/** An attribute value: int, float, ints, floats or string. */
export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
};

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function valueInfo(name: string, type: ElemType, dims: readonly Dim[]): O.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: {
          dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): O.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use {float} for ${v}`);
    return { name, type: T.INT, i: v };
  }
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ("float" in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}

/** Builds one ONNX graph; call {@link GraphBuilder.toModel} to serialize. */
export class GraphBuilder {
  #nodes: O.INodeProto[] = [];
  #inits: O.ITensorProto[] = [];
  #inputs: O.IValueInfoProto[] = [];
  #outputs: O.IValueInfoProto[] = [];
  #names = new Set<string>(); // reserved (fresh) or defined
  #defined = new Set<string>();
  #counter = 0;
  #consts = new Map<string, string>();
  #initBytes = 0;

  /** Creates an empty graph with the given name. */
  constructor(readonly name: string) {}

  /** A fresh value name with the given readable stem. */
  fresh(stem: string): string {
    let n: string;
    do n = `${stem}_${this.#counter++}`; while (this.#names.has(n));
    this.#names.add(n);
    return n;
  }

  #claim(name: string): string {
    if (this.#defined.has(name)) throw new Error(`GraphBuilder: duplicate value name "${name}"`);
    this.#names.add(name);
    this.#defined.add(name);
    return name;
  }

  /** Declares a graph input and returns its name. */
  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.#inputs.push(valueInfo(this.#claim(name), type, dims));
    return name;
  }

  /** Declares `value` as a graph output (renamed through Identity when names differ). */
  output(name: string, value: string, type: ElemType, dims: readonly Dim[]): string {
    if (value !== name) this.node("Identity", [value], { outputs: [name] });
    this.#outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Adds a float32 initializer (raw little-endian bytes) and returns its name. */
  initFloat(name: string, dims: readonly number[], data: Float32Array): string {
    const count = dims.reduce((a, d) => a * d, 1);
    if (count !== data.length) {
      throw new Error(`GraphBuilder: initializer "${name}" dims [${dims}] ≠ ${data.length} values`);
    }
    this.#initBytes += data.byteLength;
    this.#inits.push({
      name: this.#claim(name),
      dims: [...dims],
      dataType: ELEM.float32,
      rawData: bytesOf(data),
    });
    return name;
  }

  /** An int64 constant initializer (deduplicated by value). */
  constInt64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims.join("x")}:${values.join(",")}`;
    const hit = this.#consts.get(key);
    if (hit) return hit;
    const name = this.fresh("const_i64");
    this.#inits.push({
      name,
      dims: [...dims],
      dataType: ELEM.int64,
      rawData: bytesOf(BigInt64Array.from(values, (v) => BigInt(v))),
    });
    this.#consts.set(key, name);
    return name;
  }

  /** A float32 scalar constant initializer (deduplicated by value). */
  constFloat(value: number): string {
    const key = `f32:${value}`;
    const hit = this.#consts.get(key);
    if (hit) return hit;
    const name = this.fresh("const_f32");
    this.#inits.push({
      name,
      dims: [],
      dataType: ELEM.float32,
      rawData: bytesOf(new Float32Array([value])),
    });
    this.#consts.set(key, name);
    return name;
  }

  /**
   * Adds a node. Returns the first output's name; `opts.outputs` may fix the output names
   * (or pass a number for that many fresh outputs, then read them from `opts.outputs` result
   * via {@link GraphBuilder.nodeMulti}).
   */
  node(
    op: string,
    inputs: readonly string[],
    opts: { outputs?: string[]; attrs?: Record<string, AttrValue>; name?: string } = {},
  ): string {
    return this.nodeMulti(op, inputs, opts.outputs ?? 1, opts.attrs, opts.name)[0];
  }

  /** Adds a node with several outputs (names given, or a count of fresh names). */
  nodeMulti(
    op: string,
    inputs: readonly string[],
    outputs: string[] | number,
    attrs: Record<string, AttrValue> = {},
    name?: string,
  ): string[] {
    const outs = typeof outputs === "number"
      ? Array.from({ length: outputs }, () => this.fresh(op.toLowerCase()))
      : outputs.map((o) => this.#claim(o));
    this.#nodes.push({
      opType: op,
      name: name ?? this.fresh(`n_${op}`),
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** Serializes the graph as a ModelProto (IR 8, default domain at `opset`). */
  toModel(opts: { opset?: number; producer?: string; docString?: string } = {}): Uint8Array {
    if (this.#initBytes > 2 ** 31 - 2 ** 24) {
      throw new Error(
        `GraphBuilder: ${(this.#initBytes / 2 ** 30).toFixed(2)} GiB of initializers exceed the ` +
          "2 GiB protobuf limit of a single ONNX file (external data is not implemented here)",
      );
    }
    const model: O.IModelProto = {
      irVersion: 8,
      opsetImport: [{ domain: "", version: opts.opset ?? 17 }],
      producerName: opts.producer ?? "sparsespec",
      docString: opts.docString ?? "",
      graph: {
        name: this.name,
        node: this.#nodes,
        initializer: this.#inits,
        input: this.#inputs,
        output: this.#outputs,
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }
}
