import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { UpstreamError } from "../../errors/upstream-error.ts";
import type {
  Adapter,
  AdapterCall,
  AdapterEvent,
  ContentPart,
  DocumentSource,
  EmbedInput,
  EmbedOutput,
  GenerateInput,
  GenerateOutput,
  ImageSource,
  ReasoningBlock,
  TokenLogprob,
} from "../adapter.ts";

export type EchoAdapterOptions = { chunkDelayMs: number; dimensions: number };

/**
 * A built-in, deterministic provider for keyless demos and tests: it answers
 * with the last user message, word by word. A "token" here is a
 * whitespace-separated word. When a tool call is forced (tool_choice names a
 * function, or is "required"), it calls that tool with {"text": <prompt>}.
 * Media parts of that message are echoed as words describing them (kind, media
 * type or format, size and a digest of the bytes), so a test can see that they
 * arrived intact. With reasoning asked for, it first "thinks" the prompt back
 * as a reasoning block signed with a digest of its text; a block sent back with
 * a signature that does not match is refused like Anthropic refuses one. With
 * logprobs, each word carries a deterministic log probability.
 */
export class EchoAdapter implements Adapter {
  readonly #options: EchoAdapterOptions;

  constructor(options: EchoAdapterOptions) {
    this.#options = options;
  }

  async generate(input: GenerateInput, call: AdapterCall): Promise<GenerateOutput> {
    const out: GenerateOutput = { text: "", toolCalls: [], finishReason: "stop", model: input.model };
    const logprobs: TokenLogprob[] = [];
    const reasoning: ReasoningBlock[] = [];
    for await (const event of this.stream(input, call)) {
      if (event.type === "text") {
        out.text += event.text;
        if (event.logprobs) logprobs.push(...event.logprobs);
      } else if (event.type === "reasoning") {
        const block = reasoning[event.index] ?? { text: "", provider: event.provider };
        block.text += event.text ?? "";
        if (event.signature) block.signature = event.signature;
        reasoning[event.index] = block;
      } else if (event.type === "tool_call") {
        const existing = out.toolCalls[event.index];
        if (existing) existing.arguments += event.argumentsDelta;
        else
          out.toolCalls[event.index] = {
            id: event.id ?? "",
            name: event.name ?? "",
            arguments: event.argumentsDelta,
          };
      } else if (event.type === "finish") {
        out.finishReason = event.reason;
        if (event.serviceTier) out.serviceTier = event.serviceTier;
      } else if (event.type === "usage") out.usage = event.usage;
    }
    if (logprobs.length > 0) out.logprobs = logprobs;
    if (reasoning.length > 0) out.reasoning = reasoning;
    return out;
  }

  async *stream(input: GenerateInput, call: AdapterCall): AsyncGenerator<AdapterEvent> {
    const last = [...input.messages].reverse().find((m) => m.role === "user");
    const prompt = [last?.content ?? "", ...(last?.parts ?? []).flatMap(describeMedia)].join(" ").trim();
    const inputTokens = input.messages.reduce((n, m) => n + words(m.content).length, 0);
    checkSignatures(input);
    const forced = forcedTool(input);
    if (forced !== undefined) {
      const args = JSON.stringify({ text: prompt });
      const half = Math.ceil(args.length / 2);
      await this.#pause(call);
      yield {
        type: "tool_call",
        index: 0,
        id: `call_echo${toolId(prompt)}`,
        name: forced,
        argumentsDelta: args.slice(0, half),
      };
      await this.#pause(call);
      yield { type: "tool_call", index: 0, argumentsDelta: args.slice(half) };
      yield { type: "finish", reason: "tool_calls", model: input.model };
      yield { type: "usage", usage: { inputTokens, outputTokens: 1, cachedInputTokens: 0 } };
      return;
    }
    let reasoningTokens: number | undefined;
    if (input.reasoning) {
      const thought = `Thinking about: ${prompt}`;
      reasoningTokens = words(thought).length;
      await this.#pause(call);
      yield {
        type: "reasoning",
        index: 0,
        provider: "echo",
        ...(input.reasoning.includeText ? { text: thought } : {}),
      };
      yield { type: "reasoning", index: 0, provider: "echo", signature: signatureOf(thought) };
    }
    const pieces = words(prompt);
    const limit = input.sampling.maxOutputTokens ?? Number.POSITIVE_INFINITY;
    const served = pieces.slice(0, limit);
    for (let i = 0; i < served.length; i++) {
      await this.#pause(call);
      const text = i === 0 ? served[i]! : ` ${served[i]!}`;
      yield input.logprobs
        ? { type: "text", text, logprobs: [logprobOf(text, i, input.logprobs.top)] }
        : { type: "text", text };
    }
    const tier =
      input.serviceTier === undefined
        ? {}
        : { serviceTier: input.serviceTier === "auto" ? ("default" as const) : input.serviceTier };
    yield {
      type: "finish",
      reason: served.length < pieces.length ? "length" : "stop",
      model: input.model,
      ...tier,
    };
    const outputTokens = served.length + (reasoningTokens ?? 0);
    yield {
      type: "usage",
      usage: {
        inputTokens,
        outputTokens,
        cachedInputTokens: 0,
        ...(reasoningTokens !== undefined ? { reasoningTokens } : {}),
      },
    };
  }

  async embed(input: EmbedInput, call: AdapterCall): Promise<EmbedOutput> {
    if (call.signal.aborted) throw new UpstreamError("timeout", "echo: aborted");
    const dims = input.dimensions ?? this.#options.dimensions;
    const vectors = input.inputs.map((text) => vectorOf(text, dims));
    const inputTokens = input.inputs.reduce((n, text) => n + words(text).length, 0);
    return { vectors, model: input.model, usage: { inputTokens, outputTokens: 0, cachedInputTokens: 0 } };
  }

  async close(): Promise<void> {}

  async #pause(call: AdapterCall): Promise<void> {
    try {
      if (this.#options.chunkDelayMs > 0)
        await sleep(this.#options.chunkDelayMs, undefined, { signal: call.signal });
    } catch {
      throw new UpstreamError("timeout", "echo: aborted");
    }
    if (call.signal.aborted) throw new UpstreamError("timeout", "echo: aborted");
  }
}

/** One word per media part: what it is and a digest of its bytes (URLs are named, never fetched). */
function describeMedia(part: ContentPart): string[] {
  switch (part.type) {
    case "image":
      return [`[image ${sourceWords(part.source)}]`];
    case "audio":
      return [`[audio ${part.format} ${part.data.length}B ${digest(part.data)}]`];
    case "document":
      return [`[document ${sourceWords(part.source)}${part.title ? ` "${part.title}"` : ""}]`];
    default:
      return [];
  }
}

function sourceWords(source: ImageSource | DocumentSource): string {
  if ("url" in source) return `url ${source.url}`;
  if ("text" in source) return `text ${Buffer.byteLength(source.text)}B ${digest(source.text)}`;
  return `${source.mediaType} ${source.data.length}B ${digest(source.data)}`;
}

function digest(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 12);
}

/** The signature of a reasoning text: whoever changes the text cannot keep the signature valid. */
function signatureOf(thought: string): string {
  return `echo-${digest(thought)}`;
}

/** Echo's own reasoning blocks sent back must be unchanged (as Anthropic's thinking signatures). */
function checkSignatures(input: GenerateInput): void {
  for (const m of input.messages)
    for (const p of m.parts ?? [])
      if (p.type === "reasoning" && p.provider === "echo" && p.signature !== signatureOf(p.text))
        throw new UpstreamError("bad_request", "echo: reasoning block signature does not match its text");
}

/** A deterministic log probability per word, with `top` alternatives (the word itself first). */
function logprobOf(text: string, i: number, top: number): TokenLogprob {
  const logprob = -((i % 5) + 1) / 10;
  const alternatives = [{ token: text, logprob }];
  for (let k = 1; k < top; k++) alternatives.push({ token: `${text.trim()}~${k}`, logprob: logprob - k });
  return { token: text, logprob, bytes: [...Buffer.from(text)], topLogprobs: alternatives.slice(0, top) };
}

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== "");
}

function forcedTool(input: GenerateInput): string | undefined {
  const choice = input.toolChoice;
  if (choice === undefined || input.tools.length === 0) return undefined;
  if ("function" in choice) return choice.function;
  return choice.mode === "required" ? input.tools[0]?.name : undefined;
}

function toolId(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

/** A unit vector seeded by the text's SHA-256, so equal texts embed equally. */
function vectorOf(text: string, dims: number): Float32Array {
  const out = new Float32Array(dims);
  let seed = createHash("sha256").update(text).digest();
  for (let i = 0; i < dims; i++) {
    if (i % 16 === 0 && i > 0) seed = createHash("sha256").update(seed).digest();
    out[i] = seed.readUInt16BE((i % 16) * 2) / 65535 - 0.5;
  }
  const norm = Math.hypot(...out) || 1;
  return out.map((v) => v / norm);
}
