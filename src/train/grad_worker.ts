/**
 * A Web Worker that holds one TF.js copy of a LLaMA and computes the loss and gradients of the
 * batches it is sent. The trainer owns the weights and the optimizer; workers only differentiate,
 * which is how training uses both cores (TF.js's wasm backend is single-threaded).
 *
 * Messages in: `{type: "init", cfg, seqLen}`, `{type: "grad", weights, ids, batch}`,
 * `{type: "loss", weights, ids, batch}`. Messages out: `{type: "ready"}`,
 * `{type: "grad", loss, grads}`, `{type: "loss", loss}`, `{type: "error", message}`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { LlamaConfig } from "../model/config.ts";
import { initTfWasm } from "./tf_backend.ts";
import {
  type ForwardTables,
  forwardTables,
  llamaLoss,
  llamaParameterShapes,
  makeTfLlama,
  type TfLlama,
} from "./tf_llama.ts";

/** A request to a gradient worker. */
export type GradWorkerRequest =
  | { type: "init"; cfg: LlamaConfig; seqLen: number }
  | { type: "grad" | "loss"; weights: Float32Array[]; ids: Int32Array; batch: number };

/** A reply from a gradient worker. */
export type GradWorkerReply =
  | { type: "ready" }
  | { type: "grad"; loss: number; grads: Float32Array[] }
  | { type: "loss"; loss: number }
  | { type: "error"; message: string };

let model: TfLlama | undefined;
let tables: ForwardTables | undefined;
let names: string[] = [];
let seqLen = 0;

async function handle(msg: GradWorkerRequest): Promise<GradWorkerReply> {
  const tf = await initTfWasm();
  if (msg.type === "init") {
    const shapes = llamaParameterShapes(msg.cfg);
    names = shapes.map(([n]) => n);
    const zeros = new Map(
      shapes.map(([n, s]) => [n, new Float32Array(s.reduce((a, b) => a * b, 1))]),
    );
    model = makeTfLlama(tf, msg.cfg, zeros);
    seqLen = msg.seqLen;
    tables = forwardTables(tf, msg.cfg, seqLen);
    return { type: "ready" };
  }
  if (!model || !tables) throw new Error("worker used before init");
  const m = model, tb = tables;
  names.forEach((n, i) => {
    const v = m.params.get(n)!;
    const t = tf.tensor(msg.weights[i], v.shape);
    v.assign(t);
    t.dispose();
  });
  const all = tf.tensor(msg.ids, [msg.batch, seqLen + 1], "int32");
  const inputs = tf.slice(all, [0, 0], [msg.batch, seqLen]);
  const targets = tf.slice(all, [0, 1], [msg.batch, seqLen]);
  try {
    if (msg.type === "loss") {
      const loss = tf.tidy(() => llamaLoss(tf, m, inputs, targets, tb));
      const value = loss.dataSync()[0];
      loss.dispose();
      return { type: "loss", loss: value };
    }
    const vars = names.map((n) => m.params.get(n)!);
    const { value, grads } = tf.variableGrads(
      () => llamaLoss(tf, m, inputs, targets, tb) as never,
      vars,
    );
    const out = names.map((n) => (grads[n].dataSync() as Float32Array).slice());
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return { type: "grad", loss, grads: out };
  } finally {
    tf.dispose([all, inputs, targets]);
  }
}

self.onmessage = async (ev: MessageEvent<GradWorkerRequest>) => {
  try {
    const reply = await handle(ev.data);
    const transfer = reply.type === "grad" ? reply.grads.map((g) => g.buffer as ArrayBuffer) : [];
    self.postMessage(reply, { transfer });
  } catch (e) {
    self.postMessage({ type: "error", message: (e as Error).stack ?? String(e) });
  }
};
