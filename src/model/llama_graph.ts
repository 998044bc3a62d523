/**
 * ONNX graphs for LLaMA-architecture models, generated from the config with standard ops only
 * (opset 17), weights embedded as initializers:
 *
 * - {@link buildLlamaGraph}: the full causal LM with a 4-D additive attention mask and a KV cache;
 * - {@link buildBlockGraph}: one decoder block that also returns the input of every linear layer
 *   (for pruning calibration).
 *
 * Numerics follow Hugging Face `LlamaForCausalLM`:
 * RMSNorm `w · x / sqrt(mean(x²) + eps)`; RoPE with `rotate_half` and `inv_freq = θ^(-2i/d)`,
 * cos/sin computed in the graph from `position_ids`; GQA (query head h reads kv head h / groups);
 * softmax(q kᵀ/√d + mask) v; SwiGLU `down(silu(gate x) · up x)`; tied embeddings reuse
 * `model.embed_tokens.weight` as the head.
 *
 * @module
 */
import { headDim, kvGroups, type LlamaConfig } from "./config.ts";
import { type Dim, GraphBuilder } from "./onnx_builder.ts";
import { llamaTensorShapes, type LlamaWeights, validateLlamaWeights } from "./weights.ts";

/** Opset of the default ONNX domain used by the generated graphs. */
export const OPSET = 17;

/** Names of the inputs and outputs of the full causal-LM graph. */
export const LM_IO = {
  inputIds: "input_ids",
  positionIds: "position_ids",
  attentionMask: "attention_mask",
  pastKey: (i: number): string => `past_key_values.${i}.key`,
  pastValue: (i: number): string => `past_key_values.${i}.value`,
  logits: "logits",
  presentKey: (i: number): string => `present.${i}.key`,
  presentValue: (i: number): string => `present.${i}.value`,
  lastHiddenState: "last_hidden_state",
} as const;

/** Names of the inputs and outputs of the decoder-block graph. */
export const BLOCK_IO = {
  hiddenIn: "hidden_states",
  positionIds: "position_ids",
  attentionMask: "attention_mask",
  hiddenOut: "hidden_states_out",
  /** normed x: input of q/k/v_proj */
  attnIn: "attn_in",
  /** input of o_proj */
  oIn: "o_in",
  /** normed h: input of gate/up_proj */
  mlpIn: "mlp_in",
  /** silu(gate)·up: input of down_proj */
  downIn: "down_in",
} as const;

/** `inv_freq[i] = θ^(-2i/headDim)`, i < headDim/2, computed in float64 then rounded. */
export function ropeInvFreq(cfg: LlamaConfig): Float32Array {
  const hd = headDim(cfg);
  return Float32Array.from({ length: hd / 2 }, (_, i) => cfg.rope_theta ** (-(2 * i) / hd));
}

/** Transposes a row-major `[rows, cols]` matrix into a new `[cols, rows]` one. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = w[base + c];
  }
  return out;
}

/** Shared context for emitting a LLaMA layer into a graph. */
interface Ctx {
  g: GraphBuilder;
  cfg: LlamaConfig;
  weights: LlamaWeights;
}

function rmsNorm(c: Ctx, x: string, weightName: string, stem: string): string {
  const { g, cfg } = c;
  const w = g.initFloat(weightName, [cfg.hidden_size], c.weights.get(weightName)!);
  const sq = g.node("Mul", [x, x]);
  const ms = g.node("ReduceMean", [sq], { attrs: { axes: [-1], keepdims: 1 } });
  const rms = g.node("Sqrt", [g.node("Add", [ms, g.constFloat(cfg.rms_norm_eps)])]);
  return g.node("Mul", [g.node("Div", [x, rms]), w], { outputs: [g.fresh(stem)] });
}

/** `x Wᵀ` with W `[out, in]` stored transposed as a `[in, out]` initializer. */
function linear(c: Ctx, x: string, weightName: string, out: number, inn: number): string {
  const w = c.weights.get(weightName)!;
  const t = c.g.initFloat(`${weightName}.T`, [inn, out], transpose(w, out, inn));
  return c.g.node("MatMul", [x, t]);
}

/** cos/sin tables `[B, 1, S, headDim]` from `position_ids [B, S]`. */
function ropeTables(c: Ctx, positionIds: string): { cos: string; sin: string } {
  const { g, cfg } = c;
  const invFreq = g.initFloat("rope.inv_freq", [headDim(cfg) / 2], ropeInvFreq(cfg));
  const pos = g.node("Cast", [positionIds], { attrs: { to: 1 } }); // float32
  const pos3 = g.node("Unsqueeze", [pos, g.constInt64([2])]); // [B,S,1]
  const freqs = g.node("Mul", [pos3, invFreq]); // [B,S,hd/2]
  const emb = g.node("Concat", [freqs, freqs], { attrs: { axis: -1 } }); // [B,S,hd]
  const emb4 = g.node("Unsqueeze", [emb, g.constInt64([1])]); // [B,1,S,hd]
  return { cos: g.node("Cos", [emb4]), sin: g.node("Sin", [emb4]) };
}

/** `x·cos + rotate_half(x)·sin` for x `[B, heads, S, hd]`. */
function applyRope(c: Ctx, x: string, rope: { cos: string; sin: string }): string {
  const { g } = c;
  const half = headDim(c.cfg) / 2;
  const [x1, x2] = g.nodeMulti("Split", [x, g.constInt64([half, half])], 2, { axis: -1 });
  const rot = g.node("Concat", [g.node("Neg", [x2]), x1], { attrs: { axis: -1 } });
  return g.node("Add", [g.node("Mul", [x, rope.cos]), g.node("Mul", [rot, rope.sin])]);
}

/** `[B, S, heads·hd]` → `[B, heads, S, hd]`. */
function splitHeads(c: Ctx, x: string, heads: number): string {
  const { g } = c;
  const r = g.node("Reshape", [x, g.constInt64([0, 0, heads, headDim(c.cfg)])]);
  return g.node("Transpose", [r], { attrs: { perm: [0, 2, 1, 3] } });
}

/** Values a decoder block exposes besides its output. */
interface BlockValues {
  out: string;
  attnIn: string;
  oIn: string;
  mlpIn: string;
  downIn: string;
  presentKey: string;
  presentValue: string;
}

/**
 * Emits decoder block `layer`. `maskTiled` is the additive mask repeated `groups` times along
 * the query axis: `[B, 1, groups·S, T]`, matching scores laid out as `[B, kvHeads, groups·S, T]`
 * (query head h = kv·groups + j ↦ kv head kv, as in HF `repeat_kv`).
 */
function decoderBlock(
  c: Ctx,
  layer: number,
  h: string,
  rope: { cos: string; sin: string },
  maskTiled: string,
  past?: { key: string; value: string },
): BlockValues {
  const { g, cfg } = c;
  const p = `model.layers.${layer}`;
  const d = cfg.hidden_size, hd = headDim(cfg);
  const H = cfg.num_attention_heads, KV = cfg.num_key_value_heads;
  const attnIn = rmsNorm(c, h, `${p}.input_layernorm.weight`, `attn_in_${layer}`);
  const q = applyRope(
    c,
    splitHeads(c, linear(c, attnIn, `${p}.self_attn.q_proj.weight`, H * hd, d), H),
    rope,
  );
  let k = applyRope(
    c,
    splitHeads(c, linear(c, attnIn, `${p}.self_attn.k_proj.weight`, KV * hd, d), KV),
    rope,
  );
  let v = splitHeads(c, linear(c, attnIn, `${p}.self_attn.v_proj.weight`, KV * hd, d), KV);
  if (past) {
    k = g.node("Concat", [past.key, k], { attrs: { axis: 2 } });
    v = g.node("Concat", [past.value, v], { attrs: { axis: 2 } });
  }
  // q [B,H,S,hd] → [B,KV,groups·S,hd]; scores [B,KV,groups·S,T]
  const qg = g.node("Reshape", [q, g.constInt64([0, KV, -1, hd])]);
  const kT = g.node("Transpose", [k], { attrs: { perm: [0, 1, 3, 2] } });
  const scores = g.node("Mul", [g.node("MatMul", [qg, kT]), g.constFloat(1 / Math.sqrt(hd))]);
  const probs = g.node("Softmax", [g.node("Add", [scores, maskTiled])], { attrs: { axis: -1 } });
  const ctxv = g.node("MatMul", [probs, v]); // [B,KV,groups·S,hd]
  const heads = g.node("Reshape", [ctxv, g.constInt64([0, H, -1, hd])]); // [B,H,S,hd]
  const merged = g.node("Transpose", [heads], { attrs: { perm: [0, 2, 1, 3] } });
  const oIn = g.node("Reshape", [merged, g.constInt64([0, 0, H * hd])], {
    outputs: [g.fresh(`o_in_${layer}`)],
  });
  const h2 = g.node("Add", [h, linear(c, oIn, `${p}.self_attn.o_proj.weight`, d, H * hd)]);
  const f = cfg.intermediate_size;
  const mlpIn = rmsNorm(c, h2, `${p}.post_attention_layernorm.weight`, `mlp_in_${layer}`);
  const gate = linear(c, mlpIn, `${p}.mlp.gate_proj.weight`, f, d);
  const up = linear(c, mlpIn, `${p}.mlp.up_proj.weight`, f, d);
  const silu = g.node("Mul", [gate, g.node("Sigmoid", [gate])]);
  const downIn = g.node("Mul", [silu, up], { outputs: [g.fresh(`down_in_${layer}`)] });
  const out = g.node("Add", [h2, linear(c, downIn, `${p}.mlp.down_proj.weight`, d, f)]);
  return { out, attnIn, oIn, mlpIn, downIn, presentKey: k, presentValue: v };
}

/** Tiles the `[B,1,S,T]` mask `groups` times along axis 2 (no-op for groups = 1). */
function tileMask(c: Ctx, mask: string): string {
  const groups = kvGroups(c.cfg);
  if (groups === 1) return mask;
  return c.g.node("Concat", Array(groups).fill(mask), { attrs: { axis: 2 } });
}

/** Options for {@link buildLlamaGraph}. */
export interface LlamaGraphOptions {
  /** Model config. */
  config: LlamaConfig;
  /** Weights by HF name (validated against the config). */
  weights: LlamaWeights;
  /** Emit `last_hidden_state` (default true). */
  hiddenOutput?: boolean;
}

/**
 * Builds the full causal LM as a serialized ONNX ModelProto.
 *
 * Inputs: `input_ids` int64 `[B,S]`, `position_ids` int64 `[B,S]`, `attention_mask` float32
 * `[B,1,S,P+S]` additive (0 attend, large negative masked; the caller builds causal or tree
 * masks), `past_key_values.{i}.key|value` float32 `[B,kvHeads,P,headDim]` (P may be 0).
 * Outputs: `logits` `[B,S,V]`, `present.{i}.key|value` `[B,kvHeads,P+S,headDim]` (keys after
 * RoPE), and `last_hidden_state` `[B,S,d]` = the hidden state **after the final RMSNorm**, i.e.
 * the input of `lm_head` (HF `outputs[0]` of `LlamaModel`, what Medusa heads read).
 */
export function buildLlamaGraph(opts: LlamaGraphOptions): Uint8Array {
  const { config: cfg, weights } = opts;
  validateLlamaWeights(cfg, weights, "buildLlamaGraph");
  const g = new GraphBuilder("llama_causal_lm");
  const c: Ctx = { g, cfg, weights };
  const d = cfg.hidden_size, hd = headDim(cfg), KV = cfg.num_key_value_heads, V = cfg.vocab_size;
  const B: Dim = "batch", S: Dim = "sequence", P: Dim = "past_sequence", T: Dim = "total_sequence";
  const ids = g.input(LM_IO.inputIds, "int64", [B, S]);
  const pos = g.input(LM_IO.positionIds, "int64", [B, S]);
  const mask = g.input(LM_IO.attentionMask, "float32", [B, 1, S, T]);
  const past = Array.from({ length: cfg.num_hidden_layers }, (_, i) => ({
    key: g.input(LM_IO.pastKey(i), "float32", [B, KV, P, hd]),
    value: g.input(LM_IO.pastValue(i), "float32", [B, KV, P, hd]),
  }));
  const embed = g.initFloat(
    "model.embed_tokens.weight",
    [V, d],
    weights.get("model.embed_tokens.weight")!,
  );
  let h = g.node("Gather", [embed, ids], { attrs: { axis: 0 } });
  const rope = ropeTables(c, pos);
  const maskTiled = tileMask(c, mask);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const b = decoderBlock(c, i, h, rope, maskTiled, past[i]);
    g.output(LM_IO.presentKey(i), b.presentKey, "float32", [B, KV, T, hd]);
    g.output(LM_IO.presentValue(i), b.presentValue, "float32", [B, KV, T, hd]);
    h = b.out;
  }
  const hn = rmsNorm(c, h, "model.norm.weight", "final_norm");
  const headName = cfg.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  const headT = g.initFloat("lm_head.weight.T", [d, V], transpose(weights.get(headName)!, V, d));
  g.output(LM_IO.logits, g.node("MatMul", [hn, headT]), "float32", [B, S, V]);
  if (opts.hiddenOutput ?? true) g.output(LM_IO.lastHiddenState, hn, "float32", [B, S, d]);
  return g.toModel({ opset: OPSET, docString: "LLaMA causal LM generated by sparsespec" });
}

/** Options for {@link buildBlockGraph}. */
export interface BlockGraphOptions {
  /** Model config. */
  config: LlamaConfig;
  /** Weights by HF name; only `model.layers.{layer}.*` are read. */
  weights: LlamaWeights;
  /** Block index. */
  layer: number;
}

/**
 * Builds decoder block `layer` alone (no KV cache) as a serialized ONNX ModelProto.
 *
 * Inputs: `hidden_states` `[B,S,d]`, `position_ids` int64 `[B,S]`, `attention_mask` float32
 * `[B,1,S,S]` additive. Outputs: `hidden_states_out` `[B,S,d]` and the inputs of the linear
 * layers: `attn_in` `[B,S,d]` (q/k/v), `o_in` `[B,S,heads·hd]`, `mlp_in` `[B,S,d]` (gate/up),
 * `down_in` `[B,S,intermediate]`.
 */
export function buildBlockGraph(opts: BlockGraphOptions): Uint8Array {
  const { config: cfg, weights, layer } = opts;
  if (!Number.isInteger(layer) || layer < 0 || layer >= cfg.num_hidden_layers) {
    throw new Error(`buildBlockGraph: layer ${layer} out of range 0..${cfg.num_hidden_layers - 1}`);
  }
  const prefix = `model.layers.${layer}.`;
  const sub: LlamaWeights = new Map([...weights].filter(([k]) => k.startsWith(prefix)));
  const g = new GraphBuilder(`llama_block_${layer}`);
  const c: Ctx = { g, cfg, weights: sub };
  const d = cfg.hidden_size, hd = headDim(cfg);
  const B: Dim = "batch", S: Dim = "sequence";
  const x = g.input(BLOCK_IO.hiddenIn, "float32", [B, S, d]);
  const pos = g.input(BLOCK_IO.positionIds, "int64", [B, S]);
  const mask = g.input(BLOCK_IO.attentionMask, "float32", [B, 1, S, S]);
  for (const [name, shape] of llamaTensorShapes(cfg)) {
    if (!name.startsWith(prefix)) continue;
    const w = sub.get(name);
    const n = shape.reduce((a, s) => a * s, 1);
    if (!w || w.length !== n) {
      throw new Error(`buildBlockGraph: tensor "${name}" missing or not [${shape}]`);
    }
  }
  const b = decoderBlock(c, layer, x, ropeTables(c, pos), tileMask(c, mask));
  g.output(BLOCK_IO.hiddenOut, b.out, "float32", [B, S, d]);
  g.output(BLOCK_IO.attnIn, b.attnIn, "float32", [B, S, d]);
  g.output(BLOCK_IO.oIn, b.oIn, "float32", [B, S, cfg.num_attention_heads * hd]);
  g.output(BLOCK_IO.mlpIn, b.mlpIn, "float32", [B, S, d]);
  g.output(BLOCK_IO.downIn, b.downIn, "float32", [B, S, cfg.intermediate_size]);
  return g.toModel({
    opset: OPSET,
    docString: `LLaMA decoder block ${layer} generated by sparsespec`,
  });
}
