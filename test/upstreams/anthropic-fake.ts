// A faithful, scriptable fake of api.anthropic.com (POST /v1/messages, unary and streamed) on a loopback
// port. Wire shapes: anthropic-wire.ts; admission checks: anthropic-http.ts; error bodies:
// anthropic-errors.ts and test/fixtures/anthropic/*.http; SSE writer: sse.ts.
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorResponse, isErrorFixtureName } from "./anthropic-errors.ts";
import { admit, sendAnthropicError } from "./anthropic-http.ts";
import {
  messageId,
  messageResponse,
  messageStreamEvents,
  planMessage,
  successHeaders,
} from "./anthropic-wire.ts";
import { createFakeCore, type RecordedRequest } from "./http-fake-core.ts";
import { isObject, send } from "./openai-http.ts";
import { sleep, writeSse } from "./sse.ts";

export type MessageScript = {
  kind?: "message";
  /** Assistant text; default "Hello from fake" (no text block when only toolUses are given). */
  text?: string;
  /** Explicit text deltas for streaming (default: text split into words keeping spaces). */
  chunks?: string[];
  /**
   * Thinking blocks, first in the message: each `text` is signed (streamed as thinking_delta pieces, then one
   * signature_delta); `redacted` blocks carry opaque data and arrive whole at content_block_start.
   */
  thinking?: ({ text: string } | { redacted: true })[];
  /** tool_use blocks; ids default to fresh `toolu_…`; input streamed as input_json_delta in 2+ pieces. */
  toolUses?: { id?: string; name: string; input: Record<string, unknown> }[];
  /** Default "end_turn", or "tool_use" when toolUses are given. */
  stopReason?: string;
  stopSequence?: string | null;
  /**
   * Default: input_tokens = words in system + messages, output_tokens = thinking + text deltas + input
   * pieces; cache writes all 5-minute ones unless `cache_creation` splits them (its sum is the default
   * cache_creation_input_tokens); thinking_tokens = thinking deltas; service_tier "standard".
   */
  usage?: {
    input_tokens?: number;
    output_tokens?: number;
    cache_creation_input_tokens?: number;
    cache_read_input_tokens?: number;
    cache_creation?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
    thinking_tokens?: number;
    service_tier?: "standard" | "priority" | "batch";
  };
  /** Echoed model; default the request's `model`. */
  model?: string;
  /** Wait before sending the response headers. */
  delayMs?: number;
  /** Wait between SSE events (slow drip). */
  chunkDelayMs?: number;
  /** Streaming: destroy the socket after N events (pings count; no message_stop). */
  cutAfterEvents?: number;
  /** Streaming: stop sending after N events but keep the socket open. */
  hangAfterEvents?: number;
  /** Streaming: end the response cleanly after N events, without message_stop (a proxy cutting it short). */
  endAfterEvents?: number;
  /** Streaming: a ping after every N events (default: one, after the first content_block_start). */
  pingEvery?: number;
  /** Streaming: after N events send `event: error` with this error type (default overloaded_error) and end. */
  streamError?: { afterEvents: number; type?: string; message?: string };
  headers?: Record<string, string>;
};
export type ErrorScript = {
  kind: "error";
  status: number;
  /** Sent instead of the fixture's body: strings and bytes as-is, anything else as compact JSON. */
  body?: unknown;
  /** A name from ANTHROPIC_ERROR_FIXTURES (anthropic-errors.ts); default: the fixture for `status`, if any. */
  fixture?: string;
  /** Added to (and overriding) the fixture's recorded headers. */
  headers?: Record<string, string>;
  delayMs?: number;
};
/** reset: RST the connection before any response; hang: never answer. */
export type FaultScript = { kind: "reset" } | { kind: "hang" };
export type Script = MessageScript | ErrorScript | FaultScript;
export type { RecordedRequest };
export interface AnthropicFake {
  url: string;
  port: number;
  requests: RecordedRequest[];
  served: {
    requests: number;
    inputTokens: number;
    outputTokens: number;
    streamsCompleted: number;
    aborts: number;
  };
  enqueue(...scripts: Script[]): void;
  setDefault(script: Script | ((req: RecordedRequest) => Script)): void;
  waitForRequests(n: number): Promise<void>;
  waitForAbort(index: number): Promise<void>;
  openSockets(): number;
  close(): Promise<void>;
}

function checkScript(script: Script): void {
  if (script.kind === "error" && script.fixture !== undefined && !isErrorFixtureName(script.fixture)) {
    throw new Error(`unknown Anthropic error fixture: ${script.fixture}`);
  }
}

/** One request in flight: its response, an abort signal that fires when the response closes. */
type Exchange = { res: ServerResponse; signal: AbortSignal; markCut(): void };

export async function startAnthropicFake(opts: { requireApiKey?: string } = {}): Promise<AnthropicFake> {
  const served = { requests: 0, inputTokens: 0, outputTokens: 0, streamsCompleted: 0, aborts: 0 };
  const core = createFakeCore<Script>(served, checkScript);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const received = await core.receive(req, res);
    if (received === undefined) return;
    const { rec, parsed } = received;
    const ex: Exchange = { res, signal: received.signal, markCut: received.markCut };
    const { pathname } = new URL(rec.path, "http://fake.invalid");
    if (admit(res, req, pathname, parsed, opts.requireApiKey) === undefined) return;

    const script = core.nextScript(rec) ?? {};
    if (script.kind === "reset") return received.reset();
    if (script.kind === "hang") return;
    if (!(await sleep(script.delayMs ?? 0, ex.signal))) return;
    if (script.kind === "error") {
      const error = errorResponse(script);
      send(res, error.status, error.headers, error.body);
      return;
    }
    await serveMessage(ex, script, isObject(parsed.body) ? parsed.body : {});
  }

  async function serveMessage(ex: Exchange, script: MessageScript, body: Record<string, unknown>) {
    const plan = planMessage(script, body);
    const id = messageId();
    served.inputTokens += plan.usage.input_tokens;
    if (body.stream !== true) {
      served.outputTokens += plan.usage.output_tokens;
      const headers = { ...successHeaders("application/json"), ...script.headers };
      send(ex.res, 200, headers, JSON.stringify(messageResponse(plan, id)));
      return;
    }
    const all = messageStreamEvents(plan, id, { pingEvery: script.pingEvery, error: script.streamError });
    const events = script.endAfterEvents === undefined ? all : all.slice(0, script.endAfterEvents);
    const complete = events.length === all.length && script.streamError === undefined;
    ex.res.writeHead(200, { ...successHeaders("text/event-stream; charset=utf-8"), ...script.headers });
    ex.res.flushHeaders();
    let streamedTokens = 0;
    const outcome = await writeSse(ex.res, events, {
      signal: ex.signal,
      chunkDelayMs: script.chunkDelayMs,
      cutAfterEvents: script.cutAfterEvents,
      hangAfterEvents: script.hangAfterEvents,
      onEvent: (event) => {
        streamedTokens += event.tokens;
        served.outputTokens += event.tokens;
      },
      onCut: ex.markCut,
    });
    if (outcome === "completed" && complete) {
      // A completed stream bills what its usage says, even when that differs from the deltas sent.
      served.outputTokens += plan.usage.output_tokens - streamedTokens;
      served.streamsCompleted += 1;
      core.notify();
    }
  }

  const port = await core.listen(handle, (res, err) =>
    sendAnthropicError(res, 500, "api_error", `fake crashed: ${String(err)}`),
  );

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    served,
    ...core.controls,
  };
}
