import { UpstreamError } from "../../errors/upstream-error.ts";
import type { EmbedInput, EmbedOutput } from "../adapter.ts";
import type { QuirkProfile } from "./quirks.ts";

type WireEmbeddings = {
  model?: string;
  data?: { index?: number; embedding?: number[] | string }[];
  usage?: { prompt_tokens?: number };
};

/**
 * The Embeddings request body. base64 only where the profile knows the server honours it; float is every
 * server's default, so it is not sent at all (strict servers reject fields they do not know).
 */
export function toEmbeddingsRequest(input: EmbedInput, profile: QuirkProfile): Record<string, unknown> {
  const body: Record<string, unknown> = { model: input.model, input: input.inputs };
  if (profile.embeddingEncoding === "base64") body.encoding_format = "base64";
  if (input.dimensions !== undefined) body[profile.dimensionsField] = input.dimensions;
  return body;
}

/** Little-endian float32s, as OpenAI's `encoding_format: "base64"` sends them; undefined when malformed. */
export function decodeFloat32Base64(text: string): Float32Array | undefined {
  const bytes = Buffer.from(text, "base64");
  if (bytes.length % 4 !== 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Reads an Embeddings response. Each vector may come as base64 or as a float array whatever was asked:
 * servers that do not know `encoding_format` ignore it and send floats.
 */
export function fromEmbeddings(backend: string, wire: unknown, input: EmbedInput): EmbedOutput {
  const body = (typeof wire === "object" && wire !== null ? wire : {}) as WireEmbeddings;
  const data = [...(Array.isArray(body.data) ? body.data : [])].sort(
    (a, b) => (a.index ?? 0) - (b.index ?? 0),
  );
  if (data.length !== input.inputs.length) {
    throw new UpstreamError(
      "protocol",
      `${backend} returned ${data.length} embeddings for ${input.inputs.length} inputs`,
    );
  }
  const vectors = data.map((d, i) => {
    const vector = toVector(d.embedding);
    if (vector === undefined)
      throw new UpstreamError("protocol", `${backend} sent a malformed embedding #${i}`);
    return vector;
  });
  const prompt = body.usage?.prompt_tokens;
  return {
    vectors,
    model: typeof body.model === "string" ? body.model : input.model,
    ...(typeof prompt === "number"
      ? { usage: { inputTokens: prompt, outputTokens: 0, cachedInputTokens: 0 } }
      : {}),
  };
}

function toVector(embedding: unknown): Float32Array | undefined {
  if (typeof embedding === "string") return decodeFloat32Base64(embedding);
  if (Array.isArray(embedding) && embedding.every((v) => typeof v === "number")) {
    return Float32Array.from(embedding as number[]);
  }
  return undefined;
}
