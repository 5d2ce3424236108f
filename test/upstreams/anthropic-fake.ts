// A faithful, scriptable fake of api.anthropic.com (POST /v1/messages, unary and streamed) on a loopback
// port. Wire shapes: anthropic-wire.ts; admission checks: anthropic-http.ts; error bodies:
// anthropic-errors.ts and test/fixtures/anthropic/*.http; SSE writer: sse.ts.
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { errorResponse, isErrorFixtureName } from "./anthropic-errors.ts";
import { admit, sendAnthropicError } from "./anthropic-http.ts";
import {
  messageId,
  messageResponse,
  messageStreamEvents,
  planMessage,
  successHeaders,
} from "./anthropic-wire.ts";
import { isObject, readBody, send } from "./openai-http.ts";
import { sleep, writeSse } from "./sse.ts";

export type MessageScript = {
  kind?: "message";
  /** Assistant text; default "Hello from fake" (no text block when only toolUses are given). */
  text?: string;
  /** Explicit text deltas for streaming (default: text split into words keeping spaces). */
  chunks?: string[];
  /** tool_use blocks; ids default to fresh `toolu_…`; input streamed as input_json_delta in 2+ pieces. */
  toolUses?: { id?: string; name: string; input: Record<string, unknown> }[];
  /** Default "end_turn", or "tool_use" when toolUses are given. */
  stopReason?: string;
  stopSequence?: string | null;
  /** Default: input_tokens = words in system + messages, output_tokens = text deltas + input pieces. */
  usage?: {
    input_tokens?: number;
    output_tokens?: number;
    cache_creation_input_tokens?: number;
    cache_read_input_tokens?: number;
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
export type RecordedRequest = {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  aborted: boolean;
  completed: boolean;
};
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
  const requests: RecordedRequest[] = [];
  const served = { requests: 0, inputTokens: 0, outputTokens: 0, streamsCompleted: 0, aborts: 0 };
  const queue: Script[] = [];
  let fallback: Script | ((req: RecordedRequest) => Script) | undefined;
  const sockets = new Set<Socket>();
  const waiters = new Set<{ ready: () => boolean; resolve: () => void }>();
  let closing = false;

  const notify = (): void => {
    for (const waiter of waiters) {
      if (waiter.ready()) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  };
  const waitFor = (ready: () => boolean): Promise<void> =>
    ready() ? Promise.resolve() : new Promise((resolve) => waiters.add({ ready, resolve }));

  const nextScript = (rec: RecordedRequest): Script | undefined => {
    const queued = queue.shift();
    if (queued !== undefined) return queued;
    return typeof fallback === "function" ? fallback(rec) : fallback;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rec: RecordedRequest = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: { ...req.headers },
      body: undefined,
      aborted: false,
      completed: false,
    };
    const abort = new AbortController();
    let cut = false;
    let recorded = false;
    const record = (): void => {
      if (recorded) return;
      recorded = true;
      requests.push(rec);
      served.requests += 1;
      notify();
    };
    res.on("finish", () => {
      rec.completed = true;
      notify();
    });
    res.on("close", () => {
      if (!res.writableFinished && !cut && !closing) {
        rec.aborted = true;
        served.aborts += 1;
        record();
      }
      abort.abort();
      notify();
    });
    const markCut = (): void => {
      cut = true;
    };
    const ex: Exchange = { res, signal: abort.signal, markCut };

    let parsed: Awaited<ReturnType<typeof readBody>>;
    try {
      parsed = await readBody(req);
    } catch {
      return; // the client went away mid-body; the close handler recorded it
    }
    rec.body = parsed.body;
    record();
    const { pathname } = new URL(rec.path, "http://fake.invalid");
    if (admit(res, req, pathname, parsed, opts.requireApiKey) === undefined) return;

    const script = nextScript(rec) ?? {};
    if (script.kind === "reset") {
      ex.markCut();
      req.socket.resetAndDestroy();
      return;
    }
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
      notify();
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else sendAnthropicError(res, 500, "api_error", `fake crashed: ${String(err)}`);
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    served,
    enqueue(...scripts) {
      for (const script of scripts) checkScript(script);
      queue.push(...scripts);
    },
    setDefault(script) {
      if (typeof script !== "function") checkScript(script);
      fallback = script;
    },
    waitForRequests: (n) => waitFor(() => requests.length >= n),
    waitForAbort: (index) => waitFor(() => requests[index]?.aborted === true),
    openSockets: () => sockets.size,
    async close() {
      closing = true;
      const closed = [...sockets].map((socket) => once(socket, "close"));
      for (const socket of sockets) socket.destroy();
      await Promise.all([...closed, new Promise<void>((resolve) => server.close(() => resolve()))]);
    },
  };
}
