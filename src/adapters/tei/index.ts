import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import {
  Embed,
  type EmbedRequest,
  EmbedRequestSchema,
  type EmbedResponse,
  Info,
  TruncationDirection,
} from "../../../gen/tei/v1/tei_pb.ts";
import type { Secret } from "../../config/secret.ts";
import { UpstreamError } from "../../errors/upstream-error.ts";
import { GrpcChannel, readStream, upstreamErrorOf } from "../../upstream/grpc-channel.ts";
import type {
  Adapter,
  AdapterCall,
  AdapterEvent,
  EmbedInput,
  EmbedOutput,
  GenerateInput,
  GenerateOutput,
} from "../adapter.ts";
import { uncarriedField } from "../kserve/uncarried.ts";

export type TeiAdapterOptions = {
  /** Backend name, used in error messages. */
  name: string;
  /** gRPC endpoint of text-embeddings-inference: `http://host:port` (h2c) or `https://…`. */
  address: string;
  apiKey: Secret | undefined;
  /** Ask TEI for unit-length vectors (TEI's own default is true). */
  normalize: boolean;
  /** Truncate inputs over the model's max_input_length instead of failing. */
  truncate: boolean;
  truncationDirection: "right" | "left";
  /** A prompt name from the model's sentence-transformers config (e.g. "query"). */
  promptName: string | undefined;
  maxMessageBytes: number;
};

/** What verify() learnt from tei.v1.Info. */
export type TeiInfo = { modelId: string; maxClientBatchSize: number; maxInputLength: number };

/**
 * Hugging Face text-embeddings-inference over gRPC (`tei.v1`). One text goes
 * through unary Embed; a batch through EmbedStream, one request per text,
 * answered in order. When verify() has read Info, batches larger than the
 * server's max_client_batch_size are sent as several streams, one after another.
 */
export class TeiAdapter implements Adapter {
  readonly #options: TeiAdapterOptions;
  readonly #channel: GrpcChannel;
  readonly #embed: Client<typeof Embed>;
  readonly #info: Client<typeof Info>;
  #known: TeiInfo | undefined;

  constructor(options: TeiAdapterOptions) {
    this.#options = options;
    this.#channel = new GrpcChannel({ address: options.address, maxMessageBytes: options.maxMessageBytes });
    this.#embed = createClient(Embed, this.#channel.transport);
    this.#info = createClient(Info, this.#channel.transport);
  }

  generate(input: GenerateInput, _call: AdapterCall): Promise<GenerateOutput> {
    return Promise.reject(this.#embeddingsOnly(input));
  }

  // biome-ignore lint/correctness/useYield: generation is refused before any event
  async *stream(input: GenerateInput, _call: AdapterCall): AsyncGenerator<AdapterEvent> {
    throw this.#embeddingsOnly(input);
  }

  async embed(input: EmbedInput, call: AdapterCall): Promise<EmbedOutput> {
    const name = this.#options.name;
    if (input.inputs.length === 0) return { vectors: [], model: this.#known?.modelId || input.model };
    const requests = input.inputs.map((text) => this.#request(text, input.dimensions));
    const leave = this.#channel.enter();
    const responses: EmbedResponse[] = [];
    try {
      const options = this.#channel.callOptions(call, this.#options.apiKey);
      if (requests.length === 1) {
        responses.push(await this.#embed.embed(requests[0] as EmbedRequest, options));
      } else {
        for (const batch of chunks(requests, this.#known?.maxClientBatchSize)) {
          const stream = readStream(
            (signal) => this.#embed.embedStream(iterate(batch), { ...options, signal }),
            call.signal,
          );
          for await (const response of stream) responses.push(response);
        }
      }
    } catch (error) {
      throw upstreamErrorOf(name, error, call.signal);
    } finally {
      leave();
    }
    if (responses.length !== requests.length) {
      throw new UpstreamError(
        "protocol",
        `${name} returned ${responses.length} embeddings for ${requests.length} inputs`,
      );
    }
    let tokens: number | undefined = 0;
    for (const response of responses) {
      tokens =
        response.metadata && tokens !== undefined ? tokens + response.metadata.computeTokens : undefined;
    }
    return {
      vectors: responses.map((r) => Float32Array.from(r.embeddings)),
      model: this.#known?.modelId || input.model,
      ...(tokens !== undefined && responses.length > 0
        ? { usage: { inputTokens: tokens, outputTokens: 0, cachedInputTokens: 0 } }
        : {}),
    };
  }

  /**
   * Start-up check: reads tei.v1.Info (model id and limits) and keeps it, so
   * large batches are split to the server's max_client_batch_size.
   */
  async verify(call: AdapterCall): Promise<TeiInfo> {
    let info: TeiInfo;
    try {
      const response = await this.#info.info({}, this.#channel.callOptions(call, this.#options.apiKey));
      info = {
        modelId: response.modelId,
        maxClientBatchSize: response.maxClientBatchSize,
        maxInputLength: response.maxInputLength,
      };
    } catch (error) {
      const failure = upstreamErrorOf(this.#options.name, error, call.signal);
      throw new Error(`backend "${this.#options.name}": cannot read TEI Info: ${failure.message}`, {
        cause: failure,
      });
    }
    this.#known = info;
    return info;
  }

  /** Whether Info answers. Never throws. */
  async health(call: AdapterCall): Promise<boolean> {
    const leave = this.#channel.enter();
    try {
      await this.#info.info({}, this.#channel.callOptions(call, this.#options.apiKey));
      return true;
    } catch {
      return false;
    } finally {
      leave();
    }
  }

  close(): Promise<void> {
    return this.#channel.close();
  }

  #request(text: string, dimensions: number | undefined): EmbedRequest {
    const { normalize, truncate, truncationDirection, promptName } = this.#options;
    return create(EmbedRequestSchema, {
      inputs: text,
      normalize,
      truncate,
      truncationDirection:
        truncationDirection === "left" ? TruncationDirection.LEFT : TruncationDirection.RIGHT,
      ...(promptName === undefined ? {} : { promptName }),
      ...(dimensions === undefined ? {} : { dimensions }),
    });
  }

  /** Generation is refused; a field TEI could not carry even as text is named first. */
  #embeddingsOnly(input: GenerateInput): UpstreamError {
    const name = this.#options.name;
    const field = uncarriedField(input);
    if (field !== undefined)
      return new UpstreamError("bad_request", `${field} not supported by tei backend ${name}`);
    return new UpstreamError("bad_request", `backend ${name} (tei) serves embeddings only`);
  }
}

async function* iterate<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

function chunks<T>(items: readonly T[], size: number | undefined): T[][] {
  if (size === undefined || size <= 0 || items.length <= size) return [[...items]];
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += size) out.push(items.slice(at, at + size));
  return out;
}
