/**
 * One wrapper over onnxruntime-web sessions with explicit execution-provider selection:
 *
 * - `"wasm"`: the node build (`import "onnxruntime-web"`), the only build that runs
 *   multi-threaded under Deno; `ort.env.wasm.numThreads` is set explicitly.
 * - `"webgpu"`: the `onnxruntime-web/webgpu` build with `executionProviders: ["webgpu"]`.
 * - `"auto"`: WebGPU when `navigator.gpu` yields an adapter that is not a fallback (software)
 *   adapter, else wasm.
 *
 * The result records the provider actually used and why, for provenance.
 *
 * @module
 */
import type * as OrtTypes from "onnxruntime-web";

/** The onnxruntime-web module namespace (node build or webgpu build; same API). */
export type Ort = typeof OrtTypes;

/** An onnxruntime-web inference session. */
export type OrtSession = OrtTypes.InferenceSession;

/** An onnxruntime-web tensor. */
export type OrtTensor = OrtTypes.Tensor;

/** Requested backend. */
export type Backend = "wasm" | "webgpu" | "auto";

/** Provider a session actually runs on. */
export type Provider = "wasm" | "webgpu";

/** What `navigator.gpu` reported (for provenance). */
export interface GpuAdapterReport {
  /** Adapter vendor string (may be empty). */
  vendor: string;
  /** Adapter architecture string (may be empty). */
  architecture: string;
  /** Device string (may be empty). */
  device: string;
  /** Human-readable description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** True for software / fallback adapters (e.g. llvmpipe). */
  isFallbackAdapter: boolean;
}

/** Options for {@link createSession}. */
export interface SessionOptions {
  /** Backend request (default "wasm"). */
  backend?: Backend;
  /**
   * wasm threads (default 1). The wasm runtime is initialised once per process with this
   * count; asking for a different count later in the same process is an error.
   */
  threads?: number;
  /** ORT graph optimization level (default "all"). */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
}

/** A created session and the provenance of its provider choice. */
export interface SessionHandle {
  /** The session. Call {@link SessionHandle.release} when done. */
  session: OrtSession;
  /** The ORT module the session belongs to: build input tensors with `ort.Tensor`. */
  ort: Ort;
  /** Provider actually used. */
  provider: Provider;
  /** Why this provider was chosen. */
  reason: string;
  /** wasm thread count in effect for this process's ORT build (1 for the webgpu build). */
  threads: number;
  /** GPU adapter info when `navigator.gpu` was probed and gave an adapter. */
  adapter?: GpuAdapterReport;
  /** Releases the session (idempotent). */
  release(): Promise<void>;
}

let wasmOrt: Ort | undefined;
let wasmThreads: number | undefined;
let gpuOrt: Ort | undefined;

async function loadWasmOrt(threads: number): Promise<Ort> {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`session: threads must be a positive integer, got ${threads}`);
  }
  if (wasmOrt) {
    if (wasmThreads !== threads) {
      throw new Error(
        `session: the wasm runtime of this process was initialised with ${wasmThreads} thread(s); ` +
          `${threads} requested. Fix: use one thread count per process (run separate processes).`,
      );
    }
    return wasmOrt;
  }
  const ort = await import("onnxruntime-web") as Ort;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = "error";
  wasmOrt = ort;
  wasmThreads = threads;
  return ort;
}

async function loadGpuOrt(): Promise<Ort> {
  if (gpuOrt) return gpuOrt;
  const ort = await import("onnxruntime-web/webgpu") as Ort;
  ort.env.wasm.numThreads = 1; // the webgpu bundle cannot start wasm threads under Deno
  ort.env.logLevel = "error";
  gpuOrt = ort;
  return ort;
}

/** Minimal structural type of `navigator.gpu` (avoids depending on lib.dom's WebGPU types). */
interface GpuLike {
  requestAdapter(): Promise<
    | {
      info?: Partial<GpuAdapterReport>;
      isFallbackAdapter?: boolean;
    }
    | null
  >;
}

/**
 * Asks `navigator.gpu` for an adapter. Returns `undefined` with a reason when there is no
 * WebGPU API or no adapter.
 */
export async function probeGpuAdapter(): Promise<{ adapter?: GpuAdapterReport; reason: string }> {
  const gpu = (globalThis.navigator as unknown as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return { reason: "navigator.gpu is not available in this runtime" };
  let a;
  try {
    a = await gpu.requestAdapter();
  } catch (e) {
    return { reason: `navigator.gpu.requestAdapter() failed: ${(e as Error).message}` };
  }
  if (!a) return { reason: "navigator.gpu.requestAdapter() returned no adapter" };
  const info = a.info ?? {};
  const adapter: GpuAdapterReport = {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    description: info.description ?? "",
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? a.isFallbackAdapter ?? false),
  };
  const name = adapter.description || adapter.device || adapter.vendor || "unnamed";
  return { adapter, reason: `adapter "${name}"` };
}

/** Decides the provider for a backend request (probing the GPU for "auto"). */
export async function chooseProvider(
  backend: Backend,
): Promise<{ provider: Provider; reason: string; adapter?: GpuAdapterReport }> {
  if (backend === "wasm") return { provider: "wasm", reason: "backend wasm requested" };
  const probe = await probeGpuAdapter();
  if (backend === "webgpu") {
    if (!probe.adapter) {
      throw new Error(
        `session: backend webgpu requested but ${probe.reason}. Fix: use wasm or auto.`,
      );
    }
    const fb = probe.adapter.isFallbackAdapter ? " (a fallback adapter)" : "";
    return {
      provider: "webgpu",
      reason: `backend webgpu requested; ${probe.reason}${fb}`,
      adapter: probe.adapter,
    };
  }
  if (!probe.adapter) return { provider: "wasm", reason: `auto: ${probe.reason}; using wasm` };
  if (probe.adapter.isFallbackAdapter) {
    return {
      provider: "wasm",
      reason: `auto: ${probe.reason} is a fallback (software) adapter; using wasm`,
      adapter: probe.adapter,
    };
  }
  return {
    provider: "webgpu",
    reason: `auto: ${probe.reason} is a hardware adapter; using webgpu`,
    adapter: probe.adapter,
  };
}

/**
 * Creates an ORT session from serialized model bytes on the requested backend.
 *
 * @throws Error when the backend cannot be used (e.g. webgpu without an adapter)
 */
export async function createSession(
  model: Uint8Array,
  opts: SessionOptions = {},
): Promise<SessionHandle> {
  const choice = await chooseProvider(opts.backend ?? "wasm");
  return await createSessionOn(model, choice, opts);
}

/**
 * Like {@link createSession} but with the provider already chosen (to probe once and build
 * many sessions).
 */
export async function createSessionOn(
  model: Uint8Array,
  choice: { provider: Provider; reason: string; adapter?: GpuAdapterReport },
  opts: SessionOptions = {},
): Promise<SessionHandle> {
  const threads = choice.provider === "wasm" ? opts.threads ?? 1 : 1;
  const ort = choice.provider === "wasm" ? await loadWasmOrt(threads) : await loadGpuOrt();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: [choice.provider],
    graphOptimizationLevel: opts.graphOptimizationLevel ?? "all",
    logSeverityLevel: 3, // errors only (node placement notices are not actionable)
  });
  let released = false;
  return {
    session,
    ort,
    provider: choice.provider,
    reason: choice.reason,
    threads,
    adapter: choice.adapter,
    async release() {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}
