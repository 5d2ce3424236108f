import { create } from "@bufbuild/protobuf";
import { type CallOptions, type Client, createClient } from "@connectrpc/connect";
import {
  GRPCInferenceService,
  type ModelInferRequest,
  ModelInferRequestSchema,
  type ModelInferResponse,
  type ModelMetadataResponse,
} from "../../../gen/inference/grpc_service_pb.ts";
import type { Secret } from "../../config/secret.ts";
import { UpstreamError } from "../../errors/upstream-error.ts";
import { GrpcChannel, readStream, upstreamErrorOf } from "../../upstream/grpc-channel.ts";
import type {
  Adapter,
  AdapterCall,
  AdapterEvent,
  GenerateInput,
  GenerateOutput,
  TokenUsage,
} from "../adapter.ts";
import { checkModelMetadata, type ModelTensors } from "./metadata.ts";
import { PROFILES, type Profile, type ProfileName } from "./profiles.ts";
import { renderPrompt } from "./prompt.ts";
import { finishReasonOf, type ResponsePart, readResponse } from "./response.ts";
import { refuseUncarried } from "./uncarried.ts";

export type KServeAdapterOptions = {
  /** Backend name, used in error messages. */
  name: string;
  /** gRPC endpoint: `http://host:8001` (h2c) or `https://…` (TLS). */
  address: string;
  apiKey: Secret | undefined;
  profile: ProfileName;
  /**
   * Decoupled models (the Triton vLLM backend always; TensorRT-LLM when
   * streaming) answer only on ModelStreamInfer. Non-decoupled ones use ModelInfer.
   */
  decoupled: boolean;
  /** Output cap sent when the caller gave none. */
  defaultMaxTokens: number;
  maxMessageBytes: number;
};

/**
 * KServe v2 Open Inference Protocol / Triton over gRPC, for LLM models served
 * with a raw-text tensor profile (vLLM or TensorRT-LLM). Chat messages are
 * rendered to one prompt (prompt.ts). On first use of a model the adapter
 * reads its ModelMetadata once, checks it against the profile and learns
 * which optional inputs (token counts, finish reason, …) it may send.
 */
export class KServeAdapter implements Adapter {
  readonly #options: KServeAdapterOptions;
  readonly #profile: Profile;
  readonly #channel: GrpcChannel;
  readonly #client: Client<typeof GRPCInferenceService>;
  readonly #models = new Map<string, Promise<ModelTensors>>();

  constructor(options: KServeAdapterOptions) {
    this.#options = options;
    this.#profile = PROFILES[options.profile];
    this.#channel = new GrpcChannel({ address: options.address, maxMessageBytes: options.maxMessageBytes });
    this.#client = createClient(GRPCInferenceService, this.#channel.transport);
  }

  async generate(input: GenerateInput, call: AdapterCall): Promise<GenerateOutput> {
    if (!this.#options.decoupled) return this.#infer(input, call);
    const out: GenerateOutput = { text: "", toolCalls: [], finishReason: "stop", model: input.model };
    for await (const event of this.#streamInfer(input, call, false)) {
      if (event.type === "text") out.text += event.text;
      else if (event.type === "usage") out.usage = event.usage;
      else if (event.type === "finish") {
        out.finishReason = event.reason;
        if (event.model) out.model = event.model;
      }
    }
    return out;
  }

  async *stream(input: GenerateInput, call: AdapterCall): AsyncGenerator<AdapterEvent> {
    if (this.#options.decoupled) {
      yield* this.#streamInfer(input, call, true);
      return;
    }
    // A non-decoupled model answers once: the whole text is one event.
    const out = await this.#infer(input, call);
    if (out.text) yield { type: "text", text: out.text };
    if (out.usage) yield { type: "usage", usage: out.usage };
    yield { type: "finish", reason: out.finishReason, model: out.model };
  }

  /**
   * Start-up check: reads ModelMetadata of each model and checks the profile's
   * required inputs (names and datatypes) and text output exist. Throws an
   * Error naming the backend, the model and the missing or mistyped tensor.
   */
  async verify(call: AdapterCall, models: readonly string[]): Promise<void> {
    for (const model of models) {
      const tensors = this.#fetchMetadata(model, call);
      this.#models.set(model, tensors);
      try {
        await tensors;
      } catch (error) {
        this.#models.delete(model);
        if (!(error instanceof UpstreamError)) throw error;
        throw new Error(
          `backend "${this.#options.name}": cannot read metadata of model "${model}": ${error.message}`,
          { cause: error },
        );
      }
    }
  }

  /** ServerReady, then ModelReady for each model (default: the models used so far). Never throws. */
  async health(call: AdapterCall, models: readonly string[] = [...this.#models.keys()]): Promise<boolean> {
    const options = this.#channel.callOptions(call, this.#options.apiKey);
    const leave = this.#channel.enter();
    try {
      if (!(await this.#client.serverReady({}, options)).ready) return false;
      for (const name of models) {
        if (!(await this.#client.modelReady({ name }, options)).ready) return false;
      }
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

  async #infer(input: GenerateInput, call: AdapterCall): Promise<GenerateOutput> {
    this.#rejectUnsupported(input);
    const leave = this.#channel.enter();
    try {
      const tensors = await this.#tensorsFor(input.model, call);
      const request = this.#request(input, tensors, { stream: false, streamInfer: false });
      const response = await this.#client.modelInfer(request, this.#callOptions(call));
      const part = this.#read(response, echoedPrompt(input, tensors, false));
      const usage = usageOf(part.inputTokens, part.outputTokens);
      return {
        text: part.text,
        toolCalls: [],
        finishReason: this.#finishReason(input, part.finishReason, part.outputTokens),
        model: response.modelName || input.model,
        ...(usage ? { usage } : {}),
      };
    } catch (error) {
      throw upstreamErrorOf(this.#options.name, error, call.signal);
    } finally {
      leave();
    }
  }

  /**
   * Triton ModelStreamInfer: one request, then our side closes. Responses end
   * at `triton_final_response` (asked for with triton_enable_empty_final_response,
   * so an empty final one comes even when the last text did not carry the flag).
   */
  async *#streamInfer(
    input: GenerateInput,
    call: AdapterCall,
    stream: boolean,
  ): AsyncGenerator<AdapterEvent> {
    this.#rejectUnsupported(input);
    const name = this.#options.name;
    const leave = this.#channel.enter();
    let produced = false;
    let final = false;
    let model = input.model;
    let inputTokens: number | undefined;
    let outputTokens: number | undefined;
    let finish: string | undefined;
    try {
      const tensors = await this.#tensorsFor(input.model, call);
      const request = this.#request(input, tensors, { stream, streamInfer: true });
      const echoed = echoedPrompt(input, tensors, stream);
      const responses = readStream(
        (signal) => this.#client.modelStreamInfer(single(request), { ...this.#callOptions(call), signal }),
        call.signal,
      );
      for await (const message of responses) {
        if (final) continue; // nothing is owed after the final response
        if (message.errorMessage) throw streamError(name, message.errorMessage);
        if (!message.inferResponse) continue;
        const part = this.#read(message.inferResponse, echoed);
        model = message.inferResponse.modelName || model;
        if (part.inputTokens !== undefined) inputTokens = part.inputTokens;
        if (part.outputTokens !== undefined) outputTokens = (outputTokens ?? 0) + part.outputTokens;
        if (part.finishReason) finish = part.finishReason;
        if (part.text) {
          produced = true;
          yield { type: "text", text: part.text };
        }
        // Read on to the end of the RPC: Triton closes it right after the final response
        // (our side is already closed), and a clean end avoids cancelling a finished request.
        if (part.final) final = true;
      }
    } catch (error) {
      const failure = upstreamErrorOf(name, error, call.signal);
      failure.afterFirstToken = produced;
      throw failure;
    } finally {
      leave();
    }
    if (!final) {
      throw new UpstreamError("unavailable", `${name} stream ended early (no final response)`, {
        afterFirstToken: produced,
      });
    }
    const usage = usageOf(inputTokens, outputTokens);
    if (usage) yield { type: "usage", usage };
    yield { type: "finish", reason: this.#finishReason(input, finish, outputTokens), model };
  }

  #request(
    input: GenerateInput,
    tensors: ModelTensors,
    mode: { stream: boolean; streamInfer: boolean },
  ): ModelInferRequest {
    const inputs = this.#profile.buildInputs({
      prompt: renderPrompt(input.messages),
      sampling: input.sampling,
      defaultMaxTokens: this.#options.defaultMaxTokens,
      stream: mode.stream,
      has: (tensor) => tensors.inputs.has(tensor),
    });
    return create(ModelInferRequestSchema, {
      modelName: input.model,
      inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(BigInt) })),
      // All inputs raw (Triton refuses a mix of raw and typed contents).
      rawInputContents: inputs.map((t) => t.raw),
      parameters: mode.streamInfer
        ? { triton_enable_empty_final_response: { parameterChoice: { case: "boolParam", value: true } } }
        : {},
    });
  }

  /** The model's tensors, from one cached ModelMetadata call per model. */
  async #tensorsFor(model: string, call: AdapterCall): Promise<ModelTensors> {
    let pending = this.#models.get(model);
    if (pending === undefined) {
      pending = this.#fetchMetadata(model, call);
      this.#models.set(model, pending);
      // Not cached when it failed: the next call asks again (the operator may have fixed the model).
      const mine = pending;
      mine.catch(() => {
        if (this.#models.get(model) === mine) this.#models.delete(model);
      });
    }
    try {
      return await untilAborted(pending, call.signal);
    } catch (error) {
      if (error instanceof UpstreamError || call.signal.aborted) throw error;
      // A profile mismatch found at call time: the operator's configuration, not the caller's input.
      throw new UpstreamError("protocol", (error as Error).message, { cause: error });
    }
  }

  /** Shared by concurrent first callers, so it carries no caller's signal, only the deadline. */
  async #fetchMetadata(model: string, call: AdapterCall): Promise<ModelTensors> {
    const { signal: _signal, ...options } = this.#channel.callOptions(call, this.#options.apiKey);
    let metadata: ModelMetadataResponse;
    try {
      metadata = await this.#client.modelMetadata({ name: model }, options);
    } catch (error) {
      throw upstreamErrorOf(this.#options.name, error, NEVER_ABORTED);
    }
    return checkModelMetadata(this.#options.name, model, this.#profile, metadata);
  }

  #callOptions(call: AdapterCall): CallOptions {
    return this.#channel.callOptions(call, this.#options.apiKey);
  }

  #read(response: ModelInferResponse, echoed: string | undefined): ResponsePart {
    let part: ResponsePart;
    try {
      part = readResponse(response, this.#profile.output);
    } catch (error) {
      throw new UpstreamError("protocol", `${this.#options.name} sent a malformed tensor: ${String(error)}`);
    }
    if (echoed !== undefined && part.text.startsWith(echoed)) part.text = part.text.slice(echoed.length);
    return part;
  }

  #finishReason(input: GenerateInput, reported: string | undefined, outputTokens: number | undefined) {
    const cap = input.sampling.maxOutputTokens ?? this.#options.defaultMaxTokens;
    if (reported === undefined && outputTokens !== undefined && outputTokens >= cap) return "length";
    return finishReasonOf(reported);
  }

  #rejectUnsupported(input: GenerateInput): void {
    const name = this.#options.name;
    refuseUncarried(input, "kserve", name);
    if (
      input.tools.length > 0 &&
      !(input.toolChoice && "mode" in input.toolChoice && input.toolChoice.mode === "none")
    )
      throw new UpstreamError("bad_request", `backend ${name} (kserve) does not support tools`);
    const format = input.responseFormat?.type;
    if (format === "json_object" || format === "json_schema")
      throw new UpstreamError("bad_request", `backend ${name} (kserve) does not support response formats`);
  }
}

/**
 * vLLM and TensorRT-LLM start a non-streamed answer with the prompt unless
 * asked not to (exclude_input_in_output, absent from older versions): the
 * prompt to strip then, else undefined.
 */
function echoedPrompt(input: GenerateInput, tensors: ModelTensors, stream: boolean): string | undefined {
  return stream || tensors.inputs.has("exclude_input_in_output") ? undefined : renderPrompt(input.messages);
}

const NEVER_ABORTED = new AbortController().signal;

async function* single<T>(message: T): AsyncGenerator<T> {
  yield message;
}

/** An error reported inside the stream (the RPC itself stays OK). */
function streamError(backend: string, message: string): UpstreamError {
  // Input the model rejects (bad sampling values, a prompt over the context length) fails anywhere.
  const kind = /\binvalid\b|maximum context length|exceeds/i.test(message) ? "bad_request" : "unavailable";
  // The server's message is not passed on: it can quote the prompt.
  return new UpstreamError(kind, `${backend} reported an inference error (${message.length} characters)`);
}

function usageOf(input: number | undefined, output: number | undefined): TokenUsage | undefined {
  if (input === undefined || output === undefined) return undefined;
  return { inputTokens: input, outputTokens: output, cachedInputTokens: 0 };
}

/** Rejects as soon as the signal aborts, without cancelling the shared promise. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new UpstreamError("timeout", "upstream call aborted"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void =>
      reject(new UpstreamError("timeout", "upstream call aborted (deadline or cancel)"));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
