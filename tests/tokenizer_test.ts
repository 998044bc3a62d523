import assert from "node:assert/strict";
import { EMBEDDED, prepareEmbeddedDefault, trainDefaultTokenizer } from "../src/data/prepare.ts";
import { checkSplitChecksums, readSplitDocuments, readSplitText } from "../src/data/prepare.ts";
import { SPLIT_NAMES } from "../src/data/splits.ts";
import { loadTokenizer } from "../src/data/tokenizer.ts";
import { bytesToUnicode, countWords, trainByteLevelBpe } from "../src/data/bpe.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const prepared = await prepareEmbeddedDefault({ root });

Deno.test("every split round-trips exactly through the committed tokenizer", async () => {
  const tok = loadTokenizer(`${root}/${EMBEDDED.modelDir}`);
  assert.equal(tok.vocabSize, EMBEDDED.vocabSize);
  for (const split of SPLIT_NAMES) {
    const text = await readSplitText(root, split);
    const ids = tok.encode(text);
    assert.ok(ids.length > 100_000, `${split}: ${ids.length} tokens`);
    assert.ok(ids.every((i) => i >= 0 && i < tok.vocabSize));
    const back = tok.decode(ids);
    if (back !== text) {
      let i = 0;
      while (back[i] === text[i]) i++;
      assert.fail(
        `${split}: first difference at char ${i}: ${JSON.stringify(text.slice(i, i + 30))}`,
      );
    }
  }
});

Deno.test("tokenizer training is deterministic and reproduces the committed file", async () => {
  const train = await readSplitDocuments(root, "train");
  const first = trainDefaultTokenizer(train, EMBEDDED.vocabSize);
  const second = trainDefaultTokenizer(train, EMBEDDED.vocabSize);
  assert.equal(first, second);
  const committed = await Deno.readTextFile(prepared.tokenizerPath);
  assert.equal(first, committed, "retraining must give the committed tokenizer.json byte for byte");
});

Deno.test("BPE merges the most frequent pair first and keeps the byte alphabet", () => {
  const json = trainByteLevelBpe(countWords(["aaab aaab aaab ab ab"]), { vocabSize: 260 });
  const b2u = bytesToUnicode();
  assert.equal(Object.keys(json.model.vocab).length, 260);
  assert.equal(json.model.vocab["<|endoftext|>"], 0);
  assert.equal(json.model.vocab[b2u[97]], 1 + 97);
  // Pair counts: "a a" 2 per "aaab" word × 3 = 6; "a b" 3 + 2 = 5: "a a" is merged first.
  assert.equal(json.model.merges[0], "a a");
});

Deno.test("a changed split fails loudly, naming the split and the pin file", () => {
  const pinned = JSON.parse(Deno.readTextFileSync(`${root}/${EMBEDDED.splitsFile}`));
  checkSplitChecksums(prepared.splits, pinned, "splits.json");
  const tampered = structuredClone(prepared.splits);
  tampered["test-ood"].sha256 = "0".repeat(64);
  assert.throws(
    () => checkSplitChecksums(tampered, pinned, "bench/data/splits.json"),
    /bench\/data\/splits\.json: split "test-ood" changed/,
  );
});
