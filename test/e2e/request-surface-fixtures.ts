// Shared set-up of request-surface-upstreams.test.ts: one gateway in front of the four provider fakes
// (OpenAI, Mistral, Anthropic, Gemini), the content parts every family is sent, and a reader of a
// gateway stream (reasoning, text, logprobs, the final event).
import type { MessageShape } from "@bufbuild/protobuf";
import { AudioFormat, CacheTtl, ImageDetail, Role } from "../../gen/switchyard/v1/generation_pb.ts";
import type { GenerateStreamResponseSchema } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type AnthropicFake, startAnthropicFake } from "../upstreams/anthropic-fake.ts";
import { type GeminiFake, startGeminiFake } from "../upstreams/gemini-fake.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

export const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 7, 7, 7]);
export const WAV = Uint8Array.from(Buffer.from("RIFF\x24\x00\x00\x00WAVEfmt the fake audio"));
export const PDF = Uint8Array.from(Buffer.from("%PDF-1.7\n1 0 obj << >> endobj\n%%EOF"));
export const IMAGE_URL = "https://example.com/cat.png";
export const b64 = (data: Uint8Array) => Buffer.from(data).toString("base64");

type Cache = { ttl: CacheTtl } | undefined;
const withCache = <T extends object>(part: T, cache: Cache) =>
  cache ? { ...part, cacheControl: cache } : part;

export const text = (value: string, cache?: Cache) =>
  withCache({ part: { case: "text" as const, value } }, cache);
export const imageUrl = () => ({
  part: {
    case: "image" as const,
    value: { source: { case: "url" as const, value: IMAGE_URL }, detail: ImageDetail.LOW },
  },
});
export const imageBytes = () => ({
  part: {
    case: "image" as const,
    value: { source: { case: "data" as const, value: PNG }, mediaType: "image/png" },
  },
});
export const audio = () => ({
  part: { case: "audio" as const, value: { data: WAV, format: AudioFormat.WAV } },
});
export const pdf = () => ({
  part: {
    case: "document" as const,
    value: {
      source: { case: "data" as const, value: PDF },
      mediaType: "application/pdf",
      title: "spec",
      filename: "spec.pdf",
    },
  },
});
export const PDF_URL = "https://example.com/spec.pdf";
export const pdfUrl = () => ({
  part: {
    case: "document" as const,
    value: { source: { case: "url" as const, value: PDF_URL }, title: "spec", filename: "spec.pdf" },
  },
});
export const textDocument = () => ({
  part: {
    case: "document" as const,
    value: { source: { case: "text" as const, value: "Line one." }, title: "notes" },
  },
});
export type ReasoningFields = {
  text: string;
  signature?: string;
  encryptedContent?: string;
  id?: string;
  provider: string;
  redacted?: boolean;
};
export const reasoningPart = (value: ReasoningFields) => ({ part: { case: "reasoning" as const, value } });

/** A stream's reasoning deltas as the blocks a client sends back: text appended, the rest completing the block. */
export function reasoningBlocks(deltas: readonly (ReasoningFields & { index: number })[]): ReasoningFields[] {
  const blocks: ReasoningFields[] = [];
  for (const d of deltas) {
    const block = blocks[d.index] ?? { text: "", provider: d.provider };
    blocks[d.index] = block;
    block.text += d.text;
    if (d.signature) block.signature = d.signature;
    if (d.encryptedContent) block.encryptedContent = d.encryptedContent;
    if (d.id) block.id = d.id;
    if (d.redacted) block.redacted = true;
  }
  return blocks;
}
export const FIVE_MINUTES = { ttl: CacheTtl.FIVE_MINUTES };
export const ONE_HOUR = { ttl: CacheTtl.ONE_HOUR };

export const user = (...content: object[]) => ({ role: Role.USER, content });
export const system = (...content: object[]) => ({ role: Role.SYSTEM, content });
export const LOOKUP = {
  name: "lookup",
  description: "Look a word up",
  parameters: { type: "object", properties: { q: { type: "string" } } },
};

/** The message of the last request a fake recorded. */
export function lastBody<T = Record<string, unknown>>(fake: { requests: { body: unknown }[] }): T {
  const rec = fake.requests.at(-1);
  if (rec === undefined) throw new Error("the fake recorded no request");
  return rec.body as T;
}

type StreamMessage = MessageShape<typeof GenerateStreamResponseSchema>;

/** What a gateway stream carried, in the pieces a test compares. */
export function readStream(messages: StreamMessage[]) {
  const cases = messages.map((m) => m.event.case);
  const reasoning = messages.flatMap((m) => (m.event.case === "reasoningDelta" ? [m.event.value] : []));
  const texts = messages.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value] : []));
  const final = messages.at(-1)?.event;
  if (final?.case !== "final") throw new Error(`the stream ended with ${final?.case}, not a final event`);
  const firstText = cases.indexOf("textDelta");
  return {
    /** Every reasoning delta that carries text came before the first text delta. */
    thoughtsBeforeText: messages.every(
      (m, i) => m.event.case !== "reasoningDelta" || m.event.value.text === "" || i < firstText,
    ),
    reasoningText: reasoning.map((d) => d.text).join(""),
    signatures: reasoning.map((d) => d.signature).filter((s) => s !== ""),
    reasoning,
    text: texts.map((t) => t.text).join(""),
    logprobs: texts.flatMap((t) => t.logprobs),
    toolCalls: messages.flatMap((m) => (m.event.case === "toolCallDelta" ? [m.event.value] : [])),
    final: final.value,
  };
}

export const KEYS = {
  OPENAI_KEY: "sk-e2e-openai",
  MISTRAL_KEY: "mistral-e2e-key",
  ANTHROPIC_KEY: "sk-ant-e2e",
  GEMINI_KEY: "AIza-e2e",
};

export type Upstreams = {
  gw: TestGateway;
  openai: OpenAIFake;
  mistral: OpenAIFake;
  anthropic: AnthropicFake;
  gemini: GeminiFake;
  stop(): Promise<void>;
};

const one = (name: string, backend: string, model: string) =>
  `  ${name}:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: ${backend}, model: ${model} }\n`;

/** The four fakes and one gateway with a route per family (and the audio routes of Anthropic). */
export async function startUpstreams(): Promise<Upstreams> {
  const [openai, mistral, anthropic, gemini] = await Promise.all([
    startOpenAIFake({ requireApiKey: KEYS.OPENAI_KEY }),
    startOpenAIFake({ requireApiKey: KEYS.MISTRAL_KEY, dialect: "mistral" }),
    startAnthropicFake({ requireApiKey: KEYS.ANTHROPIC_KEY }),
    startGeminiFake({ requireApiKey: KEYS.GEMINI_KEY }),
  ]);
  const claude = `    type: anthropic\n    baseUrl: ${anthropic.url}\n    apiKey: \${ANTHROPIC_KEY}\n`;
  const backends =
    `  openai:\n    type: openai\n    baseUrl: ${openai.url}/v1\n    apiKey: \${OPENAI_KEY}\n` +
    `  mistral:\n    type: openai\n    quirks: mistral\n    baseUrl: ${mistral.url}/v1\n    apiKey: \${MISTRAL_KEY}\n` +
    `  claude:\n${claude}` +
    // Told it hears, so the adapter's own refusal (the backstop behind routing) is reached.
    `  claude-hears:\n${claude}    capabilities: { audio: true }\n` +
    `  gemini:\n    type: gemini\n    baseUrl: ${gemini.baseUrl}\n    apiKey: \${GEMINI_KEY}\n` +
    "  echo: { type: echo }\n";
  const routes =
    one("openai", "openai", "gpt-5-mini") +
    one("mistral", "mistral", "magistral-medium-latest") +
    one("claude", "claude", "claude-sonnet-4-5") +
    one("claude-hears", "claude-hears", "claude-sonnet-4-5") +
    "  claude-or-echo:\n    targets:\n      - { backend: claude, model: claude-sonnet-4-5 }\n      - { backend: echo, model: echo-1 }\n" +
    one("gemini", "gemini", "gemini-2.5-flash") +
    one("gemini3", "gemini", "gemini-3-pro-preview");
  // The overload guard off: on a loaded test machine, event-loop lag would shed calls at random.
  const gw = await startTestGateway(
    configYaml(backends, routes, "  limits:\n    maxEventLoopLagMs: 0\n"),
    KEYS,
  );
  return {
    gw,
    openai,
    mistral,
    anthropic,
    gemini,
    async stop() {
      await gw.stop();
      await Promise.all([openai.close(), mistral.close(), anthropic.close(), gemini.close()]);
    },
  };
}
