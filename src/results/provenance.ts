/**
 * Provenance: what produced a result. Host facts (git, engine versions, CPU, GPU adapter) are
 * collected once per process by {@link collectHostProvenance}; {@link runProvenance} adds the
 * per-run facts (seed, threads, execution provider actually used and why, date).
 *
 * Every probe degrades to `null` instead of throwing: no git, no node_modules, no /proc, no
 * WebGPU, or an adapter request that never answers (bounded by a timeout).
 *
 * @module
 */

import { FORMAT_VERSION } from "../spec/canonical.ts";
import type { GpuAdapterInfo, Provenance } from "./schema.ts";

/** Facts about the machine and checkout, shared by every run of a process. */
export interface HostProvenance {
  /** HEAD commit, or null when not in a git checkout (or no commit yet). */
  gitCommit: string | null;
  /** Whether `git status --porcelain` lists anything; null without git. */
  gitDirty: boolean | null;
  /** Deno version. */
  deno: string;
  /** V8 version. */
  v8: string;
  /** TypeScript version bundled with Deno. */
  typescript: string;
  /** Installed onnxruntime-web version, or null. */
  onnxruntimeWeb: string | null;
  /** Installed @tensorflow/tfjs version, or null. */
  tfjs: string | null;
  /** WebGPU adapter info, or null when there is no adapter. */
  gpuAdapter: GpuAdapterInfo | null;
  /** CPU model name from /proc/cpuinfo, or null. */
  cpuModel: string | null;
  /** Logical CPUs. */
  cpuCount: number;
  /** OS, release and architecture. */
  os: string;
}

async function runGit(root: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args,
      cwd: root,
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

/** Reads HEAD and the dirty flag with `git rev-parse HEAD` and `git status --porcelain`. */
export async function gitInfo(
  root: string,
): Promise<{ gitCommit: string | null; gitDirty: boolean | null }> {
  const head = await runGit(root, ["rev-parse", "--verify", "--quiet", "HEAD"]);
  const status = await runGit(root, ["status", "--porcelain"]);
  return {
    gitCommit: head?.trim() || null,
    gitDirty: status === null ? null : status.trim().length > 0,
  };
}

/** Version of an installed npm package (`node_modules/<name>/package.json`), or null. */
export async function packageVersion(root: string, name: string): Promise<string | null> {
  try {
    const text = await Deno.readTextFile(`${root}/node_modules/${name}/package.json`);
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === "string" ? version : null;
  } catch {
    return null;
  }
}

/** CPU model name from `/proc/cpuinfo` (`model name`, or `Hardware`/`Processor` on ARM), or null. */
export async function cpuModel(cpuinfoPath = "/proc/cpuinfo"): Promise<string | null> {
  try {
    const text = await Deno.readTextFile(cpuinfoPath);
    const match = /^(?:model name|Hardware|Processor)\s*:\s*(.+)$/m.exec(text);
    return match ? match[1].trim() : null;
  } catch {
    return null;
  }
}

interface AdapterLike {
  info?: Partial<Record<keyof GpuAdapterInfo, unknown>>;
  isFallbackAdapter?: unknown;
}

/** Turns a WebGPU adapter (any shape) into {@link GpuAdapterInfo}. */
export function adapterInfo(adapter: AdapterLike): GpuAdapterInfo {
  const info = adapter.info ?? {};
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    vendor: text(info.vendor),
    architecture: text(info.architecture),
    device: text(info.device),
    description: text(info.description),
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false),
  };
}

/**
 * Asks `navigator.gpu` for an adapter. Returns null when WebGPU is absent, the request fails, or
 * no answer comes within `timeoutMs`. Never throws, never leaves a timer running.
 */
export async function probeGpuAdapter(
  options: { timeoutMs?: number; gpu?: unknown } = {},
): Promise<GpuAdapterInfo | null> {
  const gpu = (options.gpu ?? (globalThis.navigator as { gpu?: unknown } | undefined)?.gpu) as
    | { requestAdapter?: () => Promise<AdapterLike | null> }
    | undefined;
  if (!gpu || typeof gpu.requestAdapter !== "function") return null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), options.timeoutMs ?? 5000);
    });
    const adapter = await Promise.race([
      Promise.resolve().then(() => gpu.requestAdapter!()).catch(() => null),
      timeout,
    ]);
    return adapter ? adapterInfo(adapter) : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

function osDescription(): string {
  let release = "";
  try {
    release = Deno.osRelease();
  } catch {
    release = "";
  }
  return [Deno.build.os, release, Deno.build.arch].filter((s) => s !== "").join(" ");
}

/** Options of {@link collectHostProvenance}. */
export interface HostProvenanceOptions {
  /** Repository root (git and node_modules are read there). Default: the current directory. */
  root?: string;
  /** Probe WebGPU (default true). */
  probeGpu?: boolean;
  /** Give up on the adapter request after this many milliseconds (default 5000). */
  gpuTimeoutMs?: number;
}

/** Collects the host facts once (git, versions, CPU, GPU adapter). Never throws. */
export async function collectHostProvenance(
  options: HostProvenanceOptions = {},
): Promise<HostProvenance> {
  const root = options.root ?? Deno.cwd();
  const [git, ort, tfjs, cpu, gpu] = await Promise.all([
    gitInfo(root),
    packageVersion(root, "onnxruntime-web"),
    packageVersion(root, "@tensorflow/tfjs"),
    cpuModel(),
    options.probeGpu === false
      ? Promise.resolve(null)
      : probeGpuAdapter({ timeoutMs: options.gpuTimeoutMs }),
  ]);
  return {
    ...git,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    onnxruntimeWeb: ort,
    tfjs,
    gpuAdapter: gpu,
    cpuModel: cpu,
    cpuCount: navigator.hardwareConcurrency ?? 1,
    os: osDescription(),
  };
}

/** Per-run facts added to the host provenance. */
export interface RunProvenanceFacts {
  /** The run's seed. */
  seed: number;
  /** Threads the run was given. */
  threads: number;
  /** Execution provider actually used (from the executor), null if it reported none. */
  executionProvider?: string | null;
  /** Why that provider (e.g. "auto: adapter is a fallback (llvmpipe), using wasm"). */
  providerReason?: string | null;
  /** When the result was produced. */
  date: Date;
}

/** Combines host and per-run facts into a result's provenance. */
export function runProvenance(host: HostProvenance, facts: RunProvenanceFacts): Provenance {
  return {
    ...host,
    executionProvider: facts.executionProvider ?? null,
    providerReason: facts.providerReason ?? null,
    threads: facts.threads,
    seed: facts.seed,
    date: facts.date.toISOString(),
    formatVersion: FORMAT_VERSION,
  };
}
