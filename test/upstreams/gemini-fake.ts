// A faithful, scriptable fake of generativelanguage.googleapis.com (v1beta generateContent,
// streamGenerateContent?alt=sse, embedContent, batchEmbedContents) on a loopback port.
// Wire shapes: gemini-wire.ts; request checks: gemini-http.ts; error bodies: gemini-errors.ts and
// test/fixtures/gemini/*.http; SSE writer: sse.ts.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type GeminiErrorFixtureName,
  geminiErrorResponse,
  isGeminiErrorFixtureName,
  loadGeminiHttpFixture,
  loadGeminiSseFixture,
} from "./gemini-errors.ts";
import { admit, type GeminiRoute, routeOf, sendGoogleError } from "./gemini-http.ts";
import {
  batchEmbedContentsResponse,
  billedOutput,
  embedContentResponse,
  generateContentResponse,
  googlePrettyJson,
  midStreamErrorEvent,
  planGenerate,
  signaturesOf,
  sseEvents,
  streamChunks,
  successHeaders,
  type Thought,
  type Usage,
} from "./gemini-wire.ts";
import { createFakeCore, type RecordedRequest } from "./http-fake-core.ts";
import { isObject, type Json, send } from "./openai-http.ts";
import { type SseEvent, sleep, writeSse } from "./sse.ts";

export type GenerateScript = {
  kind?: "generate";
  /** Model text; default "Hello from fake" (empty when only functionCalls are given). */
  text?: string;
  /** Explicit text pieces for streaming, one chunk each (default: text split into words keeping spaces). */
  chunks?: string[];
  /** Sent whole, after the text, all in one chunk when streaming. */
  functionCalls?: { name: string; args: Record<string, unknown>; thoughtSignature?: string }[];
  /**
   * Thought summaries before the answer (`thought: true` parts, one chunk each when streaming), sent
   * only when the request asks thinkingConfig.includeThoughts; their words are the default thoughtsTokenCount.
   */
  thoughts?: Thought[];
  /** A thoughtSignature on the last text part. Every signature served is the only kind accepted back. */
  textSignature?: string;
  /** Default "STOP" (Gemini says STOP after function calls too); null: the last chunk has none. */
  finishReason?: string | null;
  /** Default: promptTokenCount = words in the text parts, candidatesTokenCount = pieces + calls. */
  /** With media parts, also promptTokensDetails by modality (gemini-wire.ts promptDetails). */
  usage?: Usage;
  /** Reported modelVersion; default the model of the URL. */
  modelVersion?: string;
  /** The prompt is blocked: no candidates, only promptFeedback.blockReason (e.g. "SAFETY"). */
  blockReason?: string;
  /** Wait before sending the response headers. */
  delayMs?: number;
  /** Wait between SSE events (slow drip). */
  chunkDelayMs?: number;
  /** Streaming: destroy the socket after N events. */
  cutAfterEvents?: number;
  /** Streaming: stop sending after N events but keep the socket open. */
  hangAfterEvents?: number;
  /** Streaming: after N events send `data: {"error": {...INTERNAL}}` and end the body. */
  errorAfterEvents?: number;
  /** The google.rpc.Status sent by errorAfterEvents instead of the INTERNAL one ({code, message, status, details}). */
  streamErrorStatus?: Json;
  /** SSE line ends: CRLF like the real API (default true) or LF. */
  crlf?: boolean;
  headers?: Record<string, string>;
};
export type ErrorScript = {
  kind: "error";
  status: number;
  /** A name from GEMINI_ERROR_FIXTURES; default: the fixture for `status`, if any. */
  fixture?: GeminiErrorFixtureName;
  /** Sent instead of the fixture's body: strings and bytes as-is, anything else as 2-space JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
};
/** Streams a recorded `test/fixtures/gemini/<name>.sse` byte for byte (needs an alt=sse request). */
export type SseFixtureScript = {
  kind: "sse-fixture";
  name: string;
  chunkDelayMs?: number;
  cutAfterEvents?: number;
};
/** reset: RST the connection before any response; hang: never answer. */
export type FaultScript = { kind: "reset" } | { kind: "hang" };
export type EmbeddingScript = { kind: "embedding"; dims?: number };
export type Script = GenerateScript | ErrorScript | SseFixtureScript | FaultScript | EmbeddingScript;

export type { RecordedRequest };
export interface GeminiFake {
  /** Origin, e.g. http://127.0.0.1:1234 (what the SDK's httpOptions.baseUrl wants). */
  url: string;
  /** `${url}/v1beta`, what the adapter's baseUrl wants. */
  baseUrl: string;
  port: number;
  requests: RecordedRequest[];
  served: {
    requests: number;
    promptTokens: number;
    /** Billed output tokens: candidates + thoughts (for streams, what was actually sent). */
    completionTokens: number;
    streamsCompleted: number;
    embeddings: number;
    aborts: number;
  };
  enqueue(...scripts: Script[]): void;
  setDefault(script: Script | ((req: RecordedRequest) => Script)): void;
  waitForRequests(n: number): Promise<void>;
  waitForAbort(index: number): Promise<void>;
  openSockets(): number;
  close(): Promise<void>;
}

export function geminiError(
  name: GeminiErrorFixtureName,
  extra: { headers?: Record<string, string>; delayMs?: number } = {},
): ErrorScript {
  return { kind: "error", status: loadGeminiHttpFixture(name).status, fixture: name, ...extra };
}

function checkScript(script: Script): void {
  if (script.kind === "error" && script.fixture !== undefined && !isGeminiErrorFixtureName(script.fixture)) {
    throw new Error(`unknown Gemini error fixture: ${script.fixture}`);
  }
  if (script.kind === "sse-fixture") loadGeminiSseFixture(script.name); // throws when missing
}

type StreamKnobs = { chunkDelayMs?: number; cutAfterEvents?: number; hangAfterEvents?: number };

/** One request in flight: its response, an abort signal that fires when the response closes, its clock. */
type Exchange = { res: ServerResponse; signal: AbortSignal; startedAt: number; markCut(): void };

export async function startGeminiFake(opts: { requireApiKey?: string } = {}): Promise<GeminiFake> {
  const served = {
    requests: 0,
    promptTokens: 0,
    completionTokens: 0,
    streamsCompleted: 0,
    embeddings: 0,
    aborts: 0,
  };
  const core = createFakeCore<Script>(served, checkScript);
  /** Thought signatures served so far: the real API accepts back only those it issued. */
  const issued = new Set<string>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    const received = await core.receive(req, res);
    if (received === undefined) return;
    const { rec, parsed } = received;
    const ex: Exchange = { res, signal: received.signal, startedAt, markCut: received.markCut };
    const url = new URL(rec.path, "http://fake.invalid");
    const route = routeOf(rec.method, url);
    if (!admit(res, req, url, route, parsed, opts.requireApiKey, issued) || route === undefined) return;

    const embedding = route.method === "embedContent" || route.method === "batchEmbedContents";
    const script = core.nextScript(rec) ?? (embedding ? { kind: "embedding" } : {});
    if (script.kind === "reset") return received.reset();
    if (script.kind === "hang") return;
    const delayMs =
      script.kind === "error" || script.kind === undefined || script.kind === "generate" ? script.delayMs : 0;
    if (!(await sleep(delayMs ?? 0, ex.signal))) return;
    if (script.kind === "error") {
      const error = geminiErrorResponse(script);
      return send(res, error.status, error.headers, error.body);
    }
    const body = parsed.body as Json;
    if (embedding)
      return serveEmbedding(ex, route, script.kind === "embedding" ? script : { kind: "embedding" }, body);
    if (script.kind === "embedding") {
      sendGoogleError(res, 500, "fake: an embedding script for a generate call");
      return;
    }
    if (script.kind === "sse-fixture") return serveSseFixture(ex, route, script);
    return serveGenerate(ex, route, script, body);
  }

  function sendJson(ex: Exchange, value: unknown, extra: Record<string, string> = {}): void {
    send(
      ex.res,
      200,
      { ...successHeaders("application/json; charset=UTF-8", ex.startedAt), ...extra },
      googlePrettyJson(value),
    );
  }

  function serveEmbedding(ex: Exchange, route: GeminiRoute, script: EmbeddingScript, body: Json): void {
    if (route.method === "embedContent") {
      served.embeddings += 1;
      sendJson(ex, embedContentResponse(script, body));
      return;
    }
    const requests = (body.requests as unknown[]).filter(isObject);
    served.embeddings += requests.length;
    sendJson(ex, batchEmbedContentsResponse(script, requests));
  }

  async function streamEvents(
    ex: Exchange,
    events: SseEvent[],
    script: StreamKnobs,
    headers: Record<string, string> = {},
  ): Promise<boolean> {
    ex.res.writeHead(200, { ...successHeaders("text/event-stream", ex.startedAt), ...headers });
    ex.res.flushHeaders();
    const outcome = await writeSse(ex.res, events, {
      signal: ex.signal,
      chunkDelayMs: script.chunkDelayMs,
      cutAfterEvents: script.cutAfterEvents,
      hangAfterEvents: script.hangAfterEvents,
      onEvent: (event) => {
        served.completionTokens += event.tokens;
      },
      onCut: ex.markCut,
    });
    if (outcome === "completed") {
      served.streamsCompleted += 1;
      core.notify();
    }
    return outcome === "completed";
  }

  async function serveSseFixture(ex: Exchange, route: GeminiRoute, script: SseFixtureScript): Promise<void> {
    if (!route.sse) {
      sendGoogleError(ex.res, 500, "fake: an sse-fixture script needs an alt=sse request");
      return;
    }
    const events = loadGeminiSseFixture(script.name).map((text) => ({ text, tokens: 0 }));
    for (const event of events) {
      for (const match of event.text.matchAll(/"thoughtSignature": "([^"]+)"/g)) issued.add(match[1] ?? "");
    }
    await streamEvents(ex, events, script);
  }

  async function serveGenerate(
    ex: Exchange,
    route: GeminiRoute,
    script: GenerateScript,
    body: Json,
  ): Promise<void> {
    const plan = planGenerate(script, body, route.model);
    for (const signature of signaturesOf(plan)) issued.add(signature);
    served.promptTokens += plan.usage.promptTokenCount;
    if (route.method === "generateContent") {
      served.completionTokens += billedOutput(plan.usage);
      return sendJson(ex, generateContentResponse(plan), script.headers);
    }
    const chunks = streamChunks(plan);
    if (!route.sse) {
      // Without alt=sse the API streams one JSON array of the same chunks.
      served.completionTokens += billedOutput(plan.usage);
      return sendJson(ex, chunks, script.headers);
    }
    const crlf = script.crlf ?? true;
    let events = sseEvents(chunks, plan.usage, crlf);
    if (script.errorAfterEvents !== undefined) {
      events = [
        ...events.slice(0, script.errorAfterEvents),
        midStreamErrorEvent(crlf, script.streamErrorStatus),
      ];
    }
    await streamEvents(ex, events, script, script.headers);
  }

  const port = await core.listen(handle, (res, err) =>
    sendGoogleError(res, 500, `fake crashed: ${String(err)}`),
  );

  return {
    url: `http://127.0.0.1:${port}`,
    baseUrl: `http://127.0.0.1:${port}/v1beta`,
    port,
    served,
    ...core.controls,
  };
}
