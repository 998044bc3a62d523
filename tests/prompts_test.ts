import assert from "node:assert/strict";
import { loadBuildInputs, PROMPT_SETTINGS, PROMPTS_FILE } from "../scripts/build_tasks.ts";
import {
  buildHeldoutPrompts,
  loadPromptSet,
  parsePromptRecord,
  parsePromptsJsonl,
  type Prompt,
} from "../src/data/prompts.ts";
import { sha256Hex } from "../src/data/sources.ts";
import { documentSentences, isTrainSentence } from "../src/data/tasks_build.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const inputs = await loadBuildInputs(root);
const countTokens = (t: string) => inputs.tokenizer.encode(t).length;
const committed = await loadPromptSet("prompts-heldout", { root });

Deno.test("prompts-heldout rebuilds to the committed file", async () => {
  const built = await buildHeldoutPrompts(inputs.heldout, {
    ...PROMPT_SETTINGS,
    tokenRange: [...PROMPT_SETTINGS.tokenRange],
    countTokens,
    trainSentences: inputs.trainSentences,
  });
  assert.deepEqual(built, committed);
  const text = built.map((p) => JSON.stringify(p)).join("\n") + "\n";
  assert.equal(text, await Deno.readTextFile(`${root}/${PROMPTS_FILE}`));
});

Deno.test("prompts-heldout: 10 per Brown genre and 25 SOTU, 32–128 tokens, held-out text", () => {
  const genres = new Set(
    inputs.heldout.filter((d) => d.split === "test-ood").map((d) => d.category),
  );
  assert.equal(genres.size, 15);
  const byCategory = new Map<string, Prompt[]>();
  for (const p of committed) byCategory.set(p.category, [...(byCategory.get(p.category) ?? []), p]);
  assert.equal(byCategory.get("sotu")?.length, 25);
  for (const g of genres) assert.equal(byCategory.get(g)?.length, 10, g);
  assert.equal(committed.length, 175);
  assert.equal(new Set(committed.map((p) => p.id)).size, 175);
  for (const p of committed) {
    const n = countTokens(p.prompt);
    assert.ok(n >= 32 && n <= 128, `${p.id}: ${n} tokens`);
    const sentences = documentSentences(p.prompt);
    assert.ok(sentences.length >= 1 && sentences.length <= 3, `${p.id}: ${sentences.length}`);
    for (const s of sentences) assert.ok(!isTrainSentence(s.text, inputs.trainSentences), p.id);
  }
});

Deno.test("prompts start a paragraph (a sentence in SOTU) and follow sha256 order", async () => {
  for (const [category, list] of Map.groupBy(committed, (p) => p.category)) {
    const docs = inputs.heldout.filter((d) => d.category === category);
    let previous = "";
    for (const p of list) {
      const doc = docs.find((d) => d.text.includes(p.prompt));
      assert.ok(doc, `${p.id}: not verbatim in a ${category} document`);
      const at = doc.text.indexOf(p.prompt);
      if (category === "sotu") {
        assert.ok(documentSentences(doc.text).some((s) => s.start === at), `${p.id}`);
      } else {
        assert.ok(at === 0 || doc.text[at - 1] === "\n", `${p.id}: not at a paragraph start`);
      }
      const key = await sha256Hex(`${doc.id}:${at}`);
      assert.ok(key > previous, `${p.id}: out of sha256 order`);
      previous = key;
    }
  }
});

Deno.test("Spec-Bench question.jsonl lines load as {id, category, prompt} from turns[0]", async () => {
  const spec = [
    '{"question_id": 81, "category": "writing", "turns": ["Compose a blog post.", "Rewrite it."]}',
    '{"question_id": "qa-2", "category": "qa", "turns": ["Who wrote Moby-Dick?"]}',
    '{"id": "own-1", "category": "news", "prompt": "The city council met"}',
  ].join("\n");
  assert.deepEqual(parsePromptsJsonl(spec, "q.jsonl"), [
    { id: "81", category: "writing", prompt: "Compose a blog post." },
    { id: "qa-2", category: "qa", prompt: "Who wrote Moby-Dick?" },
    { id: "own-1", category: "news", prompt: "The city council met" },
  ]);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/question.jsonl`, spec + "\n");
    const loaded = await loadPromptSet(`${dir}/question.jsonl`, { root, limit: 2 });
    assert.deepEqual(loaded.map((p) => p.id), ["81", "qa-2"]);
    await assert.rejects(loadPromptSet(`${dir}/absent.jsonl`, { root }), /absent\.jsonl: cannot/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prompt loader errors name file, line and field", async () => {
  const cases: Array<[string, RegExp]> = [
    ['{"question_id": 1, "category": "x", "turns": []}', /q\.jsonl:1: field "turns"/],
    ['{"question_id": 1, "category": "x", "turns": [3]}', /q\.jsonl:1: field "turns\[0\]"/],
    ['{"turns": ["a"], "category": "x"}', /q\.jsonl:1: field "question_id"/],
    ['\n{"id": "a", "prompt": "p"}', /q\.jsonl:2: field "category"/],
    ['{"id": "a", "category": "c"}', /q\.jsonl:1: field "prompt"/],
    [
      '{"id": "a", "category": "c", "prompt": "p"}\n{"id": "a", "category": "c", "prompt": "q"}',
      /q\.jsonl:2: field "id".*repeats line 1/,
    ],
    ["[1]", /q\.jsonl:1: field "\(line\)"/],
    ["{", /q\.jsonl:1: not valid JSON/],
  ];
  for (const [text, re] of cases) assert.throws(() => parsePromptsJsonl(text, "q.jsonl"), re);
  assert.throws(() => parsePromptRecord(null, "f:9"), /f:9/);
  await assert.rejects(loadPromptSet("mt-bench", { root }), /unknown prompt set "mt-bench"/);
});
