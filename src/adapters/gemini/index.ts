import type { Secret } from "../../config/secret.ts";
import { UpstreamError } from "../../errors/upstream-error.ts";
import { classifyNetworkError } from "../../upstream/classify.ts";
import { readJson } from "../../upstream/http-body.ts";
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
import { errorFromResponse, midStreamError, statusOf } from "./errors.ts";
import { fromResponse, type WireResponse } from "./response.ts";
import { GeminiStream } from "./stream.ts";
import { modelName, modelPath, toGenerateRequest } from "./translate.ts";

export type GeminiAdapterOptions = {
  name: string;
  /** Base URL including the API version, e.g. https://generativelanguage.googleapis.com/v1beta */
  baseUrl: string;
  apiKey: Secret | undefined;
  connections: number;
  connectTimeoutMs: number;
};

/** batchEmbedContents takes at most 100 requests; larger inputs go in several calls, in order. */
export const EMBED_BATCH_LIMIT = 100;

/** Google's Gemini API (generativelanguage.googleapis.com, v1beta): generateContent and embeddings. */
export class GeminiAdapter implements Adapter {
  readonly #options: GeminiAdapterOptions;
  readonly #pool: HttpPool;

  constructor(options: GeminiAdapterOptions) {
    this.#options = options;
    this.#pool = new HttpPool(options);
  }

  async generate(input: GenerateInput, call: AdapterCall): Promise<GenerateOutput> {
    const path = `${modelPath(input.model)}:generateContent`;
    const response = await this.#post(path, toGenerateRequest(input), call);
    const wire = (await readJson(this.#options.name, response, call.signal)) as WireResponse;
    return fromResponse(this.#options.name, wire, input.model);
  }

  async *stream(input: GenerateInput, call: AdapterCall): AsyncGenerator<AdapterEvent> {
    const path = `${modelPath(input.model)}:streamGenerateContent?alt=sse`;
    const response = await this.#post(path, toGenerateRequest(input), call);
    const state = new GeminiStream(this.#options.name);
    try {
      for await (const event of parseSse(response.body)) {
        let chunk: unknown;
        try {
          chunk = JSON.parse(event.data);
        } catch {
          throw new UpstreamError("protocol", `${this.#options.name} sent an SSE event that is not JSON`, {
            afterFirstToken: state.produced,
          });
        }
        const error = statusOf(chunk);
        if (error) throw midStreamError(this.#options.name, error, state.produced);
        yield* state.events(chunk as WireResponse);
      }
    } catch (error) {
      const upstream = classifyNetworkError(error, call.signal);
      upstream.afterFirstToken ||= state.produced;
      throw upstream;
    } finally {
      response.body.destroy(); // release the socket whether we finished, failed or were abandoned
    }
    yield* state.end();
  }

  async embed(input: EmbedInput, call: AdapterCall): Promise<EmbedOutput> {
    const vectors: Float32Array[] = [];
    if (input.inputs.length === 1) {
      vectors.push(await this.#embedOne(input, input.inputs[0] ?? "", call));
    } else {
      for (let start = 0; start < input.inputs.length; start += EMBED_BATCH_LIMIT) {
        const batch = input.inputs.slice(start, start + EMBED_BATCH_LIMIT);
        vectors.push(...(await this.#embedBatch(input, batch, call)));
      }
    }
    // The Gemini API reports no token usage for embeddings: the gateway estimates.
    return { vectors, model: input.model };
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  async #embedOne(input: EmbedInput, text: string, call: AdapterCall): Promise<Float32Array> {
    const body: Record<string, unknown> = { content: { parts: [{ text }] } };
    if (input.dimensions !== undefined) body.outputDimensionality = input.dimensions;
    const response = await this.#post(`${modelPath(input.model)}:embedContent`, body, call);
    const wire = (await readJson(this.#options.name, response, call.signal)) as {
      embedding?: { values?: unknown };
    };
    const values = wire.embedding?.values;
    if (!isNumbers(values)) {
      throw new UpstreamError("protocol", `${this.#options.name} returned no embedding values`);
    }
    return Float32Array.from(values);
  }

  async #embedBatch(input: EmbedInput, texts: string[], call: AdapterCall): Promise<Float32Array[]> {
    const model = modelName(input.model);
    const requests = texts.map((text) => ({
      model,
      content: { parts: [{ text }] },
      ...(input.dimensions !== undefined ? { outputDimensionality: input.dimensions } : {}),
    }));
    const response = await this.#post(`${modelPath(input.model)}:batchEmbedContents`, { requests }, call);
    const wire = (await readJson(this.#options.name, response, call.signal)) as {
      embeddings?: { values?: unknown }[];
    };
    const embeddings = wire.embeddings ?? [];
    if (embeddings.length !== texts.length || !embeddings.every((e) => isNumbers(e.values))) {
      throw new UpstreamError(
        "protocol",
        `${this.#options.name} returned ${embeddings.length} embeddings for ${texts.length} inputs`,
      );
    }
    return embeddings.map((e) => Float32Array.from(e.values as number[]));
  }

  async #post(path: string, body: unknown, call: AdapterCall): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...call.headers, "content-type": "application/json" };
    const key = this.#options.apiKey;
    if (key) headers["x-goog-api-key"] = key.reveal();
    const response = await this.#pool.request({
      method: "POST",
      path,
      headers,
      body: JSON.stringify(body),
      signal: call.signal,
    });
    if (response.status >= 400) throw await errorFromResponse(this.#options.name, response);
    if (response.status !== 200) {
      response.body.destroy();
      throw new UpstreamError("protocol", `${this.#options.name} answered HTTP ${response.status}`, {
        status: response.status,
      });
    }
    return response;
  }
}

function isNumbers(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === "number");
}
