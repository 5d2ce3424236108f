import assert from "node:assert/strict";
import { after, test } from "node:test";
import { readGgufFileInfo } from "node-llama-cpp";
import { TINY_SHAPE, TokenType, tinyLlamaGguf, writeTinyLlama } from "./tiny-llama.ts";

// The tiny model file, read back by an independent GGUF parser (node-llama-cpp's, pure JavaScript: no
// llama.cpp binary needed). Loading and generating with llama.cpp itself is test/e2e/real-engine.test.ts.
const file = await writeTinyLlama(7);
after(() => file.remove());

test("the file is GGUF v3 with the llama hyperparameters and aligned tensors", async () => {
  const info = await readGgufFileInfo(file.path, { sourceType: "filesystem", logWarnings: false });
  assert.equal(info.version, 3);
  const meta = info.metadata as unknown as Record<string, Record<string, unknown>>;
  assert.equal(meta.general?.architecture, "llama");
  assert.deepEqual(
    [
      meta.llama?.context_length,
      meta.llama?.embedding_length,
      meta.llama?.block_count,
      meta.llama?.feed_forward_length,
    ],
    [TINY_SHAPE.context, TINY_SHAPE.embedding, TINY_SHAPE.layers, TINY_SHAPE.ffn],
  );
  const tensors = info.tensorInfo ?? [];
  // token_embd, 9 per block, output_norm, output.
  assert.equal(tensors.length, 1 + 9 * TINY_SHAPE.layers + 2);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const d = TINY_SHAPE.embedding;
  assert.deepEqual(byName.get("blk.1.ffn_down.weight")?.dimensions.map(Number), [TINY_SHAPE.ffn, d]);
  assert.deepEqual(byName.get("blk.0.ffn_up.weight")?.dimensions.map(Number), [d, TINY_SHAPE.ffn]);
  assert.deepEqual(byName.get("output.weight")?.dimensions.map(Number), [d, file.vocab.tokens.length]);
  assert.ok(tensors.every((t) => t.ggmlType === 0 && Number(t.offset) % 32 === 0));
  assert.ok(file.size > 400_000 && file.size < 700_000, `~0.5 MB (${file.size} bytes)`);
});

test("the tokenizer metadata is an SPM vocabulary with byte fallback", async () => {
  const info = await readGgufFileInfo(file.path, { sourceType: "filesystem", readTensorInfo: false });
  const tokenizer = info.metadata.tokenizer?.ggml;
  assert.equal(tokenizer?.model, "llama");
  const tokens = tokenizer?.tokens ?? [];
  assert.equal(tokens.length, file.vocab.tokens.length);
  assert.equal(tokens[tokenizer?.bos_token_id ?? -1], "<s>");
  assert.equal(tokens[tokenizer?.eos_token_id ?? -1], "</s>");
  assert.equal(tokens[tokenizer?.unknown_token_id ?? -1], "<unk>");
  const types = (tokenizer?.token_type ?? []) as number[];
  for (let byte = 0; byte < 256; byte++) {
    const id = tokens.indexOf(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`);
    assert.equal(types[id], TokenType.byte, `byte token ${byte}`);
  }
  assert.ok(tokens.includes("\u2581gateway") && tokens.includes("\u2581g"), "whole words and their prefixes");
});

test("the same seed gives the same bytes; another seed other weights", () => {
  const a = tinyLlamaGguf(7).bytes;
  assert.deepEqual(a, tinyLlamaGguf(7).bytes);
  assert.notDeepEqual(a, tinyLlamaGguf(8).bytes);
  assert.equal(a.length, tinyLlamaGguf(8).bytes.length);
});
