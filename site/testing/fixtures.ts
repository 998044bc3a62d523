/**
 * Fixture results for the site and regression tests (and for looking at the site before real
 * results exist): a suite planned by the real planner (real ids, labels and normalised specs)
 * with synthetic, plausible, deterministic metrics. Every result passes the result schema.
 *
 * ```ts
 * const files = await writeFixtureReports("/tmp/reports"); // /tmp/reports/fixture/<id>.json
 * ```
 *
 * @module
 */

import { parseSuiteValue } from "../../src/spec/load.ts";
import { planSuite, type Run } from "../../src/spec/plan.ts";
import type { RunResult } from "../../src/results/schema.ts";
import { validateResult } from "../../src/results/store.ts";

/** The suite the fixtures are planned from. */
export const FIXTURE_SUITE = {
  name: "fixture",
  description: "Synthetic results for tests and previews.",
  eval: {
    ppl: { sets: ["test-id", "test-ood"], seqlen: 256 },
    zeroshot: { tasks: ["lastword", "nextsent4", "wncloze4", "swappairs"], limit: 200 },
  },
  models: [{
    name: "sparsespec-tiny",
    path: "bench/models/sparsespec-tiny",
    drafters: {
      medusa: "bench/models/sparsespec-tiny/medusa",
      amphista: "bench/models/sparsespec-tiny/amphista",
    },
  }],
  prune: [
    { method: "dense", pattern: "dense" },
    { method: ["magnitude", "wanda", "sparsegpt", "sds"], pattern: ["50%", "2:4"] },
  ],
  decode: [
    { drafter: "ar" },
    {
      drafter: ["medusa", "amphista"],
      tree: [{ type: "chain", depth: 3 }, { type: "medusa", size: 16 }],
      amphista: { adaptLayers: 1, bidirectionalLayers: 1 },
    },
  ],
  repeats: 3,
  warmup: 1,
} as const;

const HOST = {
  gitCommit: "0123456789abcdef0123456789abcdef01234567",
  gitDirty: false,
  deno: "2.9.6",
  v8: "15.0.0",
  typescript: "6.0.3",
  onnxruntimeWeb: "1.30.0",
  tfjs: "4.22.0",
  executionProvider: "wasm",
  providerReason: "backend auto: the only adapter is a fallback (llvmpipe)",
  gpuAdapter: {
    vendor: "mesa",
    architecture: "",
    device: "llvmpipe",
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
    isFallbackAdapter: true,
  },
  cpuModel: "AMD EPYC (fixture)",
  cpuCount: 2,
  threads: 2,
  os: "linux 6.1 x86_64",
  seed: 0,
  formatVersion: 1,
};

const PPL_FACTOR: Record<string, number> = {
  dense: 1,
  magnitude: 2.4,
  wanda: 1.31,
  sparsegpt: 1.22,
  sds: 1.14,
};

function wilson(correct: number, n: number): [number, number] {
  const z = 1.959963984540054;
  const p = correct / n;
  const denom = 1 + z * z / n;
  const centre = (p + z * z / (2 * n)) / denom;
  const half = z * Math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

function zeroshot(quality: number) {
  const base: Record<string, number> = {
    lastword: 0.31,
    nextsent4: 0.42,
    wncloze4: 0.38,
    swappairs: 0.71,
  };
  const n = 200;
  return Object.fromEntries(
    Object.entries(base).map(([task, acc]) => {
      const correct = Math.round(n * acc * quality);
      const correctNorm = Math.min(n, correct + 6);
      return [task, {
        acc: correct / n,
        acc_norm: correctNorm / n,
        n,
        acc_ci: wilson(correct, n),
        acc_norm_ci: wilson(correctNorm, n),
      }];
    }),
  );
}

function histogram(scale: number, zeroShare: number): { edges: number[]; counts: number[] } {
  const bins = 24;
  const edges = Array.from({ length: bins + 1 }, (_, i) => -0.24 + (0.48 * i) / bins);
  const counts = edges.slice(0, -1).map((e) => {
    const c = e + 0.01;
    return Math.round(4000 * Math.exp(-(c * c) / (2 * scale * scale)));
  });
  counts[bins / 2] += Math.round(zeroShare * 40000);
  return { edges, counts };
}

function pruneMetrics(
  run: Run,
): {
  metrics: Record<string, unknown>;
  artifacts?: Record<string, unknown>;
  pruneSeconds?: number;
} {
  const spec = run.spec;
  if (spec.kind !== "prune") throw new Error("not a prune run");
  const nm = spec.pattern.type === "nm";
  const factor = PPL_FACTOR[spec.method] * (nm ? 1.35 : 1);
  const ppl = (base: number, windows: number) => {
    const value = base * factor;
    return { ppl: value, nll: Math.log(value), windows, tokens: windows * 256, seqlen: 256 };
  };
  const sparsity = spec.pattern.type === "dense"
    ? 0
    : 0.5 + (spec.method === "sparsegpt" ? 0.0004 : 0);
  const metrics: Record<string, unknown> = {
    ppl: { "test-id": ppl(41.7, 52), "test-ood": ppl(96.2, 61) },
    zeroshot: zeroshot(1 / Math.sqrt(factor)),
  };
  if (spec.method !== "dense") metrics.sparsity = sparsity;
  const out: {
    metrics: Record<string, unknown>;
    artifacts?: Record<string, unknown>;
    pruneSeconds?: number;
  } = {
    metrics,
  };
  if (spec.method !== "dense") {
    out.pruneSeconds = { magnitude: 0.4, wanda: 3.1, sparsegpt: 21.5, sds: 96.3 }[spec.method] ?? 1;
  }
  if (spec.method === "sds") {
    out.artifacts = {
      weightHistograms: {
        "layers.0.mlp.down_proj": {
          dense: histogram(0.08, 0),
          sparse: histogram(0.09, 0.5),
          redense: histogram(0.07, 0.05),
        },
      },
    };
  }
  return out;
}

function spreadOf(values: number[]) {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { mean, std, min: Math.min(...values), max: Math.max(...values), n };
}

function decodeMetrics(run: Run): { metrics: Record<string, unknown> } {
  const spec = run.spec;
  if (spec.kind !== "decode") throw new Error("not a decode run");
  const arTps = 61.5;
  if (spec.drafter === "ar") {
    return {
      metrics: {
        tau: 1,
        speedup: 1,
        lossless: true,
        speedupSpread: spreadOf([1, 1, 1]),
        tokensPerSecond: spreadOf([61.2, 61.5, 61.8]),
      },
    };
  }
  const tree = spec.tree!;
  const depth = tree.type === "chain" ? tree.depth : 4;
  const perDepth = spec.drafter === "amphista" ? [0.74, 0.55, 0.41, 0.3] : [0.68, 0.47, 0.33, 0.22];
  const rates = perDepth.slice(0, depth).map((r) => r * (tree.type === "medusa" ? 1.12 : 1));
  const reachedShares = [1];
  for (const r of rates) reachedShares.push(reachedShares.at(-1)! * r);
  const tau = reachedShares.reduce((s, v) => s + v, 0);
  const overhead = tree.type === "medusa" ? 1.45 : 1.2;
  const mean = tau / overhead;
  const perRepeat = [mean * 0.97, mean, mean * 1.03];
  const steps = 1000;
  const histogramBins = reachedShares.map((share, i) => {
    const next = reachedShares[i + 1] ?? 0;
    const count = Math.round(steps * (share - next));
    return { length: i + 1, count, fraction: count / steps };
  });
  return {
    metrics: {
      tau,
      speedup: mean,
      lossless: true,
      speedupSpread: { ...spreadOf(perRepeat), perRepeat },
      tokensPerSecond: spreadOf(perRepeat.map((s) => s * arTps)),
      perDepthAcceptance: rates.map((rate, i) => ({
        depth: i + 1,
        reached: Math.round(steps * reachedShares[i]),
        accepted: Math.round(steps * reachedShares[i + 1]),
        rate,
      })),
      acceptLengthHistogram: histogramBins,
      overhead,
      perCategory: Object.fromEntries(
        ["sotu", "news", "fiction", "learned"].map((c, i) => [c, {
          prompts: 10,
          tau: tau * (1.08 - 0.05 * i),
          speedup: { ...spreadOf(perRepeat.map((s) => s * (1.08 - 0.05 * i))) },
        }]),
      ),
    },
  };
}

/** Builds the fixture results (validated), in plan order. */
export function fixtureResults(): RunResult[] {
  const suite = parseSuiteValue(structuredClone(FIXTURE_SUITE), "fixture.json");
  const start = Date.parse("2025-12-04T18:00:00Z");
  return planSuite(suite).map((run, i) => {
    const made: {
      metrics: Record<string, unknown>;
      artifacts?: Record<string, unknown>;
      pruneSeconds?: number;
    } = run.kind === "prune" ? pruneMetrics(run) : decodeMetrics(run);
    const begin = new Date(start + i * 60_000);
    const seconds = 12 + i * 3;
    const end = new Date(begin.getTime() + seconds * 1000);
    const phases: Record<string, number> = { load: 0.8 };
    if (made.pruneSeconds !== undefined) phases.prune = made.pruneSeconds;
    const raw = {
      formatVersion: 1,
      id: run.id,
      suite: suite.name,
      label: run.label,
      kind: run.kind,
      spec: run.spec,
      status: "ok",
      metrics: made.metrics,
      timings: {
        startedAt: begin.toISOString(),
        finishedAt: end.toISOString(),
        wallSeconds: seconds,
        phases,
      },
      provenance: { ...HOST, date: end.toISOString() },
      ...(made.artifacts ? { artifacts: made.artifacts } : {}),
    };
    return validateResult(raw, `fixture:${run.label}`);
  });
}

/** A failed result (for the "failed runs" table), with a valid shape. */
export function failedFixture(): RunResult {
  const ok = fixtureResults().find((r) => r.label === "wanda-2:4")!;
  return validateResult(
    {
      ...ok,
      id: "f".repeat(16),
      label: "wanda-2:4-broken",
      status: "failed",
      error: { message: "Cholesky failed: matrix not positive definite" },
      metrics: {},
      artifacts: undefined,
    },
    "fixture:failed",
  );
}

/**
 * Writes results as `<dir>/<suite>/<id>.json` (default: {@link fixtureResults}); returns the
 * files written.
 */
export async function writeFixtureReports(
  dir: string,
  results: readonly RunResult[] = fixtureResults(),
): Promise<string[]> {
  const files: string[] = [];
  for (const result of results) {
    const folder = `${dir}/${result.suite}`;
    await Deno.mkdir(folder, { recursive: true });
    const file = `${folder}/${result.id}.json`;
    await Deno.writeTextFile(file, `${JSON.stringify(result, null, 2)}\n`);
    files.push(file);
  }
  return files;
}
