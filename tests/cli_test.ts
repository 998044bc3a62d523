import assert from "node:assert/strict";
import { type CliDeps, main, MissingModuleError, type PrepareFn } from "../src/cli.ts";
import type { ExecutorLoad } from "../src/executors.ts";
import type { Executor } from "../src/results/executor.ts";
import type { HostProvenance } from "../src/results/provenance.ts";
import { ResultStore } from "../src/results/store.ts";
import { loadSpec } from "../src/spec/load.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

const HOST: HostProvenance = {
  gitCommit: null,
  gitDirty: null,
  deno: "2.9.6",
  v8: "15",
  typescript: "6",
  onnxruntimeWeb: null,
  tfjs: null,
  gpuAdapter: null,
  cpuModel: null,
  cpuCount: 2,
  os: "linux",
};

const SPEC = {
  name: "clitest",
  eval: { ppl: { sets: ["test-id"] }, zeroshot: { tasks: [] } },
  prune: [{ method: ["dense", "wanda"], pattern: "50%" }],
  decode: [{ drafter: "ar" }],
};

let pplFor = (method: string): number => (method === "dense" ? 20 : 24);

const prune: Executor<"prune"> = (run) => {
  const ppl = pplFor(run.spec.method);
  return Promise.resolve({
    metrics: {
      ppl: { "test-id": { ppl, nll: Math.log(ppl), windows: 3, tokens: 768, seqlen: 256 } },
    },
    providerUsed: "wasm",
  });
};
const decode: Executor<"decode"> = () =>
  Promise.resolve({ metrics: { tau: 1, speedup: 1, lossless: true } });

interface Harness {
  dir: string;
  spec: string;
  out: string;
  stdout: string[];
  stderr: string[];
  prepared: string[];
  run(args: string[], overrides?: Partial<CliDeps>): Promise<number>;
}

async function withCli(fn: (h: Harness) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const h: Harness = {
    dir,
    spec: `${dir}/spec.json`,
    out: `${dir}/runs`,
    stdout: [],
    stderr: [],
    prepared: [],
    run(args, overrides = {}) {
      h.stdout.length = 0;
      h.stderr.length = 0;
      const prepare: PrepareFn = ({ root }) => {
        h.prepared.push(root);
        return Promise.resolve({
          splits: { "test-id": { sha256: "ab".repeat(32), bytes: 1234 } },
          tokenizerPath: `${root}/bench/data/tokenizer.json`,
        });
      };
      return main(args, {
        stdout: (t) => h.stdout.push(t),
        stderr: (t) => h.stderr.push(t),
        root: dir,
        progressBar: false,
        loadExecutors: (): Promise<ExecutorLoad> =>
          Promise.resolve({ executors: { prune, decode }, unavailable: [] }),
        prepare,
        host: () => Promise.resolve(HOST),
        importModule: (path) => Promise.reject(new MissingModuleError(path, "not built yet")),
        ...overrides,
      });
    },
  };
  await Deno.writeTextFile(h.spec, JSON.stringify(SPEC));
  try {
    await fn(h);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const out = (h: Harness) => h.stdout.join("");
const err = (h: Harness) => h.stderr.join("");

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("--help on the program and each command exits 0", async () => {
  await withCli(async (h) => {
    assert.equal(await h.run(["--help"]), 0);
    for (const c of ["bench", "validate", "compare", "site", "data", "regress"]) {
      assert.ok(out(h).includes(c), c);
    }
    assert.equal(await h.run(["bench", "--help"]), 0);
    for (const flag of ["--filter", "--backend", "--force", "--dry-run", "--out"]) {
      assert.ok(out(h).includes(flag), flag);
    }
    for (const c of ["validate", "compare", "site", "data", "regress"]) {
      assert.equal(await h.run([c, "--help"]), 0, c);
      assert.match(out(h), new RegExp(`Usage: sparsespec ${c}`));
    }
  });
});

Deno.test("bad flags and unknown commands exit 2", async () => {
  await withCli(async (h) => {
    assert.equal(await h.run(["bench", h.spec, "--backend", "cuda"]), 2);
    assert.match(err(h), /Allowed choices are webgpu, wasm, auto/);
    assert.equal(await h.run(["bench", "--bogus"]), 2);
    assert.match(err(h), /unknown option '--bogus'/);
    assert.equal(await h.run(["frobnicate"]), 2);
    assert.equal(await h.run(["validate"]), 2);
    assert.equal(await h.run(["bench", h.spec, "--filter", "/(/"]), 2);
    assert.match(err(h), /not a valid regular expression/);
  });
});

Deno.test("validate: shipped specs pass, a broken one exits 2 naming file and field", async () => {
  await withCli(async (h) => {
    const shipped = [`${ROOT}/bench/specs/default.json`, `${ROOT}/bench/specs/ci.json`];
    assert.equal(await h.run(["validate", ...shipped]), 0);
    assert.match(out(h), /ok .*default\.json: suite "default", \d+ runs \(\d+ prune, \d+ decode\)/);
    const broken = `${h.dir}/broken.json`;
    await Deno.writeTextFile(
      broken,
      JSON.stringify({ name: "b", prune: [{ method: "sparsegtp", pattern: "2:4" }] }),
    );
    assert.equal(await h.run(["validate", h.spec, broken]), 2);
    assert.equal(
      err(h).trim(),
      `${broken}: prune[0].method: unknown pruning method "sparsegtp"; known pruning methods: ` +
        `"dense", "magnitude", "wanda", "sparsegpt", "sds"`,
    );
    await Deno.writeTextFile(broken, '{"name": "b",\n "seed": }');
    assert.equal(await h.run(["validate", broken]), 2);
    assert.match(err(h), /broken\.json: root: invalid JSON at line 2, column \d+/);
  });
});

Deno.test("bench: nothing is written or prepared for a spec that fails validation", async () => {
  await withCli(async (h) => {
    const broken = `${h.dir}/broken.json`;
    await Deno.writeTextFile(broken, JSON.stringify({ name: "b", prune: [{ method: "x" }] }));
    assert.equal(await h.run(["bench", h.spec, broken, "--out", h.out]), 2);
    assert.match(err(h), /broken\.json: prune\[0\]\.method: unknown pruning method "x"/);
    assert.equal(await exists(h.out), false);
    assert.deepEqual(h.prepared, []);
  });
});

Deno.test("bench: dry run prints the plan, runs, then shows cached", async () => {
  await withCli(async (h) => {
    const { runs } = await loadSpec(h.spec);
    assert.equal(await h.run(["bench", h.spec, "--out", h.out, "--dry-run"]), 0);
    assert.deepEqual(h.prepared, []);
    assert.equal(await exists(h.out), false);
    const plan = out(h);
    assert.match(plan, /suite "clitest" .*: 3 of 3 runs selected/);
    for (const run of runs) {
      assert.match(plan, new RegExp(`${run.id}\\s+${run.label}\\s+${run.kind}\\s+pending`));
    }

    assert.equal(await h.run(["bench", h.spec, "--out", h.out]), 0);
    assert.deepEqual(h.prepared, [h.dir]);
    assert.match(out(h), /suite "clitest": 3 ok \(0 cached\), 0 failed, 3 runs/);
    assert.match(err(h), /\[1\/3\] ok {6}dense/);
    const listing = await new ResultStore(h.out).list("clitest");
    assert.equal(listing.results.length, 3);
    assert.equal(listing.errors.length, 0);

    assert.equal(await h.run(["bench", h.spec, "--out", h.out, "--dry-run"]), 0);
    assert.match(out(h), new RegExp(`${runs[0].id}\\s+dense\\s+prune\\s+cached`));
    assert.equal(await h.run(["bench", h.spec, "--out", h.out]), 0);
    assert.match(out(h), /3 ok \(3 cached\)/);
    assert.equal(await h.run(["bench", h.spec, "--out", h.out, "--force", "--filter", "dense"]), 0);
    assert.match(out(h), /1 ok \(0 cached\), 0 failed, 1 run /);
  });
});

Deno.test("bench: --backend overrides the spec and changes run ids", async () => {
  await withCli(async (h) => {
    assert.equal(await h.run(["bench", h.spec, "--out", h.out, "--backend", "wasm"]), 0);
    const { results } = await new ResultStore(h.out).list("clitest");
    assert.ok(results.every((r) => r.result.spec.runtime.backend === "wasm"));
    const { runs } = await loadSpec(h.spec);
    assert.ok(results.every((r) => !runs.some((run) => run.id === r.result.id)));
  });
});

Deno.test("bench: a failing run exits 1 and is listed; others still run", async () => {
  await withCli(async (h) => {
    const failing: Executor<"prune"> = (run, ctx) =>
      run.spec.method === "wanda" ? Promise.reject(new Error("out of memory")) : prune(run, ctx);
    const code = await h.run(["bench", h.spec, "--out", h.out], {
      loadExecutors: () =>
        Promise.resolve({ executors: { prune: failing, decode }, unavailable: [] }),
    });
    assert.equal(code, 1);
    assert.match(out(h), /2 ok \(0 cached\), 1 failed/);
    assert.match(out(h), /FAILED wanda-50% \([0-9a-f]{16}\): out of memory/);
    const { results } = await new ResultStore(h.out).list("clitest");
    assert.equal(results.filter((r) => r.result.status === "failed").length, 1);
  });
});

Deno.test("bench: kinds without an executor are not planned, and said so", async () => {
  await withCli(async (h) => {
    const code = await h.run(["bench", h.spec, "--out", h.out], {
      loadExecutors: () =>
        Promise.resolve({
          executors: { prune },
          unavailable: [{
            kind: "decode",
            module: "./decode/executor.ts",
            reason: "./decode/executor.ts does not exist yet",
          }],
        }),
    });
    assert.equal(code, 0);
    assert.match(
      err(h),
      /not planning 1 decode run: no executor for kind "decode" yet \(\.\/decode\/executor\.ts does not exist yet\)/,
    );
    const { results } = await new ResultStore(h.out).list("clitest");
    assert.deepEqual(results.map((r) => r.result.kind).sort(), ["prune", "prune"]);
  });
});

Deno.test("bench: a failing data step exits 1 before any run", async () => {
  await withCli(async (h) => {
    const code = await h.run(["bench", h.spec, "--out", h.out], {
      prepare: () => Promise.reject(new Error("split test-id checksum mismatch")),
    });
    assert.equal(code, 1);
    assert.match(err(h), /data preparation failed: split test-id checksum mismatch/);
    assert.equal(await exists(h.out), false);
  });
});

Deno.test("compare: metric deltas by run; unreadable inputs exit 2", async () => {
  await withCli(async (h) => {
    const base = `${h.dir}/base`;
    const cand = `${h.dir}/cand`;
    assert.equal(await h.run(["bench", h.spec, "--out", base]), 0);
    pplFor = (method) => (method === "dense" ? 20 : 22);
    try {
      assert.equal(await h.run(["bench", h.spec, "--out", cand]), 0);
    } finally {
      pplFor = (method) => (method === "dense" ? 20 : 24);
    }
    assert.equal(await h.run(["compare", base, cand]), 0);
    const table = out(h);
    assert.match(table, /run\s+metric\s+baseline\s+candidate\s+delta\s+rel/);
    assert.match(table, /wanda-50%\s+ppl\[test-id\]\s+24\s+22\s+-2\s+-8\.33%/);
    assert.match(table, /dense\s+ppl\[test-id\]\s+20\s+20\s+0\s+0\.00%/);
    assert.match(table, /ar\s+lossless\s+true\s+true/);

    const { results } = await new ResultStore(cand).list("clitest");
    await Deno.writeTextFile(results[0].file, '{"id": 1}');
    assert.equal(await h.run(["compare", base, cand]), 2);
    assert.match(err(h), /id: expected a string, got 1/);
    assert.equal(await h.run(["compare", base, `${h.dir}/nowhere`]), 2);
    assert.match(err(h), /nowhere: root: no such file or folder/);
  });
});

Deno.test("delegating commands: missing modules give a clear message, present ones run", async () => {
  await withCli(async (h) => {
    assert.equal(await h.run(["site"]), 1);
    assert.match(err(h), /site\/build\.ts is not available \(not built yet\)/);
    assert.equal(await h.run(["regress"]), 1);
    assert.match(err(h), /regress\.ts is not available/);

    const calls: Record<string, unknown>[] = [];
    const importModule = (path: string) =>
      Promise.resolve(
        path.endsWith("regress.ts")
          ? {
            runRegress: (o: Record<string, unknown>) => {
              calls.push(o);
              return Promise.resolve({ exitCode: 1 });
            },
          }
          : {
            buildSite: (o: Record<string, unknown>) => {
              calls.push(o);
              return Promise.resolve(undefined);
            },
          },
      );
    assert.equal(await h.run(["site", "--out", "x"], { importModule }), 0);
    assert.equal(calls[0].outDir, "x");
    assert.equal(await h.run(["regress", "--baseline", "b"], { importModule }), 1);
    assert.deepEqual(calls[1].args, ["--baseline", "b"]);

    assert.equal(await h.run(["data"]), 0);
    assert.match(out(h), /test-id\s+1234\s+abab/);
    assert.match(out(h), /tokenizer: .*tokenizer\.json/);
  });
});

Deno.test("the real entry point: validate on a broken spec exits 2 (subprocess)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const broken = `${dir}/broken.json`;
    await Deno.writeTextFile(broken, JSON.stringify({ name: "b", prune: [{ method: "obs" }] }));
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}/src/cli.ts`, "validate", broken],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(result.code, 2);
    const stderr = new TextDecoder().decode(result.stderr);
    assert.match(stderr, /broken\.json: prune\[0\]\.method: unknown pruning method "obs"; known/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
