// A faithful, scriptable fake of api.openai.com (chat completions, responses, embeddings, models) on a
// loopback port. The Responses API (POST /v1/responses) lives in openai-responses-fake.ts.
// Wire shapes: openai-wire.ts; admission checks: openai-http.ts; error bodies: openai-errors.ts and
// test/fixtures/openai/*.http; SSE writer: sse.ts. With `dialect`, it speaks like Mistral (openai-mistral.ts:
// request checks, error bodies from test/fixtures/mistral/), Ollama's /v1 or llama-server instead
// (openai-dialects.ts: response shapes).
import type { IncomingMessage, ServerResponse } from "node:http";
import { chatPrompt, collectText, type EngineProducer } from "./engine-source.ts";
import { createFakeCore, type RecordedRequest } from "./http-fake-core.ts";
import {
  COMPAT_STYLES,
  compatCompletion,
  compatStreamEvents,
  compatStreamParts,
  completionId,
  dialectHeaders,
  type OpenAIDialect,
  toolCallIdMaker,
} from "./openai-dialects.ts";
import { errorResponse, isErrorFixtureName, openAIErrorBody } from "./openai-errors.ts";
import { logprobsAsked, REASONING_FIELD, type ReasoningField, SERVICE_TIER } from "./openai-extras.ts";
import { admit, isObject, type Json, routeOf, send, sendError } from "./openai-http.ts";
import {
  isMistralFixtureName,
  mistralEmbeddings,
  mistralErrorResponse,
  mistralRejection,
} from "./openai-mistral.ts";
import { isResponsesRoute, serveResponses } from "./openai-responses-fake.ts";
import { ReasoningSeal } from "./openai-responses-seal.ts";
import {
  type ChatPlan,
  chatCompletion,
  chatStreamEvents,
  chatStreamParts,
  embeddingInputs,
  embeddingsResponse,
  MODELS,
  messageTexts,
  planChat,
  successHeaders,
  type Usage,
} from "./openai-wire.ts";
import { sleep, writeSse } from "./sse.ts";

export type ChatScript = {
  kind?: "chat";
  /** Assistant content; default "Hello from fake" (null content when only toolCalls are given). */
  text?: string;
  /** Explicit content deltas for streaming (default: text split into words keeping spaces). */
  chunks?: string[];
  /**
   * Streamed as deltas by index; arguments in 2+ pieces (one piece in the Mistral dialect). Without an id,
   * the fake makes one the way the dialect's server does (`call_…`, or 9 alphanumerics for Mistral).
   */
  toolCalls?: { id?: string; name: string; arguments: string }[];
  /** Default "stop", or "tool_calls" when toolCalls are given. */
  finishReason?: string;
  /**
   * Default: prompt_tokens = words in the messages, completion_tokens = reasoning + content deltas +
   * argument pieces, reasoning_tokens = reasoning deltas.
   */
  usage?: Usage;
  /**
   * Reasoning text, streamed in word deltas before the content, in the dialect's place (openai-extras.ts:
   * `reasoning` for vLLM and Ollama, `reasoning_content` for llama-server, `thinking` chunks for Mistral).
   */
  reasoning?: string;
  /** Explicit reasoning deltas instead of `reasoning` split into words. */
  reasoningChunks?: string[];
  /** Overrides the dialect's reasoning field (vLLM before 0.11 and DeepSeek: `reasoning_content`). */
  reasoningField?: ReasoningField;
  /** Tier reported; default: what the server reports for the request's `service_tier`. */
  serviceTier?: string;
  /** Echoed model; default the request's `model`. */
  model?: string;
  /** Wait before sending the response headers. */
  delayMs?: number;
  /** Wait between SSE events (slow drip). */
  chunkDelayMs?: number;
  /** Streaming: destroy the socket after N `data:` events (the role chunk counts; no [DONE]). */
  cutAfterEvents?: number;
  /** Streaming: stop sending after N events but keep the socket open. */
  hangAfterEvents?: number;
  /** Streaming: wait this long after `data: [DONE]` before ending the response. */
  endDelayMs?: number;
  /**
   * Streaming: after N events (the role chunk counts) send `data: {"error": error}` and end the response
   * without [DONE], as api.openai.com does when generation fails mid-stream.
   */
  streamError?: { afterEvents: number; error: Json };
  headers?: Record<string, string>;
};
export type ErrorScript = {
  kind: "error";
  status: number;
  /** Sent instead of the fixture's body: strings and bytes as-is, anything else as OpenAI-style JSON. */
  body?: unknown;
  /**
   * A name from OPENAI_ERROR_FIXTURES (openai-errors.ts), or MISTRAL_ERROR_FIXTURES (openai-mistral.ts) in
   * the Mistral dialect; default: the fixture for `status`, if any.
   */
  fixture?: string;
  /** Added to (and overriding) the fixture's recorded headers. */
  headers?: Record<string, string>;
  delayMs?: number;
};
/** reset: RST the connection before any response; hang: never answer. */
export type FaultScript = { kind: "reset" } | { kind: "hang" };
export type EmbeddingScript = { kind: "embedding"; dims?: number; usage?: { prompt_tokens: number } };
/**
 * Chat served by a live engine instead of scripted text (engine-source.ts): the messages become one prompt
 * (`role: content` lines), `max_completion_tokens` / `max_tokens` cap it (default: until the context is
 * full, as llama-server does), deltas stream as the engine makes them, usage is the engine's own count, and
 * the engine stops when the client goes away. Wire format as for scripted replies, in every dialect.
 */
export type EngineScript = {
  kind: "engine";
  engine: EngineProducer;
  delayMs?: number;
  /** Pause between SSE events; the engine generates nothing meanwhile (it runs only when pulled). */
  chunkDelayMs?: number;
  headers?: Record<string, string>;
};
export type Script = ChatScript | ErrorScript | FaultScript | EmbeddingScript | EngineScript;
export type { RecordedRequest };
export interface OpenAIFake {
  url: string;
  port: number;
  requests: RecordedRequest[];
  served: {
    requests: number;
    completionTokens: number;
    promptTokens: number;
    streamsCompleted: number;
    aborts: number;
  };
  enqueue(...scripts: Script[]): void;
  setDefault(script: Script | ((req: RecordedRequest) => Script)): void;
  /** Status of `GET /health`, the readiness probe of vLLM and llama-server (default 200). */
  setHealth(status: number): void;
  waitForRequests(n: number): Promise<void>;
  waitForAbort(index: number): Promise<void>;
  /** Resolves once `ready` holds (re-checked on each request, abort and completed stream). */
  waitUntil(ready: () => boolean): Promise<void>;
  openSockets(): number;
  close(): Promise<void>;
}

function checkScript(script: Script, dialect: OpenAIDialect): void {
  if (script.kind !== "error" || script.fixture === undefined) return;
  const known =
    dialect === "mistral" ? isMistralFixtureName(script.fixture) : isErrorFixtureName(script.fixture);
  if (!known) throw new Error(`unknown ${dialect} error fixture: ${script.fixture}`);
}

/** One request in flight: its record, an abort signal that fires when the response closes, its clock. */
type Exchange = {
  req: IncomingMessage;
  res: ServerResponse;
  rec: RecordedRequest;
  signal: AbortSignal;
  startedAt: number;
  /** The fake is about to drop the connection itself: not a client abort. */
  markCut(): void;
};

function headersFor(dialect: OpenAIDialect, contentType: string, startedAt: number): Record<string, string> {
  return dialect === "openai" ? successHeaders(contentType, startedAt) : dialectHeaders(dialect, contentType);
}

function sendJson(
  ex: Exchange,
  value: unknown,
  extra: Record<string, string> = {},
  dialect: OpenAIDialect = "openai",
): void {
  const headers = { ...headersFor(dialect, "application/json", ex.startedAt), ...extra };
  // api.openai.com pretty-prints; the others send compact JSON.
  send(ex.res, 200, headers, dialect === "openai" ? JSON.stringify(value, null, 2) : JSON.stringify(value));
}

function serveModel(ex: Exchange, id: string): void {
  const model = MODELS.find((m) => m.id === id);
  if (model) {
    sendJson(ex, model);
    return;
  }
  const body = openAIErrorBody(
    `The model '${id}' does not exist`,
    "invalid_request_error",
    "model",
    "model_not_found",
  );
  sendError(ex.res, 404, body);
}

export type OpenAIFakeOptions = {
  requireApiKey?: string;
  /** Which server to imitate (default "openai"); see openai-dialects.ts. */
  dialect?: OpenAIDialect;
};

export async function startOpenAIFake(opts: OpenAIFakeOptions = {}): Promise<OpenAIFake> {
  const dialect = opts.dialect ?? "openai";
  const served = { requests: 0, completionTokens: 0, promptTokens: 0, streamsCompleted: 0, aborts: 0 };
  const core = createFakeCore<Script>(served, (script) => checkScript(script, dialect));
  let healthStatus = 200;
  const seal = new ReasoningSeal();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    const received = await core.receive(req, res);
    if (received === undefined) return;
    const { rec, parsed } = received;
    const ex: Exchange = { req, res, rec, signal: received.signal, startedAt, markCut: received.markCut };
    const { pathname } = new URL(rec.path, "http://fake.invalid");
    if (rec.method === "GET" && pathname === "/health") {
      send(res, healthStatus, {}, ""); // vLLM-style probe: empty body, status only; no script used
      return;
    }
    if (dialect === "openai" && isResponsesRoute(rec.method, pathname)) {
      const deps = {
        requireApiKey: opts.requireApiKey,
        nextScript: core.nextScript,
        notify: core.notify,
        served,
        seal,
      };
      return serveResponses({ ...ex, parsed, reset: received.reset }, deps);
    }
    const route = routeOf(rec.method, pathname);
    if (dialect === "mistral") {
      const rejection = mistralRejection(req, route, parsed, opts.requireApiKey);
      if (rejection) return send(res, rejection.status, rejection.headers, rejection.body);
    } else if (!admit(res, req, route, parsed, opts.requireApiKey, dialect === "openai")) return;
    if (route === undefined) return;

    const script = core.nextScript(rec) ?? (route === "embeddings" ? { kind: "embedding" } : {});
    if (script.kind === "reset") return received.reset();
    if (script.kind === "hang") return;
    const delayMs = script.kind === "embedding" ? 0 : (script.delayMs ?? 0);
    if (!(await sleep(delayMs, ex.signal))) return;
    if (script.kind === "error") {
      if (dialect === "mistral") {
        const error = mistralErrorResponse(script);
        return send(res, error.status, error.headers, error.body);
      }
      const error = errorResponse(script);
      return sendError(res, error.status, error.body, error.headers);
    }
    const body = isObject(parsed.body) ? parsed.body : {};
    if (route === "models") return sendJson(ex, { object: "list", data: MODELS });
    if (route === "model") return serveModel(ex, decodeURIComponent(pathname.slice("/v1/models/".length)));
    if (route === "embeddings") {
      const embedding = script.kind === "embedding" ? script : { kind: "embedding" as const };
      const response =
        dialect === "mistral"
          ? mistralEmbeddings(embedding, body)
          : embeddingsResponse(
              embedding,
              dialect === "ollama" ? floatOnly(body) : body,
              embeddingInputs(body.input) ?? [],
            );
      served.promptTokens += response.usage.prompt_tokens;
      return sendJson(ex, response, {}, dialect);
    }
    if (script.kind === "engine") return serveEngine(ex, script, body);
    return serveChat(ex, script.kind === "embedding" ? {} : script, body);
  }

  const style = dialect === "openai" ? undefined : COMPAT_STYLES[dialect];
  /** A whole chat completion in this dialect's shape. */
  const completionOf = (plan: ChatPlan, id: string, created: number) =>
    style ? compatCompletion(plan, id, created, style, dialect) : chatCompletion(plan, id, created);
  /** OpenAI's stream_options, as the fake honours them. */
  const streamOptionsOf = (body: Json) => {
    const options = isObject(body.stream_options) ? body.stream_options : {};
    return {
      includeUsage: options.include_usage === true,
      obfuscation: options.include_obfuscation !== false,
    };
  };

  async function serveEngine(ex: Exchange, script: EngineScript, body: Json): Promise<void> {
    const limit = body.max_completion_tokens ?? body.max_tokens;
    const run = script.engine({
      prompt: chatPrompt(messageTexts(body.messages)),
      maxTokens: typeof limit === "number" ? limit : Number.POSITIVE_INFINITY,
      signal: ex.signal,
    });
    const id = completionId(dialect);
    const created = Math.floor(Date.now() / 1000);
    const model = typeof body.model === "string" ? body.model : "gpt-4o-mini";
    // Read once the run has ended: its finish reason and counts are final then.
    const planOf = (text: string): ChatPlan => ({
      model,
      content: text,
      chunks: [],
      toolCalls: [],
      finishReason: run.finishReason ?? "stop",
      usage: { prompt_tokens: run.promptTokens, completion_tokens: run.completionTokens },
    });
    served.promptTokens += run.promptTokens;
    if (body.stream !== true) {
      const text = await collectText(run);
      if (ex.signal.aborted) return;
      served.completionTokens += run.completionTokens;
      return sendJson(ex, completionOf(planOf(text), id, created), script.headers, dialect);
    }
    const parts = style
      ? compatStreamParts(id, created, model, style, dialect)
      : chatStreamParts(id, created, model, streamOptionsOf(body));
    async function* events() {
      yield* parts.start(planOf(""));
      for await (const piece of run) yield parts.content(piece.text, piece.tokens);
      if (run.finishReason !== undefined) yield* parts.end(planOf(""));
    }
    ex.res.writeHead(200, {
      ...headersFor(dialect, "text/event-stream; charset=utf-8", ex.startedAt),
      ...script.headers,
    });
    ex.res.flushHeaders();
    const outcome = await writeSse(ex.res, events(), {
      signal: ex.signal,
      chunkDelayMs: script.chunkDelayMs,
      onEvent: (event) => {
        served.completionTokens += event.tokens;
      },
    });
    if (outcome === "completed") {
      served.streamsCompleted += 1;
      core.notify();
    }
  }

  async function serveChat(ex: Exchange, script: ChatScript, body: Json): Promise<void> {
    const toolCallId = toolCallIdMaker(dialect);
    const plan = planChat(script, body, {
      ...(toolCallId ? { toolCallId } : {}),
      wholeArguments: dialect === "mistral" || dialect === "ollama",
      reasoningField: REASONING_FIELD[dialect],
      serviceTier: SERVICE_TIER[dialect],
      // Mistral has no logprobs (its request check refuses the field).
      logprobs: dialect === "mistral" ? undefined : logprobsAsked(body),
    });
    const id = completionId(dialect);
    const created = Math.floor(Date.now() / 1000);
    if (body.stream !== true) {
      served.promptTokens += plan.usage.prompt_tokens;
      served.completionTokens += plan.usage.completion_tokens;
      return sendJson(ex, completionOf(plan, id, created), script.headers, dialect);
    }
    let events = style
      ? compatStreamEvents(plan, id, created, style, dialect)
      : chatStreamEvents(plan, id, created, streamOptionsOf(body));
    if (script.streamError) {
      const failed = { text: `data: ${JSON.stringify({ error: script.streamError.error })}\n\n`, tokens: 0 };
      events = [...events.slice(0, script.streamError.afterEvents), failed];
    }
    const headers = headersFor(dialect, "text/event-stream; charset=utf-8", ex.startedAt);
    ex.res.writeHead(200, { ...headers, ...script.headers });
    ex.res.flushHeaders();
    served.promptTokens += plan.usage.prompt_tokens;
    let streamedTokens = 0;
    const outcome = await writeSse(ex.res, events, {
      signal: ex.signal,
      chunkDelayMs: script.chunkDelayMs,
      cutAfterEvents: script.cutAfterEvents,
      hangAfterEvents: script.hangAfterEvents,
      endDelayMs: script.endDelayMs,
      onEvent: (event) => {
        streamedTokens += event.tokens;
        served.completionTokens += event.tokens;
      },
      onCut: ex.markCut,
    });
    if (outcome === "completed" && !script.streamError) {
      // A completed stream bills what its usage says, even when that differs from the deltas sent.
      served.completionTokens += plan.usage.completion_tokens - streamedTokens;
      served.streamsCompleted += 1;
      core.notify();
    }
  }

  const port = await core.listen(handle, (res, err) =>
    sendError(res, 500, openAIErrorBody(`fake crashed: ${String(err)}`, "server_error")),
  );

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    served,
    setHealth(status) {
      healthStatus = status;
    },
    ...core.controls,
  };
}

/** Ollama's /v1/embeddings answers floats whatever `encoding_format` asks. */
function floatOnly(body: Json): Json {
  const { encoding_format: _ignored, ...rest } = body;
  return rest;
}
