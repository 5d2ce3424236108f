import type { Secret } from "../../config/secret.ts";
import { UpstreamError } from "../../errors/upstream-error.ts";
import { classifyNetworkError } from "../../upstream/classify.ts";
import { readJson, releaseBody } from "../../upstream/http-body.ts";
import { HttpPool, type HttpResponse } from "../../upstream/http-pool.ts";
import { parseSse } from "../../upstream/sse.ts";
import type { Adapter, AdapterCall, AdapterEvent, GenerateInput, GenerateOutput } from "../adapter.ts";
import { errorFromResponse } from "./errors.ts";
import { MessageStreamTranslator } from "./stream.ts";
import {
  type AnthropicApiVersion,
  formatToolOf,
  fromMessage,
  toMessagesRequest,
  type WireMessage,
} from "./translate.ts";

export type { AnthropicApiVersion } from "./translate.ts";

export type AnthropicAdapterOptions = {
  name: string;
  /** Origin (and any proxy prefix) without `/v1`, e.g. https://api.anthropic.com */
  baseUrl: string;
  apiKey: Secret | undefined;
  /** Pinned per backend and sent as `anthropic-version`; request rules differ per version. */
  apiVersion: AnthropicApiVersion;
  /** `max_tokens` is required by Anthropic: used when the caller gives no output cap. */
  defaultMaxTokens: number;
  connections: number;
  connectTimeoutMs: number;
};

/**
 * Anthropic's Messages API (POST /v1/messages). No `embed`: Anthropic has no embeddings API.
 */
export class AnthropicAdapter implements Adapter {
  readonly #options: AnthropicAdapterOptions;
  readonly #pool: HttpPool;

  constructor(options: AnthropicAdapterOptions) {
    this.#options = options;
    this.#pool = new HttpPool(options);
  }

  async generate(input: GenerateInput, call: AdapterCall): Promise<GenerateOutput> {
    const response = await this.#post(toMessagesRequest(input, false, this.#options), call);
    const wire = (await readJson(this.#options.name, response, call.signal)) as WireMessage;
    return fromMessage(wire, input.model, formatToolOf(input));
  }

  async *stream(input: GenerateInput, call: AdapterCall): AsyncGenerator<AdapterEvent> {
    const name = this.#options.name;
    const translator = new MessageStreamTranslator(name, formatToolOf(input));
    const response = await this.#post(toMessagesRequest(input, true, this.#options), call);
    try {
      for await (const event of parseSse(response.body)) {
        yield* translator.push(event);
        if (translator.done) break;
      }
    } catch (error) {
      const upstream = classifyNetworkError(error, call.signal);
      if (translator.producedOutput) upstream.afterFirstToken = true;
      throw upstream;
    } finally {
      releaseBody(response, translator.done);
    }
    if (!translator.done) {
      throw new UpstreamError("unavailable", `${name} stream ended early, without message_stop`, {
        afterFirstToken: translator.producedOutput,
      });
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  async #post(body: Record<string, unknown>, call: AdapterCall): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      ...call.headers,
      "content-type": "application/json",
      accept: body.stream === true ? "text/event-stream" : "application/json",
      "anthropic-version": this.#options.apiVersion,
    };
    const key = this.#options.apiKey;
    if (key) headers["x-api-key"] = key.reveal();
    const response = await this.#pool.request({
      method: "POST",
      path: "/v1/messages",
      headers,
      body: JSON.stringify(body),
      signal: call.signal,
    });
    if (response.status >= 400) throw await errorFromResponse(this.#options.name, response);
    return response;
  }
}
