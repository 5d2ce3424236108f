import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { UpstreamError } from "../../errors/upstream-error.ts";
import type {
  Adapter,
  AdapterCall,
  AdapterEvent,
  EmbedInput,
  EmbedOutput,
  GenerateInput,
  GenerateOutput,
} from "../adapter.ts";

export type EchoAdapterOptions = { chunkDelayMs: number; dimensions: number };

/**
 * A built-in, deterministic provider for keyless demos and tests: it answers
 * with the last user message, word by word. A "token" here is a
 * whitespace-separated word. When a tool call is forced (tool_choice names a
 * function, or is "required"), it calls that tool with {"text": <prompt>}.
 */
export class EchoAdapter implements Adapter {
  readonly #options: EchoAdapterOptions;

  constructor(options: EchoAdapterOptions) {
    this.#options = options;
  }

  async generate(input: GenerateInput, call: AdapterCall): Promise<GenerateOutput> {
    const out: GenerateOutput = { text: "", toolCalls: [], finishReason: "stop", model: input.model };
    for await (const event of this.stream(input, call)) {
      if (event.type === "text") out.text += event.text;
      else if (event.type === "tool_call") {
        const existing = out.toolCalls[event.index];
        if (existing) existing.arguments += event.argumentsDelta;
        else
          out.toolCalls[event.index] = {
            id: event.id ?? "",
            name: event.name ?? "",
            arguments: event.argumentsDelta,
          };
      } else if (event.type === "finish") out.finishReason = event.reason;
      else out.usage = event.usage;
    }
    return out;
  }

  async *stream(input: GenerateInput, call: AdapterCall): AsyncGenerator<AdapterEvent> {
    const prompt = [...input.messages].reverse().find((m) => m.role === "user")?.content ?? "";
    const inputTokens = input.messages.reduce((n, m) => n + words(m.content).length, 0);
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
    const pieces = words(prompt);
    const limit = input.sampling.maxOutputTokens ?? Number.POSITIVE_INFINITY;
    const served = pieces.slice(0, limit);
    for (let i = 0; i < served.length; i++) {
      await this.#pause(call);
      yield { type: "text", text: i === 0 ? served[i]! : ` ${served[i]!}` };
    }
    yield { type: "finish", reason: served.length < pieces.length ? "length" : "stop", model: input.model };
    yield { type: "usage", usage: { inputTokens, outputTokens: served.length, cachedInputTokens: 0 } };
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
