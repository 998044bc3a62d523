/**
 * Forward-pass speed of the ORT-backed CausalLM on wasm with 1 and 2 threads: prefill of 128
 * tokens (tokens/s = 128 × iter/s), single-token decode latency with a 128-token KV cache, and
 * session build time (ONNX graph generation + session creation). Run with
 * `bin/deno bench -A bench/forward_bench.ts`.
 *
 * onnxruntime-web fixes its wasm thread count once per JS realm, so each thread count runs in
 * its own Web Worker (this same file, loaded with `?worker`); timings include one
 * postMessage round trip (tens of µs). The model is `bench/models/sparsespec-tiny` when it has
 * weights, else a random model of the embedded default's size
 * (`src/train/lm_defaults.ts`). Override with env `SPARSESPEC_BENCH_MODEL=<HF folder>` or
 * `SPARSESPEC_BENCH_CONFIG='{"hidden_size":512,...}'` (config fields, random weights).
 * Each group also prints a `[forward_bench]` line with the median and tokens/s.
 *
 * @module
 */
import { type KVCache, loadModelFolder, OrtCausalLM } from "../src/model/causal_lm.ts";
import {
  type LlamaConfig,
  llamaConfigJson,
  parameterCount,
  parseLlamaConfig,
} from "../src/model/config.ts";
import { buildLlamaGraph } from "../src/model/llama_graph.ts";
import { createSession } from "../src/model/session.ts";
import { randomLlamaWeights } from "../src/model/weights.ts";
import { EMBEDDED_CONFIG } from "../src/train/lm_defaults.ts";

const PREFILL = 128;
const DEFAULT_MODEL = "bench/models/sparsespec-tiny";

type Request =
  | { op: "init"; threads: number }
  | { op: "prefill" }
  | { op: "decode" }
  | { op: "build" };

async function hasWeights(dir: string): Promise<boolean> {
  for (const f of ["model.safetensors", "model.safetensors.index.json"]) {
    try {
      await Deno.stat(`${dir}/${f}`);
      return true;
    } catch { /* absent */ }
  }
  return false;
}

function benchConfig(): LlamaConfig {
  const extra = Deno.env.get("SPARSESPEC_BENCH_CONFIG");
  const base = llamaConfigJson(EMBEDDED_CONFIG);
  delete base.head_dim; // derived; would contradict overridden widths
  return parseLlamaConfig(
    { ...base, ...(extra ? JSON.parse(extra) : {}) },
    "SPARSESPEC_BENCH_CONFIG",
  );
}

// ---------------------------------------------------------------- worker side
function serveWorker(): void {
  let model: OrtCausalLM | undefined;
  let cache: KVCache | undefined;
  let prompt: number[] = [];
  let threads = 1;
  const scope = self as unknown as {
    onmessage: ((e: MessageEvent<Request>) => void) | null;
    postMessage(m: unknown): void;
  };
  scope.onmessage = async (e) => {
    try {
      const r = e.data;
      if (r.op === "init") {
        threads = r.threads;
        const dir = Deno.env.get("SPARSESPEC_BENCH_MODEL") ?? DEFAULT_MODEL;
        const useFolder = !Deno.env.get("SPARSESPEC_BENCH_CONFIG") && await hasWeights(dir);
        if (useFolder) model = await loadModelFolder(dir, { backend: "wasm", threads });
        else {
          const cfg = benchConfig();
          model = await OrtCausalLM.create(cfg, randomLlamaWeights(cfg, { seed: 1 }), {
            backend: "wasm",
            threads,
          });
        }
        const V = model.config.vocab_size;
        prompt = Array.from({ length: PREFILL }, (_, i) => (i * 7919 + 13) % V);
        cache = (await model.logits(prompt)).cache; // warm-up + the decode cache
        await model.logits([1], { cache });
        scope.postMessage({
          ok: true,
          source: useFolder ? dir : "random weights",
          config: model.config,
          runtime: model.runtime,
        });
      } else if (r.op === "prefill") {
        await model!.logits(prompt);
        scope.postMessage({ ok: true });
      } else if (r.op === "decode") {
        await model!.logits([prompt[5]], { cache });
        scope.postMessage({ ok: true });
      } else if (r.op === "build") {
        const bytes = buildLlamaGraph({ config: model!.config, weights: model!.weights });
        const h = await createSession(bytes, { backend: "wasm", threads });
        await h.release();
        scope.postMessage({ ok: true });
      }
    } catch (err) {
      scope.postMessage({ ok: false, error: String((err as Error)?.stack ?? err) });
    }
  };
}

// ---------------------------------------------------------------- main side
class BenchWorker {
  #w: Worker;
  #pending?: (m: { ok: boolean; error?: string }) => void;
  samples = new Map<string, number[]>();
  constructor(readonly threads: number) {
    this.#w = new Worker(new URL("?worker", import.meta.url).href, { type: "module" });
    this.#w.onmessage = (e) => this.#pending?.(e.data);
  }
  async call(req: Request): Promise<Record<string, unknown>> {
    flushSummaries(req.op);
    const t0 = performance.now();
    const reply = await new Promise<{ ok: boolean; error?: string }>((resolve) => {
      this.#pending = resolve;
      this.#w.postMessage(req);
    });
    const ms = performance.now() - t0;
    watchdog();
    if (!reply.ok) throw new Error(`worker (${this.threads} threads): ${reply.error}`);
    if (req.op !== "init") {
      const s = this.samples.get(req.op) ?? [];
      s.push(ms);
      this.samples.set(req.op, s);
    }
    return reply as Record<string, unknown>;
  }
  terminate() {
    this.#w.terminate();
  }
}

let workers: BenchWorker[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;
/** Workers keep a `deno run` process alive: stop them once the benches go idle. */
function watchdog() {
  if (timer !== undefined) clearTimeout(timer);
  timer = setTimeout(finish, 8000);
  Deno.unrefTimer(timer);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Deno.bench `[warmup, n]` per op (suggestions: Deno may run more for fast functions). */
const ITER = { prefill: [2, 20], decode: [5, 100], build: [1, 5] } as const;

const printed = new Set<string>();
/** Prints the summary line of every finished op (all ops but `running`). */
function flushSummaries(running?: string): void {
  for (const w of workers) {
    for (const [op, samples] of w.samples) {
      const key = `${w.threads}:${op}`;
      if (op === running || printed.has(key)) continue;
      printed.add(key);
      console.log(describe(w.threads, op, samples));
    }
  }
}

/** One summary line (median over all calls of an op, warm-up included). */
function describe(threads: number, op: string, samples: number[]): string {
  const m = median(samples);
  const what = op === "prefill"
    ? `prefill ${PREFILL} tokens: median ${m.toFixed(1)} ms = ${
      (PREFILL / m * 1000).toFixed(0)
    } tokens/s`
    : op === "decode"
    ? `decode 1 token @${PREFILL}: median ${m.toFixed(2)} ms = ${(1000 / m).toFixed(0)} tokens/s`
    : `session build: median ${m.toFixed(0)} ms`;
  return `[forward_bench] wasm ${threads} thread${threads > 1 ? "s" : ""}, ${what}`;
}

function finish() {
  for (const w of workers) w.terminate();
  workers = [];
}

if (new URL(import.meta.url).searchParams.has("worker")) {
  serveWorker();
} else {
  const graphCfg = benchConfig();
  const graphWeights = randomLlamaWeights(graphCfg, { seed: 2 });
  workers = [new BenchWorker(1), new BenchWorker(2)];
  const infos = await Promise.all(workers.map((w) => w.call({ op: "init", threads: w.threads })));
  const cfg = infos[0].config as LlamaConfig;
  const rt = infos[0].runtime as { buildSeconds: number };
  console.log(
    `forward_bench model: ${
      infos[0].source
    }; d=${cfg.hidden_size} layers=${cfg.num_hidden_layers} ` +
      `heads=${cfg.num_attention_heads}/${cfg.num_key_value_heads} ffn=${cfg.intermediate_size} ` +
      `vocab=${cfg.vocab_size}; ${(parameterCount(cfg) / 1e6).toFixed(2)} M params; ` +
      `first build ${rt.buildSeconds.toFixed(2)} s; threads ${
        infos.map((i) => (i.runtime as { threads: number }).threads)
      }`,
  );
  for (const w of workers) {
    const t = `wasm ${w.threads}t`;
    Deno.bench({
      name: `prefill ${PREFILL} tokens, ${t}`,
      group: "prefill",
      baseline: w.threads === 1,
      n: ITER.prefill[1],
      warmup: ITER.prefill[0],
      fn: async () => void await w.call({ op: "prefill" }),
    });
  }
  for (const w of workers) {
    Deno.bench({
      name: `decode 1 token after ${PREFILL} cached, wasm ${w.threads}t`,
      group: "decode",
      baseline: w.threads === 1,
      n: ITER.decode[1],
      warmup: ITER.decode[0],
      fn: async () => void await w.call({ op: "decode" }),
    });
  }
  for (const w of workers) {
    Deno.bench({
      name: `session build (graph + ORT session), wasm ${w.threads}t`,
      group: "build",
      baseline: w.threads === 1,
      n: ITER.build[1],
      warmup: ITER.build[0],
      fn: async () => void await w.call({ op: "build" }),
    });
  }
  Deno.bench({
    name: "buildLlamaGraph only (serialize ModelProto)",
    group: "build",
    n: 5,
    warmup: 1,
    fn: () => {
      flushSummaries();
      buildLlamaGraph({ config: graphCfg, weights: graphWeights });
    },
  });
  watchdog();
}
