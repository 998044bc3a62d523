import assert from "node:assert/strict";
import {
  autoregressiveGenerate,
  type Drafter,
  type DraftInput,
  type GenerationResult,
  type PrefillOutput,
  speculativeGenerate,
  type StepEvent,
  type TargetForwardInput,
  type TargetForwardOutput,
  type TreeTarget,
} from "../src/decode/speculative_loop.ts";
import { buildTreeBuffers, chainTree, MASK_NEG, treeAttentionBias } from "../src/decode/tree.ts";
import { buildTreeFromAccuracies, MC_SIM_7B_63 } from "../src/decode/tree_builder.ts";
import { typicalThreshold } from "../src/decode/acceptance.ts";

// ---------------------------------------------------------------------------------------------
// A deterministic toy target with an explicit KV cache that detects stale or misplaced rows.
//
// Every cache row stores (token, position, chain), where chain is a 24-bit hash of the whole
// context up to and including the row. The next token is a function of the chain, so the model
// depends on every visible row. On every forward, each query checks that the rows it may see are
// exactly positions 0..p−1 in order and that each row's chain extends its predecessor's; a row
// left over from a rejected branch, a missing row or a row out of place throws.
// ---------------------------------------------------------------------------------------------

const V = 40;
const HIDDEN = 3; // [chain, token, position]
const CHAIN0 = 0x123456;

function mix(chain: number, token: number): number {
  let h = Math.imul(chain ^ Math.imul(token + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) & 0xffffff;
}

/** The toy's greedy next token after a context whose chain is `chain`. */
function toyNext(chain: number): number {
  return chain % V;
}

/** The toy's second choice (used by the drafter to tempt typical acceptance). */
function toyRunnerUp(chain: number): number {
  const r = (chain >>> 8) % V;
  return r === toyNext(chain) ? (r + 1) % V : r;
}

/** Logits after a context: 5 on the next token, 3 on the runner-up, 0 elsewhere. */
function toyLogits(chain: number, out: Float32Array, offset: number): void {
  out.fill(0, offset, offset + V);
  out[offset + toyNext(chain)] = 5;
  out[offset + toyRunnerUp(chain)] = 3;
}

interface Row {
  token: number;
  position: number;
  chain: number;
}

class StaleRowError extends Error {}

class ToyTarget implements TreeTarget {
  readonly vocabSize = V;
  readonly hiddenSize = HIDDEN;
  cache: Row[] = [];
  forwards = 0;
  constructor(readonly maxCacheLength?: number) {}

  get cacheLength(): number {
    return this.cache.length;
  }

  prefill(ids: Int32Array): Promise<PrefillOutput> {
    this.cache = [];
    let chain = CHAIN0;
    const hidden = new Float32Array(ids.length * HIDDEN);
    ids.forEach((token, position) => {
      chain = mix(chain, token);
      this.cache.push({ token, position, chain });
      hidden.set([chain, token, position], position * HIDDEN);
    });
    const logits = new Float32Array(V);
    toyLogits(chain, logits, 0);
    return Promise.resolve({ logits, hidden });
  }

  forward(input: TargetForwardInput): Promise<TargetForwardOutput> {
    this.forwards++;
    const { tokens, positions, attentionBias } = input;
    const n = this.cache.length;
    const T = tokens.length;
    const cols = n + T;
    if (positions.length !== T || attentionBias.length !== T * cols) {
      throw new Error(
        `toy: bad shapes T=${T} positions=${positions.length} bias=${attentionBias.length}`,
      );
    }
    const rows = [...this.cache];
    const logits = new Float32Array(T * V);
    const hidden = new Float32Array(T * HIDDEN);
    for (let i = 0; i < T; i++) {
      const visible: number[] = [];
      for (let j = 0; j < cols; j++) {
        const b = attentionBias[i * cols + j];
        if (b === 0) visible.push(j);
        else if (b !== MASK_NEG) throw new Error(`toy: mask value ${b} is neither 0 nor MASK_NEG`);
      }
      if (visible[visible.length - 1] !== n + i) {
        throw new StaleRowError(`toy: query ${i} does not see itself last (sees ${visible})`);
      }
      const context = visible.slice(0, -1).map((j) => rows[j]);
      if (context.length !== positions[i]) {
        throw new StaleRowError(
          `toy: query ${i} at position ${positions[i]} sees ${context.length} context rows`,
        );
      }
      let chain = CHAIN0;
      context.forEach((row, k) => {
        if (row.position !== k) {
          throw new StaleRowError(
            `toy: query ${i} reads a row with position ${row.position} at ${k}`,
          );
        }
        if (row.chain !== mix(chain, row.token)) {
          throw new StaleRowError(`toy: query ${i} reads a stale row at position ${k}`);
        }
        chain = row.chain;
      });
      chain = mix(chain, tokens[i]);
      rows.push({ token: tokens[i], position: positions[i], chain });
      toyLogits(chain, logits, i * V);
      hidden.set([chain, tokens[i], positions[i]], i * HIDDEN);
    }
    this.cache = rows;
    return Promise.resolve({ logits, hidden });
  }

  selectCache(rows: Int32Array): void {
    for (let i = 0; i < rows.length; i++) {
      if (rows[i] >= this.cache.length || (i > 0 && rows[i] <= rows[i - 1])) {
        throw new Error(`toy: selectCache rows ${rows} not increasing within ${this.cache.length}`);
      }
    }
    this.cache = Array.from(rows, (r) => this.cache[r]);
  }
}

/** A drafter that knows the toy's rule and is right some of the time (deterministically). */
class ToyDrafter implements Drafter {
  readonly numHeads: number;
  private lastChain = CHAIN0;
  private lastPosition = -1;
  constructor(
    numHeads: number,
    private readonly options: { hitRate: number; runnerUpRate?: number; seed?: number },
  ) {
    this.numHeads = numHeads;
  }

  reset(): void {
    this.lastChain = CHAIN0;
    this.lastPosition = -1;
  }

  propose(input: DraftInput): Promise<Float32Array> {
    const { hidden, tokens, positions, nextToken } = input;
    const m = tokens.length;
    assert.equal(hidden.length, m * HIDDEN, "drafter: hidden rows ≠ tokens");
    for (let k = 0; k < m; k++) {
      // Hidden rows must be the committed ones, in order, continuing the previous call.
      assert.equal(positions[k], this.lastPosition + 1, "drafter: positions not contiguous");
      assert.equal(hidden[k * HIDDEN + 1], tokens[k], "drafter: hidden row of another token");
      assert.equal(hidden[k * HIDDEN + 2], positions[k], "drafter: hidden row of another position");
      assert.equal(hidden[k * HIDDEN], mix(this.lastChain, tokens[k]), "drafter: stale hidden row");
      this.lastChain = hidden[k * HIDDEN];
      this.lastPosition = positions[k];
    }
    const out = new Float32Array(this.numHeads * V);
    let chain = mix(this.lastChain, nextToken); // context after the root
    for (let j = 0; j < this.numHeads; j++) {
      const truth = toyNext(chain);
      const u = (mix(chain, 1000 + j + (this.options.seed ?? 0)) % 10007) / 10007;
      const rank = u < this.options.hitRate
        ? 0
        : u < this.options.hitRate + 0.3
        ? 1 + (chain % 3)
        : -1;
      const row = j * V;
      for (let t = 0; t < V; t++) out[row + t] = -((t - truth - 1 + V) % V);
      const w = (mix(chain, 77 + j) % 1000) / 1000;
      if (this.options.runnerUpRate !== undefined && w < this.options.runnerUpRate) {
        out[row + toyRunnerUp(chain)] = 1; // runner-up on top, truth second
        out[row + truth] = 0.5;
      } else if (rank >= 0) {
        out[row + truth] = -(rank - 0.5); // exactly `rank` tokens score higher
      }
      chain = mix(chain, truth);
    }
    return Promise.resolve(out);
  }
}

function counterClock(): () => number {
  let t = 0;
  return () => t++;
}

/** onStep observer: after every step the cache holds exactly prompt + committed tokens. */
function cacheChecker(target: ToyTarget, prompt: Int32Array): (e: StepEvent) => void {
  return (e) => {
    const expected = [...prompt, ...e.sequence];
    assert.equal(e.cacheLength, expected.length, `step ${e.step}: cache length`);
    assert.deepEqual(target.cache.map((r) => r.token), expected, `step ${e.step}: cache tokens`);
    assert.deepEqual(target.cache.map((r) => r.position), expected.map((_, i) => i));
  };
}

const PROMPTS = [
  Int32Array.of(1, 2, 3),
  Int32Array.of(7),
  Int32Array.of(5, 5, 5, 5, 5, 5),
  Int32Array.from({ length: 20 }, (_, i) => (i * 7) % V),
  Int32Array.of(39, 0, 38),
];

const ACC = [0.6, 0.35, 0.2, 0.12].map((a) => Array.from({ length: 10 }, (_, r) => a * 0.5 ** r));
const TREES: Record<string, (readonly number[])[]> = {
  "root only": [],
  "chain-1": chainTree(1),
  "chain-4": chainTree(4),
  "decoding.md §2.4": [[0], [0, 0], [0, 1], [0, 2], [1], [1, 0], [1, 1], [1, 2]],
  "mc_sim_7b_63": [...MC_SIM_7B_63],
  "greedy-16": buildTreeFromAccuracies(ACC, 16),
};

async function ar(prompt: Int32Array, maxNewTokens: number, eosTokenIds?: number[]) {
  const target = new ToyTarget();
  const r = await autoregressiveGenerate(target, prompt, {
    maxNewTokens,
    eosTokenIds,
    clock: counterClock(),
    onStep: cacheChecker(target, prompt),
  });
  return r;
}

// ---------------------------------------------------------------------------------------------

Deno.test("toy cache detects stale, missing and duplicated rows", async () => {
  const t = new ToyTarget();
  await t.prefill(Int32Array.of(1, 2, 3));
  // A query that cannot see prefix row 1.
  const hideRow = new Float32Array(4);
  hideRow[1] = MASK_NEG;
  await assert.rejects(
    async () =>
      await t.forward({
        tokens: Int32Array.of(9),
        positions: Int32Array.of(3),
        attentionBias: hideRow,
      }),
    StaleRowError,
  );

  // Tree: root 4 (pos 3), children A = 5, B = 6 (pos 4).
  const tree = buildTreeBuffers([[0], [1]], { topk: 2 });
  const fresh = async () => {
    const x = new ToyTarget();
    await x.prefill(Int32Array.of(1, 2, 3));
    await x.forward({
      tokens: Int32Array.of(4, 5, 6),
      positions: Int32Array.of(3, 4, 4),
      attentionBias: treeAttentionBias(tree, 3),
    });
    return x;
  };
  const next = (x: ToyTarget) =>
    x.forward({
      tokens: Int32Array.of(8),
      positions: Int32Array.of(x.cacheLength),
      attentionBias: new Float32Array(x.cacheLength + 1),
    });
  // Forgetting the compaction: siblings share position 4.
  await assert.rejects(async () => await next(await fresh()), StaleRowError);
  // Keeping a child without its parent (root dropped): B lands at position 3.
  const noParent = await fresh();
  noParent.selectCache(Int32Array.of(0, 1, 2, 5));
  await assert.rejects(async () => await next(noParent), StaleRowError);
  // A correct compaction (root + A) reads fine.
  const ok = await fresh();
  ok.selectCache(Int32Array.of(0, 1, 2, 3, 4));
  await next(ok);
  assert.deepEqual(ok.cache.map((r) => r.token), [1, 2, 3, 4, 5, 8]);
  assert.throws(() => ok.selectCache(Int32Array.of(0, 2, 1)), /not increasing/);
});

Deno.test("greedy speculative output equals AR output token for token (prompts × trees)", async () => {
  const maxNewTokens = 48;
  for (const prompt of PROMPTS) {
    const reference = await ar(prompt, maxNewTokens);
    assert.equal(reference.tokens.length, maxNewTokens);
    assert.equal(reference.stopReason, "max_new_tokens");
    assert.ok(reference.acceptLengths.every((a) => a === 1));
    for (const [name, paths] of Object.entries(TREES)) {
      const tree = buildTreeBuffers(paths, { topk: 10 });
      const target = new ToyTarget();
      const r = await speculativeGenerate(target, new ToyDrafter(4, { hitRate: 0.6 }), prompt, {
        tree,
        maxNewTokens,
        clock: counterClock(),
        onStep: cacheChecker(target, prompt),
      });
      assert.deepEqual(r.tokens, reference.tokens, `${name}, prompt ${prompt}`);
      assert.equal(r.stopReason, "max_new_tokens");
      assert.equal(r.acceptLengths.length, target.forwards);
      const committed = r.acceptLengths.reduce((s, a) => s + a, 0);
      assert.ok(committed >= maxNewTokens && committed < maxNewTokens + tree.maxDepth + 1);
      assert.ok(r.acceptLengths.every((a) => a >= 1 && a <= tree.maxDepth + 1));
      if (tree.maxDepth >= 2) {
        // The drafter is right often enough for real multi-token steps.
        assert.ok(committed / r.acceptLengths.length > 1.3, `${name}: τ too low`);
      }
    }
  }
});

Deno.test("deeper and wider trees accept more per step on the same drafter", async () => {
  const prompt = PROMPTS[3];
  const tau = async (paths: (readonly number[])[]) => {
    const r = await speculativeGenerate(
      new ToyTarget(),
      new ToyDrafter(4, { hitRate: 0.5 }),
      prompt,
      { tree: buildTreeBuffers(paths), maxNewTokens: 64 },
    );
    return r.acceptLengths.reduce((s, a) => s + a, 0) / r.acceptLengths.length;
  };
  const chain1 = await tau(chainTree(1));
  const chain4 = await tau(chainTree(4));
  const big = await tau([...MC_SIM_7B_63]);
  assert.ok(chain1 <= 2 && chain4 > chain1 && big > chain4, `${chain1} ${chain4} ${big}`);
});

Deno.test("EOS stops both loops at the same token; max new tokens truncates exactly", async () => {
  const prompt = PROMPTS[0];
  const long = await ar(prompt, 60);
  // Pick a token whose first occurrence is well inside the output.
  const eosIndex = long.tokens.findIndex((t, i) => i >= 10 && long.tokens.indexOf(t) === i);
  assert.ok(eosIndex >= 10);
  const eos = long.tokens[eosIndex];
  const arEos = await ar(prompt, 60, [eos]);
  assert.equal(arEos.stopReason, "eos");
  assert.deepEqual(arEos.tokens, long.tokens.slice(0, eosIndex + 1));
  for (const paths of [chainTree(4), [...MC_SIM_7B_63]]) {
    const r = await speculativeGenerate(
      new ToyTarget(),
      new ToyDrafter(4, { hitRate: 0.8 }),
      prompt,
      {
        tree: buildTreeBuffers(paths),
        maxNewTokens: 60,
        eosTokenIds: [eos],
      },
    );
    assert.equal(r.stopReason, "eos");
    assert.deepEqual(r.tokens, arEos.tokens);
  }
  for (const maxNewTokens of [1, 2, 7]) {
    const r = await speculativeGenerate(
      new ToyTarget(),
      new ToyDrafter(4, { hitRate: 0.9 }),
      prompt,
      {
        tree: buildTreeBuffers(chainTree(4)),
        maxNewTokens,
      },
    );
    assert.deepEqual(r.tokens, long.tokens.slice(0, maxNewTokens));
  }
});

Deno.test("cache capacity stops generation before overflowing, output stays a prefix of AR", async () => {
  const prompt = PROMPTS[0];
  const long = await ar(prompt, 40);
  const tree = buildTreeBuffers([...MC_SIM_7B_63]);
  const target = new ToyTarget(100);
  const r = await speculativeGenerate(target, new ToyDrafter(4, { hitRate: 0.6 }), prompt, {
    tree,
    maxNewTokens: 40,
  });
  assert.equal(r.stopReason, "capacity");
  assert.ok(r.tokens.length > 0 && r.tokens.length < 40);
  assert.deepEqual(r.tokens, long.tokens.slice(0, r.tokens.length));
  const arTarget = new ToyTarget(10);
  const a = await autoregressiveGenerate(arTarget, prompt, { maxNewTokens: 40 });
  assert.equal(a.stopReason, "capacity");
  assert.deepEqual(a.tokens, long.tokens.slice(0, a.tokens.length));
  assert.ok(arTarget.cacheLength <= 10);
});

Deno.test("typical acceptance at a very low temperature reproduces greedy AR", async () => {
  for (const prompt of PROMPTS.slice(0, 3)) {
    const reference = await ar(prompt, 40);
    const target = new ToyTarget();
    const r = await speculativeGenerate(
      target,
      new ToyDrafter(4, { hitRate: 0.6, runnerUpRate: 0.3 }),
      prompt,
      {
        tree: buildTreeBuffers([...MC_SIM_7B_63]),
        maxNewTokens: 40,
        acceptance: { kind: "typical", temperature: 0.05 },
        onStep: cacheChecker(target, prompt),
      },
    );
    assert.deepEqual(r.tokens, reference.tokens);
  }
});

Deno.test("typical acceptance at T = 1 accepts runner-ups above the threshold, and only those", async () => {
  // Toy distribution at T = 1: p(next) ≈ 0.719, p(runner-up) ≈ 0.097, others ≈ 0.005;
  // H ≈ 1.44 → threshold = min(0.09, 0.3·e^−H) ≈ 0.071, so runner-ups pass and the rest fail.
  const options = { temperature: 1 };
  let nonGreedy = 0;
  for (const prompt of PROMPTS) {
    const target = new ToyTarget();
    const r = await speculativeGenerate(
      target,
      new ToyDrafter(4, { hitRate: 0.5, runnerUpRate: 0.5 }),
      prompt,
      {
        tree: buildTreeBuffers([...MC_SIM_7B_63]),
        maxNewTokens: 40,
        acceptance: { kind: "typical", ...options },
        onStep: cacheChecker(target, prompt),
      },
    );
    // Replay the output through the toy: every token is the greedy one or passes the threshold;
    // roots (first token of each step) are always greedy.
    let chain = CHAIN0;
    for (const t of prompt) chain = mix(chain, t);
    const row = new Float32Array(V);
    let step = 0;
    let inStep = 0;
    for (const token of r.tokens) {
      toyLogits(chain, row, 0);
      const isRoot = inStep === 0;
      if (token !== toyNext(chain)) {
        assert.ok(!isRoot, "a root must be the argmax");
        const th = typicalThreshold(row, options);
        assert.ok(th.probs[token] > th.threshold);
        assert.equal(token, toyRunnerUp(chain));
        nonGreedy++;
      }
      chain = mix(chain, token);
      inStep++;
      if (inStep === r.acceptLengths[step]) {
        step++;
        inStep = 0;
      }
    }
  }
  assert.ok(nonGreedy > 0, "typical acceptance never took a runner-up");
});

Deno.test("step timings come from the injected clock; AR records one forward per later token", async () => {
  const prompt = PROMPTS[1];
  const r = await speculativeGenerate(
    new ToyTarget(),
    new ToyDrafter(4, { hitRate: 0.6 }),
    prompt,
    {
      tree: buildTreeBuffers(chainTree(3)),
      maxNewTokens: 20,
      clock: counterClock(),
    },
  );
  assert.equal(r.steps.length, r.acceptLengths.length);
  assert.ok(r.steps.every((s) => s.draftMs === 1 && s.verifyMs === 1 && s.bookkeepingMs === 1));
  assert.equal(r.prefillMs, 1);
  assert.equal(r.wallMs, 2 + 4 * r.steps.length); // t0, prefill, 4 per step, end

  const a: GenerationResult = await ar(prompt, 20);
  assert.equal(a.acceptLengths.length, 20);
  assert.equal(a.steps.length, 19);
  assert.ok(a.steps.every((s) => s.draftMs === 0 && s.verifyMs === 1 && s.bookkeepingMs === 1));
});

Deno.test("seeded AR sampling is reproducible; temperature 0 is greedy", async () => {
  const prompt = PROMPTS[0];
  const sample = async (seed: number, temperature: number) =>
    (await autoregressiveGenerate(new ToyTarget(), prompt, { maxNewTokens: 30, temperature, seed }))
      .tokens;
  const greedy = (await ar(prompt, 30)).tokens;
  assert.deepEqual(await sample(1, 0), greedy);
  const s1 = await sample(11, 1.5);
  assert.deepEqual(await sample(11, 1.5), s1);
  assert.notDeepEqual(await sample(12, 1.5), s1);
  assert.notDeepEqual(s1, greedy);
  assert.ok(s1.every((t) => Number.isInteger(t) && t >= 0 && t < V));
});

Deno.test("bad loop inputs are refused", async () => {
  const tree = buildTreeBuffers(chainTree(4));
  await assert.rejects(
    () =>
      speculativeGenerate(new ToyTarget(), new ToyDrafter(3, { hitRate: 1 }), PROMPTS[0], {
        tree,
        maxNewTokens: 5,
      }),
    /4 deep but the drafter has 3 heads/,
  );
  await assert.rejects(
    () =>
      speculativeGenerate(new ToyTarget(), new ToyDrafter(4, { hitRate: 1 }), new Int32Array(0), {
        tree,
        maxNewTokens: 5,
      }),
    /prompt is empty/,
  );
  await assert.rejects(
    () => autoregressiveGenerate(new ToyTarget(), PROMPTS[0], { maxNewTokens: 0 }),
    /maxNewTokens/,
  );
});
