/**
 * A fixed pool of gradient workers (see `grad_worker.ts`): one TF.js wasm instance per core.
 *
 * @module
 */

import type { LlamaConfig } from "../model/config.ts";
import type { GradWorkerReply, GradWorkerRequest } from "./grad_worker.ts";

/**
 * The Web Worker constructor, captured when this module loads: onnxruntime-web's node build
 * replaces `globalThis.Worker` with Node's `worker_threads` class once it starts a session.
 */
const WebWorker: typeof Worker = globalThis.Worker;

/** A pool of workers that each hold a TF.js LLaMA of the same config. */
export class GradWorkerPool {
  #workers: Worker[] = [];

  /** Number of workers. */
  get size(): number {
    return this.#workers.length;
  }

  /** Starts `n` workers and initialises each with the model config. */
  static async start(n: number, cfg: LlamaConfig, seqLen: number): Promise<GradWorkerPool> {
    const pool = new GradWorkerPool();
    for (let i = 0; i < n; i++) {
      pool.#workers.push(
        new WebWorker(new URL("./grad_worker.ts", import.meta.url).href, { type: "module" }),
      );
    }
    await Promise.all(pool.#workers.map((w) => pool.#call(w, { type: "init", cfg, seqLen })));
    return pool;
  }

  #call(w: Worker, req: GradWorkerRequest): Promise<GradWorkerReply> {
    return new Promise((resolve, reject) => {
      w.onmessage = (ev: MessageEvent<GradWorkerReply>) => {
        if (ev.data.type === "error") reject(new Error(`gradient worker: ${ev.data.message}`));
        else resolve(ev.data);
      };
      w.onerror = (ev) => {
        ev.preventDefault();
        reject(new Error(`gradient worker crashed: ${ev.message}`));
      };
      w.postMessage(req);
    });
  }

  /**
   * Loss and gradient of a batch [rows, seqLen+1], split into equal row shards across the
   * workers; returns the mean loss and the mean gradient (shards summed in worker order).
   */
  async grad(
    weights: Float32Array[],
    ids: Int32Array,
    rows: number,
  ): Promise<{ loss: number; grads: Float32Array[] }> {
    const n = this.#workers.length;
    if (rows % n !== 0) throw new Error(`batch of ${rows} rows does not split over ${n} workers`);
    const per = rows / n, width = ids.length / rows;
    const replies = await Promise.all(this.#workers.map((w, i) =>
      this.#call(w, {
        type: "grad",
        weights,
        ids: ids.slice(i * per * width, (i + 1) * per * width),
        batch: per,
      })
    ));
    let loss = 0;
    const grads = weights.map((w) => new Float32Array(w.length));
    for (const r of replies) {
      if (r.type !== "grad") throw new Error(`unexpected reply ${r.type}`);
      loss += r.loss / n;
      r.grads.forEach((g, j) => {
        const acc = grads[j];
        for (let k = 0; k < g.length; k++) acc[k] += g[k] / n;
      });
    }
    return { loss, grads };
  }

  /** Mean loss over several batches of `rows` rows each, spread over the workers. */
  async loss(weights: Float32Array[], batches: Int32Array[], rows: number): Promise<number> {
    const results: number[] = new Array(batches.length);
    let next = 0;
    await Promise.all(this.#workers.map(async (w) => {
      while (next < batches.length) {
        const i = next++;
        const r = await this.#call(w, { type: "loss", weights, ids: batches[i], batch: rows });
        if (r.type !== "loss") throw new Error(`unexpected reply ${r.type}`);
        results[i] = r.loss;
      }
    }));
    return results.reduce((a, b) => a + b, 0) / results.length;
  }

  /** Stops every worker. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}
