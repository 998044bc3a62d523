/**
 * Encode throughput of the embedded tokenizer on held-out text (run: `deno task perf`).
 * Prints characters and tokens per second; figures are per call on 64 KiB of test-id text.
 */
import { EMBEDDED, prepareEmbeddedDefault, readSplitText } from "../src/data/prepare.ts";
import { loadTokenizer } from "../src/data/tokenizer.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
await prepareEmbeddedDefault({ root });
const tok = loadTokenizer(`${root}/${EMBEDDED.modelDir}`);
const text = (await readSplitText(root, "test-id")).slice(0, 65536);
const ids = tok.encode(text);
console.log(
  `tokenizer: 64 KiB test-id text = ${ids.length} tokens (${
    (text.length / ids.length).toFixed(2)
  } chars/token)`,
);

Deno.bench({ name: "encode 64 KiB (test-id)", group: "tokenizer", baseline: true }, () => {
  tok.encode(text);
});
Deno.bench({ name: "decode the same tokens", group: "tokenizer" }, () => {
  tok.decode(ids);
});
