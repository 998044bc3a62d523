import assert from "node:assert/strict";
import {
  adapterInfo,
  collectHostProvenance,
  cpuModel,
  gitInfo,
  packageVersion,
  probeGpuAdapter,
  runProvenance,
} from "../src/results/provenance.ts";
import { Provenance } from "../src/results/schema.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

Deno.test("GPU probe: absent WebGPU gives null", async () => {
  assert.equal(await probeGpuAdapter({ gpu: {} }), null);
  assert.equal(
    await probeGpuAdapter({ gpu: { requestAdapter: () => Promise.resolve(null) } }),
    null,
  );
  assert.equal(
    await probeGpuAdapter({ gpu: { requestAdapter: () => Promise.reject(new Error("no")) } }),
    null,
  );
  assert.equal(
    await probeGpuAdapter({
      gpu: {
        requestAdapter: () => {
          throw new Error("sync");
        },
      },
    }),
    null,
  );
});

Deno.test("GPU probe: a request that never answers times out to null", async () => {
  const t0 = performance.now();
  const info = await probeGpuAdapter({
    timeoutMs: 50,
    gpu: { requestAdapter: () => new Promise(() => {}) },
  });
  assert.equal(info, null);
  assert.ok(performance.now() - t0 < 5000);
});

Deno.test("GPU probe: adapter info and isFallbackAdapter from either place", async () => {
  const info = await probeGpuAdapter({
    gpu: {
      requestAdapter: () =>
        Promise.resolve({
          info: { vendor: "acme", architecture: "rdna", device: "7", description: "Acme GPU" },
          isFallbackAdapter: false,
        }),
    },
  });
  assert.deepEqual(info, {
    vendor: "acme",
    architecture: "rdna",
    device: "7",
    description: "Acme GPU",
    isFallbackAdapter: false,
  });
  assert.equal(
    adapterInfo({ info: { description: "llvmpipe", isFallbackAdapter: true } }).isFallbackAdapter,
    true,
  );
});

Deno.test("cpu model, package versions and git degrade to null", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/cpuinfo`, "processor\t: 0\nmodel name\t: Fancy CPU 9000\n");
    assert.equal(await cpuModel(`${dir}/cpuinfo`), "Fancy CPU 9000");
    assert.equal(await cpuModel(`${dir}/missing`), null);
    assert.equal(await packageVersion(dir, "onnxruntime-web"), null);
    assert.deepEqual(await gitInfo(`${dir}`).then((g) => g.gitCommit), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const zod = JSON.parse(await Deno.readTextFile(`${ROOT}/node_modules/zod/package.json`));
  assert.equal(await packageVersion(ROOT, "zod"), zod.version);
});

Deno.test("collected host provenance plus run facts validates as Provenance", async () => {
  const host = await collectHostProvenance({ root: ROOT, probeGpu: false });
  assert.equal(host.deno, Deno.version.deno);
  assert.equal(host.gpuAdapter, null);
  assert.ok(host.cpuCount >= 1);
  const provenance = runProvenance(host, {
    seed: 3,
    threads: 2,
    executionProvider: "wasm",
    providerReason: "test",
    date: new Date("2025-02-03T04:05:06.000Z"),
  });
  const parsed = Provenance.parse(provenance);
  assert.equal(parsed.seed, 3);
  assert.equal(parsed.date, "2025-02-03T04:05:06.000Z");
});
