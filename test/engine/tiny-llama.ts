// A tiny llama-architecture model for tests: real hyperparameters and a real SentencePiece-style (SPM)
// vocabulary, with seeded random F32 weights (so the same seed always gives the same file and the same
// generations). Written to a temp file for node-llama-cpp to load; nothing binary is committed.
// Tensor names and metadata keys are the ones llama.cpp's loader asks for under architecture `llama`.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeGguf, type F32Tensor, type MetaValue } from "./gguf-writer.ts";

export type TinyLlamaShape = {
  layers: number;
  embedding: number;
  heads: number;
  ffn: number;
  context: number;
};
export const TINY_SHAPE: TinyLlamaShape = { layers: 2, embedding: 64, heads: 4, ffn: 128, context: 256 };

/** Token types of llama.cpp's vocabulary (tokenizer.ggml.token_type). */
export const TokenType = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;
/** SentencePiece's visible space: words in the vocabulary start with it. */
export const SPACE = "\u2581";

/** Words whose every "▁"-prefix is a token, so SPM merges them whole; other text falls back to letters, then bytes. */
const WORDS = (
  "the a and of to in is it model engine token stream gateway hello world user assistant system llama " +
  "switch yard real text fast small random weights cancel route backend"
).split(" ");

export type TinyVocab = {
  tokens: string[];
  scores: number[];
  types: number[];
  unk: number;
  bos: number;
  eos: number;
  /** Token ids of the byte-fallback tokens <0x00>..<0xFF>, indexed by byte. */
  byteTokens: number[];
  /** <unk>, <s>, </s> and the bytes outside printable ASCII: the model is built never to predict them. */
  neverGenerated: number[];
};

/** <unk>, <s>, </s>, the 256 byte tokens, "▁", a–z, then each word's "▁"-prefixes (deduplicated). */
export function tinyVocab(words: readonly string[] = WORDS): TinyVocab {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const add = (text: string, type: number, score = 0): number => {
    tokens.push(text);
    scores.push(score);
    types.push(type);
    return tokens.length - 1;
  };
  const unk = add("<unk>", TokenType.unknown);
  const bos = add("<s>", TokenType.control);
  const eos = add("</s>", TokenType.control);
  const byteTokens: number[] = [];
  for (let b = 0; b < 256; b++)
    byteTokens.push(add(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, TokenType.byte));
  const pieces = new Set<string>([SPACE, ..."abcdefghijklmnopqrstuvwxyz"]);
  for (const word of words) for (let n = 1; n <= word.length; n++) pieces.add(SPACE + word.slice(0, n));
  // SPM merges the adjacent pair with the highest score first; longer pieces score higher.
  for (const piece of pieces) add(piece, TokenType.normal, -1 / [...piece].length);
  const unprintable = byteTokens.filter((_, byte) => byte < 0x20 || byte > 0x7e);
  return {
    tokens,
    scores,
    types,
    unk,
    bos,
    eos,
    byteTokens,
    neverGenerated: [unk, bos, eos, ...unprintable],
  };
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The whole model as GGUF bytes: same seed, same bytes. */
export function tinyLlamaGguf(
  seed = 1,
  shape: TinyLlamaShape = TINY_SHAPE,
): { bytes: Uint8Array; vocab: TinyVocab } {
  const { layers, embedding: d, heads, ffn, context } = shape;
  const vocab = tinyVocab();
  const n = vocab.tokens.length;
  const random = prng(seed);
  // Uniform in ±1/sqrt(fan-in): activations stay in a sane range, so the logits are varied, not NaN.
  const matrix = (name: string, cols: number, rows: number): F32Tensor => {
    const scale = 1 / Math.sqrt(cols);
    const data = Float32Array.from({ length: cols * rows }, () => (random() * 2 - 1) * scale);
    return { name, dims: [cols, rows], data };
  };
  const ones = (name: string): F32Tensor => ({ name, dims: [d], data: new Float32Array(d).fill(1) });
  const embeddings = matrix("token_embd.weight", d, n);
  for (let i = 0; i < embeddings.data.length; i++)
    embeddings.data[i] = (embeddings.data[i] ?? 0) * Math.sqrt(d);
  const tensors: F32Tensor[] = [embeddings];
  for (let l = 0; l < layers; l++) {
    const blk = `blk.${l}`;
    tensors.push(
      ones(`${blk}.attn_norm.weight`),
      matrix(`${blk}.attn_q.weight`, d, d),
      matrix(`${blk}.attn_k.weight`, d, d),
      matrix(`${blk}.attn_v.weight`, d, d),
      matrix(`${blk}.attn_output.weight`, d, d),
      ones(`${blk}.ffn_norm.weight`),
      matrix(`${blk}.ffn_gate.weight`, d, ffn),
      matrix(`${blk}.ffn_up.weight`, d, ffn),
      matrix(`${blk}.ffn_down.weight`, ffn, d),
    );
  }
  // A zero output row gives a logit of exactly 0 while the others spread around it, so greedy decoding never
  // picks these tokens: generations never end early and their text is printable ASCII (no broken UTF-8).
  const output = matrix("output.weight", d, n);
  for (const token of vocab.neverGenerated) output.data.fill(0, token * d, (token + 1) * d);
  tensors.push(ones("output_norm.weight"), output);

  const u32 = (value: number): MetaValue => ({ type: "u32", value });
  const metadata: [string, MetaValue][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: `switchyard-tiny-llama-seed${seed}` }],
    ["general.alignment", u32(32)],
    ["llama.context_length", u32(context)],
    ["llama.embedding_length", u32(d)],
    ["llama.block_count", u32(layers)],
    ["llama.feed_forward_length", u32(ffn)],
    ["llama.attention.head_count", u32(heads)],
    ["llama.attention.head_count_kv", u32(heads)],
    ["llama.rope.dimension_count", u32(d / heads)],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: 1e-5 }],
    ["llama.vocab_size", u32(n)],
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "string[]", value: vocab.tokens }],
    ["tokenizer.ggml.scores", { type: "f32[]", value: vocab.scores }],
    ["tokenizer.ggml.token_type", { type: "i32[]", value: vocab.types }],
    ["tokenizer.ggml.unknown_token_id", u32(vocab.unk)],
    ["tokenizer.ggml.bos_token_id", u32(vocab.bos)],
    ["tokenizer.ggml.eos_token_id", u32(vocab.eos)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
  ];
  return { bytes: encodeGguf(metadata, tensors), vocab };
}

/** Writes the model into a fresh temp dir; `remove()` deletes the dir. */
export async function writeTinyLlama(
  seed = 1,
): Promise<{ path: string; size: number; vocab: TinyVocab; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-tiny-llama-"));
  const path = join(dir, `tiny-llama-seed${seed}.gguf`);
  const { bytes, vocab } = tinyLlamaGguf(seed);
  await writeFile(path, bytes);
  return { path, size: bytes.length, vocab, remove: () => rm(dir, { recursive: true, force: true }) };
}
