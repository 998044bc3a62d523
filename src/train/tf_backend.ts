/**
 * Starts TensorFlow.js on its wasm backend (SIMD, one thread) and refuses to run on anything else:
 * `tf.setBackend` silently falls back to the slow cpu backend when wasm fails to load.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

let ready: Promise<typeof tf> | undefined;

/** Initialises TF.js on wasm once per process and returns the `tf` namespace. */
export function initTfWasm(): Promise<typeof tf> {
  ready ??= (async () => {
    const dist = new URL("../../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url);
    setWasmPaths(dist.href);
    const ok = await tf.setBackend("wasm");
    await tf.ready();
    if (!ok || tf.getBackend() !== "wasm") {
      throw new Error(
        `TensorFlow.js could not start its wasm backend (got "${tf.getBackend()}"); ` +
          `check that node_modules/@tensorflow/tfjs-backend-wasm/dist holds the .wasm files`,
      );
    }
    return tf;
  })();
  return ready;
}

/** The TF.js version in use, for provenance. */
export function tfVersion(): string {
  return tf.version.tfjs;
}
