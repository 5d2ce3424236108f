import type { Secret } from "../../config/secret.ts";
import { UpstreamError } from "../../errors/upstream-error.ts";
import { classifyNetworkError } from "../../upstream/classify.ts";
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
import { errorFromResponse } from "./errors.ts";
import { eventsOfChunk, fromCompletion, toChatRequest, type WireCompletion } from "./translate.ts";

export type OpenAIAdapterOptions = {
  name: string;
  baseUrl: string;
  apiKey: Secret | undefined;
  maxTokensField: "max_tokens" | "max_completion_tokens";
  connections: number;
  connectTimeoutMs: number;
  /** Path on the server's origin answering 200 when ready (vLLM, llama-server: /health). */
  healthPath: string | undefined;
};

/** Any OpenAI-compatible Chat Completions / Embeddings server. */
export class OpenAIAdapter implements Adapter {
  readonly #options: OpenAIAdapterOptions;
  readonly #pool: HttpPool;

  constructor(options: OpenAIAdapterOptions) {
    this.#options = options;
    this.#pool = new HttpPool(options);
  }

  async generate(input: GenerateInput, call: AdapterCall): Promise<GenerateOutput> {
    const response = await this.#post("/chat/completions", toChatRequest(input, false, this.#options), call);
    const wire = (await readJson(this.#options.name, response, call.signal)) as WireCompletion;
    return fromCompletion(wire, input.model);
  }

  async *stream(input: GenerateInput, call: AdapterCall): AsyncGenerator<AdapterEvent> {
    const response = await this.#post("/chat/completions", toChatRequest(input, true, this.#options), call);
    let done = false;
    try {
      for await (const event of parseSse(response.body)) {
        if (event.data === "[DONE]") {
          done = true;
          break;
        }
        let chunk: WireCompletion & { error?: { message?: string } };
        try {
          chunk = JSON.parse(event.data) as typeof chunk;
        } catch {
          throw new UpstreamError("protocol", `${this.#options.name} sent an SSE event that is not JSON`);
        }
        if (chunk.error) {
          throw new UpstreamError("unavailable", `${this.#options.name} sent an error mid-stream`);
        }
        yield* eventsOfChunk(chunk);
      }
    } catch (error) {
      throw classifyNetworkError(error, call.signal);
    } finally {
      response.body.destroy(); // release the socket whether we finished, failed or were abandoned
    }
    if (!done) throw new UpstreamError("unavailable", `${this.#options.name} stream ended without [DONE]`);
  }

  async embed(input: EmbedInput, call: AdapterCall): Promise<EmbedOutput> {
    const body: Record<string, unknown> = {
      model: input.model,
      input: input.inputs,
      encoding_format: "float",
    };
    if (input.dimensions !== undefined) body.dimensions = input.dimensions;
    const response = await this.#post("/embeddings", body, call);
    const wire = (await readJson(this.#options.name, response, call.signal)) as {
      model?: string;
      data?: { index?: number; embedding?: number[] }[];
      usage?: { prompt_tokens?: number };
    };
    const data = [...(wire.data ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    if (data.length !== input.inputs.length || data.some((d) => !Array.isArray(d.embedding))) {
      throw new UpstreamError(
        "protocol",
        `${this.#options.name} returned ${data.length} embeddings for ${input.inputs.length} inputs`,
      );
    }
    const vectors = data.map((d) => Float32Array.from(d.embedding as number[]));
    const prompt = wire.usage?.prompt_tokens;
    return {
      vectors,
      model: wire.model ?? input.model,
      ...(typeof prompt === "number"
        ? { usage: { inputTokens: prompt, outputTokens: 0, cachedInputTokens: 0 } }
        : {}),
    };
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

  async #post(path: string, body: unknown, call: AdapterCall): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      ...call.headers,
      "content-type": "application/json",
      accept: "application/json",
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

async function readJson(backend: string, response: HttpResponse, signal: AbortSignal): Promise<unknown> {
  let text: string;
  try {
    text = await response.body.text();
  } catch (error) {
    throw classifyNetworkError(error, signal);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamError(
      "protocol",
      `${backend} answered HTTP ${response.status} with a body that is not JSON`,
    );
  }
}
