import assert from "node:assert/strict";
import { buildBenchFiles, loadBuildInputs, META_FILE, TASK_SEEDS } from "../scripts/build_tasks.ts";
import {
  isTaskName,
  loadTask,
  parseTaskJsonl,
  resolveTask,
  TASK_NAMES,
  TASK_REGISTRY,
  type TaskItem,
} from "../src/data/tasks.ts";
import {
  buildLastword,
  buildNextsent,
  buildSwappairs,
  buildWncloze,
  documentSentences,
  frequencyRanks,
  heldoutDocuments,
  isTrainSentence,
  STOPWORDS,
  wordCount,
} from "../src/data/tasks_build.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const inputs = await loadBuildInputs(root);
const docById = new Map(inputs.heldout.map((d) => [d.id, d]));
const tasks = Object.fromEntries(
  await Promise.all(TASK_NAMES.map(async (n) => [n, (await loadTask(n, { root })).items])),
) as Record<typeof TASK_NAMES[number], TaskItem[]>;

Deno.test("committed task files, prompts and meta match a rebuild byte for byte", async () => {
  const files = await buildBenchFiles({ root, inputs });
  assert.ok(files.size >= 7);
  for (const [rel, text] of files) {
    const committed = await Deno.readTextFile(`${root}/${rel}`);
    assert.ok(
      committed === text,
      `${rel} differs from a rebuild; run bin/deno run -A scripts/build_tasks.ts`,
    );
  }
  const meta = JSON.parse(files.get(META_FILE)!);
  for (const name of TASK_NAMES) {
    assert.equal(meta.tasks[name].seed, TASK_SEEDS[name]);
    assert.equal(meta.tasks[name].items, tasks[name].length);
    assert.ok(meta.tasks[name].tokens.longestRequest <= 200, `${name} has a request > 200 tokens`);
  }
  let bytes = 0;
  for (const text of files.values()) bytes += new TextEncoder().encode(text).length;
  assert.ok(bytes < 2_000_000, `committed data is ${bytes} bytes`);
});

Deno.test("builders are deterministic and depend on the seed", () => {
  const docs = [...inputs.heldout.slice(0, 4), ...inputs.heldout.slice(-6)];
  const opts = { seed: 7, perSplit: 20, trainSentences: inputs.trainSentences };
  for (const build of [buildLastword, buildNextsent, buildSwappairs]) {
    const a = build(docs, opts);
    assert.ok(a.length > 5, `${build.name} built only ${a.length} items`);
    assert.deepEqual(build(docs, opts), a);
    assert.notDeepEqual(build(docs, { ...opts, seed: 8 }), a);
  }
  const synsets = inputs.synsets.filter((s) => s.pos === "adv");
  const wn = { seed: 3, count: 40, counts: inputs.counts };
  const w = buildWncloze(synsets, wn);
  assert.equal(w.length, 40);
  assert.deepEqual(buildWncloze(synsets, wn), w);
  assert.notDeepEqual(buildWncloze(synsets, { ...wn, seed: 4 }), w);
});

Deno.test("builders refuse train and val documents", () => {
  assert.throws(() => heldoutDocuments("train", []), /"train" is not held out/);
  assert.throws(() => heldoutDocuments("val", []), /"val" is not held out/);
  const sneaky = [{ id: "x", category: "sotu", text: "A b c.", split: "val" as "test-id" }];
  assert.throws(() => buildLastword(sneaky, { seed: 1, perSplit: 1 }), /x: split "val"/);
});

Deno.test("every committed item has a valid gold and the registered shape", () => {
  for (const name of TASK_NAMES) {
    const info = TASK_REGISTRY[name];
    assert.ok(tasks[name].length >= 500 && tasks[name].length <= 1000, name);
    assert.match(info.description, /-style/);
    const ids = new Set<string>();
    for (const item of tasks[name]) {
      assert.equal(item.choices.length, info.choices, `${item.id}`);
      assert.ok(Number.isInteger(item.gold) && item.gold >= 0 && item.gold < info.choices);
      assert.equal(item.type ?? "multiple_choice", info.type);
      assert.equal(new Set(item.choices).size, item.choices.length, `${item.id}: repeated choice`);
      assert.ok(!ids.has(item.id!), `${item.id} repeats`);
      ids.add(item.id!);
    }
    if (info.choices > 1) {
      // The gold position is spread over the choices (seeded), not stuck at one index.
      const at = new Array(info.choices).fill(0);
      for (const item of tasks[name]) at[item.gold]++;
      for (const c of at) assert.ok(c > tasks[name].length / info.choices / 2, `${name}: ${at}`);
    }
  }
});

function trainSentencesIn(text: string): string[] {
  return documentSentences(text).map((s) => s.text).filter((t) =>
    isTrainSentence(t, inputs.trainSentences)
  );
}

Deno.test("held-out items come from test-id/test-ood documents and contain no train sentence", () => {
  for (const name of ["lastword", "nextsent4", "swappairs"] as const) {
    const splits = new Set<string>();
    for (const item of tasks[name]) {
      const doc = docById.get(item.doc!);
      assert.ok(doc, `${item.id}: document ${item.doc} is not in test-id or test-ood`);
      splits.add(doc.split);
      assert.equal(item.category, doc.category);
      const gold = item.choices[item.gold];
      const text = name === "swappairs" ? gold : item.context + gold;
      assert.ok(doc.text.includes(text), `${item.id}: context + gold is not verbatim in ${doc.id}`);
      for (const part of [item.context, ...item.choices]) {
        assert.deepEqual(trainSentencesIn(part), [], `${item.id} contains train text`);
      }
    }
    assert.deepEqual([...splits].sort(), ["test-id", "test-ood"]);
  }
});

Deno.test("lastword: target rules (strict variant, ≥ 60-word context ending mid-sentence)", () => {
  const sentencesOf = new Map<string, ReturnType<typeof documentSentences>>();
  for (const item of tasks.lastword) {
    const target = item.choices[0].slice(1);
    assert.match(item.choices[0], /^ [A-Za-z]{3,}$/);
    assert.ok(!STOPWORDS.has(target.toLowerCase()), `${item.id}: stopword ${target}`);
    assert.ok(wordCount(item.context) >= 60, `${item.id}: short context`);
    assert.ok(new RegExp(`\\b${target}\\b`, "i").test(item.context), `${item.id}: not strict`);
    const doc = docById.get(item.doc!)!;
    const at = doc.text.indexOf(item.context + item.choices[0]);
    assert.ok(at >= 0);
    const space = at + item.context.length;
    const sents = sentencesOf.get(doc.id) ??
      sentencesOf.set(doc.id, documentSentences(doc.text)).get(doc.id)!;
    const s = sents.find((s) => s.start <= space && space < s.end);
    assert.ok(s, `${item.id}: the target is not inside a sentence`);
    assert.ok(wordCount(doc.text.slice(s.start, space)) >= 3, `${item.id}: not mid-sentence`);
    assert.match(s.text, new RegExp(` ${target}[.!?]+["')\\]]*$`), `${item.id}: not the last word`);
  }
});

Deno.test("nextsent4: distractors are other documents' sentences within ±15% of the gold", () => {
  const sentenceDocs = new Map<string, Set<string>>();
  for (const d of inputs.heldout) {
    for (const s of documentSentences(d.text)) {
      const set = sentenceDocs.get(s.text) ?? new Set<string>();
      set.add(d.id);
      sentenceDocs.set(s.text, set);
    }
  }
  for (const item of tasks.nextsent4) {
    const doc = docById.get(item.doc!)!;
    const gold = item.choices[item.gold].slice(1);
    const n = documentSentences(item.context).length;
    assert.ok(n >= 2 && n <= 4, `${item.id}: ${n} context sentences`);
    item.choices.forEach((c, i) => {
      assert.ok(c.startsWith(" "), `${item.id}: choice without leading space`);
      if (i === item.gold) return;
      const d = c.slice(1);
      assert.ok(
        Math.abs(d.length - gold.length) <= 0.15 * gold.length && d.length !== gold.length,
        `${item.id}: distractor length ${d.length} vs gold ${gold.length}`,
      );
      const from = [...(sentenceDocs.get(d) ?? [])];
      assert.ok(from.length > 0, `${item.id}: distractor is not a held-out sentence`);
      assert.ok(
        from.some((id) => id !== doc.id && docById.get(id)!.split === doc.split),
        `${item.id}: distractor not from another document of ${doc.split}`,
      );
    });
  }
});

Deno.test("nextsent4: no length shortcut (the gold's length rank is near uniform)", () => {
  const rank = [0, 0, 0, 0];
  for (const item of tasks.nextsent4) {
    const g = item.choices[item.gold].length;
    rank[item.choices.filter((c) => c.length < g).length]++;
  }
  const n = tasks.nextsent4.length;
  for (const r of rank) assert.ok(r / n > 0.19 && r / n < 0.31, `length ranks ${rank}`);
});

Deno.test("swappairs: the pair differs by one swap of adjacent lower-case words", () => {
  for (const item of tasks.swappairs) {
    assert.equal(item.context, "");
    const a = item.choices[item.gold].split(" ");
    const b = item.choices[1 - item.gold].split(" ");
    assert.equal(a.length, b.length);
    const diff = a.map((w, i) => (w === b[i] ? -1 : i)).filter((i) => i >= 0);
    assert.equal(diff.length, 2, `${item.id}: ${diff.length} positions differ`);
    const [i, j] = diff;
    assert.equal(j, i + 1);
    assert.ok(i > 0);
    assert.equal(a[i], b[j]);
    assert.equal(a[j], b[i]);
    assert.match(a[i] + a[j], /^[a-z]+$/);
  }
});

Deno.test("wncloze4: gold restores a WordNet example; distractors are frequency-matched non-synonyms", () => {
  const byId = new Map(inputs.synsets.map((s) => [`wordnet-3.1/${s.id}`, s]));
  const ranks = frequencyRanks(inputs.synsets, inputs.counts, 3);
  const frequencyRank = [0, 0, 0, 0];
  const lengthRank = [0, 0, 0, 0];
  const synsetsOf = new Map<string, typeof inputs.synsets>();
  for (const s of inputs.synsets) {
    for (const l of s.lemmas) {
      const key = `${s.pos}:${l}`;
      const list = synsetsOf.get(key) ?? [];
      list.push(s);
      synsetsOf.set(key, list);
    }
  }
  for (const item of tasks.wncloze4) {
    const synset = byId.get(item.doc!);
    assert.ok(synset, `${item.id}: unknown synset ${item.doc}`);
    assert.equal(item.category, synset.pos);
    const sentence = item.context + item.choices[item.gold];
    assert.ok(synset.examples.includes(sentence), `${item.id}: not an example of its synset`);
    const lemmaOf = (c: string) => /^ ?([a-z]+)/.exec(c)![1];
    const gold = lemmaOf(item.choices[item.gold]);
    assert.ok(synset.lemmas.includes(gold));
    const table = ranks.get(synset.pos)!;
    const synonyms = new Set(synsetsOf.get(`${synset.pos}:${gold}`)!.flatMap((s) => s.lemmas));
    const goldRank = table.rank.get(gold)!;
    frequencyRank[item.choices.filter((c) => table.rank.get(lemmaOf(c))! < goldRank).length]++;
    lengthRank[item.choices.filter((c) => lemmaOf(c).length < gold.length).length]++;
    const rest = item.choices[item.gold].slice(item.choices[item.gold].indexOf(gold) + gold.length);
    item.choices.forEach((c, i) => {
      assert.ok(c.endsWith(rest), `${item.id}: choices differ beyond the blank`);
      if (i === item.gold) return;
      const w = lemmaOf(c);
      assert.ok(!synonyms.has(w), `${item.id}: distractor ${w} is a synonym of ${gold}`);
      assert.notEqual(w.length, gold.length, `${item.id}: ${w} has the gold's length`);
      assert.ok(
        Math.abs(table.rank.get(w)! - table.rank.get(gold)!) <= 20,
        `${item.id}: ${w} is not within 20 frequency ranks of ${gold}`,
      );
    });
  }
  // No frequency or length shortcut: the gold's ranks among the four are near uniform.
  const n = tasks.wncloze4.length;
  for (const r of frequencyRank) assert.ok(r / n > 0.19 && r / n < 0.31, `${frequencyRank}`);
  for (const r of lengthRank) assert.ok(r / n > 0.19 && r / n < 0.31, `${lengthRank}`);
});

Deno.test("task registry and path form", () => {
  assert.ok(isTaskName("nextsent4"));
  assert.equal(resolveTask("lastword", { root: "/r" }).path, "/r/bench/tasks/lastword.jsonl");
  assert.deepEqual(resolveTask("data/piqa.jsonl", { root: "/r" }), {
    name: "piqa",
    path: "/r/data/piqa.jsonl",
  });
  assert.equal(resolveTask("/abs/x.jsonl", { root: "/r" }).path, "/abs/x.jsonl");
  assert.throws(() => resolveTask("hellaswag", { root: "/r" }), /unknown zero-shot task.*lastword/);
});

Deno.test("the JSONL loader names file, line and field", async () => {
  const ok = '{"context":"a","choices":[" b"," c"],"gold":1,"id":"x"}';
  const cases: Array<[string, RegExp]> = [
    [`${ok}\n{"context":"a","choices":[" b"],"gold":1}`, /t\.jsonl:2: field "gold".*0\.\.0/],
    [`${ok}\n\n{"context":"a","gold":0}`, /t\.jsonl:3: field "choices"/],
    [`{"context":3,"choices":[" b"],"gold":0}`, /t\.jsonl:1: field "context": expected a string/],
    [`${ok}\n{"context":"a","choices":[" b", 4],"gold":0}`, /t\.jsonl:2: field "choices\[1\]"/],
    [
      `{"context":"a","choices":[" b"," c"],"gold":0,"type":"loglikelihood"}`,
      /:1: field "choices"/,
    ],
    [`{"context":"a","choices":[" b"],"gold":0,"type":"generate"}`, /:1: field "type"/],
    [`${ok}\n{"context":"a",`, /t\.jsonl:2: not valid JSON/],
    [`\n\n`, /t\.jsonl: no items/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseTaskJsonl(text, "t.jsonl"), re);
  const items = parseTaskJsonl(`${ok}\n`, "t.jsonl");
  assert.deepEqual(items, [{ context: "a", choices: [" b", " c"], gold: 1, id: "x" }]);

  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/mine.jsonl`, `${ok}\n${ok}\n${ok}\n`);
    const task = await loadTask(`${dir}/mine.jsonl`, { root, limit: 2 });
    assert.equal(task.name, "mine");
    assert.equal(task.items.length, 2);
    await Deno.writeTextFile(`${dir}/bad.jsonl`, `${ok}\n{"context":"a","choices":[],"gold":0}\n`);
    await assert.rejects(loadTask(`${dir}/bad.jsonl`, { root }), /bad\.jsonl:2: field "choices"/);
    await assert.rejects(loadTask(`${dir}/none.jsonl`, { root }), /none\.jsonl: cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
