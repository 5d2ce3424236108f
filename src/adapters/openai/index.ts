import type { Secret } from "../../config/secret.ts";
import { UpstreamError } from "../../errors/upstream-error.ts";
import { classifyNetworkError } from "../../upstream/classify.ts";
import { readJson, releaseBody } from "../../upstream/http-body.ts";
import { HttpPool, type HttpResponse } from "../../upstream/http-pool.ts";
import { parseSse } from "../../upstream/sse.ts";
import type {
  Adapter,
  AdapterCall,
  AdapterEvent,
  EmbedInput,
  EmbedOutput,
  GenerateInput,
  GenerateOutput,
} from "../adapter.ts";
import { fromEmbeddings, toEmbeddingsRequest } from "./embeddings.ts";
import { errorFromResponse, midStreamError } from "./errors.ts";
import { type MaxTokensField, QUIRKS, type QuirkProfile, type QuirkProfileName } from "./quirks.ts";
import { toResponsesRequest } from "./responses-request.ts";
import { fromResponse, type WireResponse } from "./responses-response.ts";
import { responsesStreamEvents } from "./responses-stream.ts";
import {
  type ChatRequestOptions,
  eventsOfChunk,
  fromCompletion,
  toChatRequest,
  type WireCompletion,
} from "./translate.ts";

export { QUIRK_PROFILES, QUIRKS, type QuirkProfileName } from "./quirks.ts";

export type OpenAIAdapterOptions = {
  name: string;
  baseUrl: string;
  apiKey: Secret | undefined;
  /** Which server's dialect to speak (quirks.ts); default "openai". */
  quirks?: QuirkProfileName | undefined;
  /** Output-cap field; when absent the profile decides (openai: by model, others: max_tokens). */
  maxTokensField?: MaxTokensField | undefined;
  /** Upstream API: Chat Completions (default) or OpenAI's Responses API, which carries encrypted reasoning. */
  api?: "chat" | "responses" | undefined;
  connections: number;
  connectTimeoutMs: number;
  /** Path on the server's origin answering 200 when ready (vLLM, llama-server: /health). */
  healthPath: string | undefined;
};

/**
 * Any OpenAI-compatible Chat Completions / Embeddings server: api.openai.com, vLLM, Ollama's /v1,
 * llama.cpp's llama-server, Mistral's La Plateforme. Their differences are one row of quirks.ts each.
 */
export class OpenAIAdapter implements Adapter {
  readonly #options: OpenAIAdapterOptions;
  readonly #profile: QuirkProfile;
  readonly #pool: HttpPool;

  constructor(options: OpenAIAdapterOptions) {
    this.#options = options;
    this.#profile = QUIRKS[options.quirks ?? "openai"];
    this.#pool = new HttpPool(options);
  }

  #request(): ChatRequestOptions {
    return { profile: this.#profile, maxTokensField: this.#options.maxTokensField };
  }

  async generate(input: GenerateInput, call: AdapterCall): Promise<GenerateOutput> {
    if (this.#options.api === "responses") {
      const response = await this.#post("/responses", toResponsesRequest(input, false), call);
      const wire = (await readJson(this.#options.name, response, call.signal)) as WireResponse;
      return fromResponse(this.#options.name, wire, input.model);
    }
    const response = await this.#post(
      "/chat/completions",
      toChatRequest(input, false, this.#request()),
      call,
    );
    const wire = (await readJson(this.#options.name, response, call.signal)) as WireCompletion;
    return fromCompletion(wire, input.model, this.#profile);
  }

  async *stream(input: GenerateInput, call: AdapterCall): AsyncGenerator<AdapterEvent> {
    const name = this.#options.name;
    if (this.#options.api === "responses") {
      const response = await this.#post("/responses", toResponsesRequest(input, true), call);
      yield* responsesStreamEvents(name, response, call.signal);
      return;
    }
    const response = await this.#post("/chat/completions", toChatRequest(input, true, this.#request()), call);
    let done = false;
    let produced = false;
    try {
      for await (const event of parseSse(response.body)) {
        if (event.data === "[DONE]") {
          done = true;
          break;
        }
        let chunk: WireCompletion & { error?: unknown; object?: unknown };
        try {
          chunk = JSON.parse(event.data) as typeof chunk;
        } catch {
          throw new UpstreamError("protocol", `${name} sent an SSE event that is not JSON`);
        }
        if (chunk === null || typeof chunk !== "object") {
          throw new UpstreamError("protocol", `${name} sent an SSE event that is not a JSON object`);
        }
        if (chunk.error !== undefined || chunk.object === "error")
          throw midStreamError(name, chunk, produced);
        for (const out of eventsOfChunk(chunk, this.#profile)) {
          if (out.type === "text" || out.type === "tool_call" || out.type === "reasoning") produced = true;
          yield out;
        }
      }
    } catch (error) {
      const upstream = classifyNetworkError(error, call.signal);
      if (produced) upstream.afterFirstToken = true;
      throw upstream;
    } finally {
      releaseBody(response, done);
    }
    if (!done) {
      throw new UpstreamError("unavailable", `${name} stream ended without [DONE]`, {
        afterFirstToken: produced,
      });
    }
  }

  async embed(input: EmbedInput, call: AdapterCall): Promise<EmbedOutput> {
    const response = await this.#post("/embeddings", toEmbeddingsRequest(input, this.#profile), call);
    return fromEmbeddings(
      this.#options.name,
      await readJson(this.#options.name, response, call.signal),
      input,
    );
  }

  async health(call: AdapterCall): Promise<boolean> {
    const path = this.#options.healthPath;
    if (path === undefined) return true;
    try {
      const response = await this.#pool.request({
        method: "GET",
        path,
        fromOrigin: true,
        headers: {},
        signal: call.signal,
      });
      await response.body.dump();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  async #post(path: string, body: Record<string, unknown>, call: AdapterCall): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      ...call.headers,
      "content-type": "application/json",
      accept: body.stream === true ? "text/event-stream" : "application/json",
    };
    const key = this.#options.apiKey;
    if (key) headers.authorization = `Bearer ${key.reveal()}`;
    const response = await this.#pool.request({
      method: "POST",
      path,
      headers,
      body: JSON.stringify(body),
      signal: call.signal,
    });
    if (response.status >= 400) throw await errorFromResponse(this.#options.name, response);
    return response;
  }
}
