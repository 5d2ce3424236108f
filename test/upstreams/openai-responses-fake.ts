// POST /v1/responses of the OpenAI fake (openai-fake.ts routes it here): OpenAI's Responses API, unary
// and streamed as named SSE events, with the same scripts as chat (text, tool calls, reasoning, usage,
// finishReason "length" for an incomplete response, faults, errors, streamError as `response.failed`).
// Reasoning items carry encrypted content the fake can verify when a request sends them back.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RecordedRequest } from "./http-fake-core.ts";
import { errorResponse, openAIErrorBody } from "./openai-errors.ts";
import type { ChatScript, Script } from "./openai-fake.ts";
import { admit, isObject, type Json, send, sendError } from "./openai-http.ts";
import { responsesRequestIssue } from "./openai-responses-checks.ts";
import type { ReasoningSeal } from "./openai-responses-seal.ts";
import {
  planResponse,
  responseFailedEvent,
  responseObject,
  responseStreamEvents,
} from "./openai-responses-wire.ts";
import { successHeaders } from "./openai-wire.ts";
import { sleep, writeSse } from "./sse.ts";

const BAD_JSON_MESSAGE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP " +
  "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you " +
  "have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

export function isResponsesRoute(method: string, pathname: string): boolean {
  return method === "POST" && pathname === "/v1/responses";
}

/** What the Responses route shares with the rest of the fake. */
export type ResponsesDeps = {
  requireApiKey: string | undefined;
  nextScript(rec: RecordedRequest): Script | undefined;
  notify(): void;
  served: { requests: number; completionTokens: number; promptTokens: number; streamsCompleted: number };
  /** The fake's key for encrypted reasoning: tokens it issued verify on any later request. */
  seal: ReasoningSeal;
};

export type ResponsesExchange = {
  req: IncomingMessage;
  res: ServerResponse;
  rec: RecordedRequest;
  parsed: { body: unknown; badJson: boolean };
  signal: AbortSignal;
  startedAt: number;
  reset(): void;
  markCut(): void;
};

export async function serveResponses(ex: ResponsesExchange, deps: ResponsesDeps): Promise<void> {
  // The API key is checked as on every route (`models` has no body checks of its own).
  if (!admit(ex.res, ex.req, "models", ex.parsed, deps.requireApiKey)) return;
  const body = ex.parsed.body;
  if (ex.parsed.badJson || !isObject(body)) {
    return sendError(ex.res, 400, openAIErrorBody(BAD_JSON_MESSAGE, "invalid_request_error"));
  }
  const issue = responsesRequestIssue(body, deps.seal);
  if (issue) {
    const errorBody = openAIErrorBody(issue.message, "invalid_request_error", issue.param, issue.code);
    return sendError(ex.res, issue.status, errorBody);
  }
  const script = deps.nextScript(ex.rec) ?? {};
  if (script.kind === "reset") return ex.reset();
  if (script.kind === "hang") return;
  const delayMs = script.kind === "embedding" ? 0 : (script.delayMs ?? 0);
  if (!(await sleep(delayMs, ex.signal))) return;
  if (script.kind === "error") {
    const error = errorResponse(script);
    return sendError(ex.res, error.status, error.body, error.headers);
  }
  const chat: ChatScript = script.kind === undefined || script.kind === "chat" ? script : {};
  await serveScripted(ex, chat, body, deps);
}

async function serveScripted(ex: ResponsesExchange, script: ChatScript, body: Json, deps: ResponsesDeps) {
  const plan = planResponse(script, body, deps.seal);
  deps.served.promptTokens += plan.promptTokens;
  if (body.stream !== true) {
    deps.served.completionTokens += plan.completionTokens;
    const headers = { ...successHeaders("application/json", ex.startedAt), ...script.headers };
    return send(ex.res, 200, headers, JSON.stringify(responseObject(plan), null, 2));
  }
  let events = responseStreamEvents(plan);
  if (script.streamError) {
    const kept = events.slice(0, script.streamError.afterEvents);
    const error = isObject(script.streamError.error) ? script.streamError.error : {};
    events = [...kept, responseFailedEvent(plan, kept.length, error)];
  }
  ex.res.writeHead(200, {
    ...successHeaders("text/event-stream; charset=utf-8", ex.startedAt),
    ...script.headers,
  });
  ex.res.flushHeaders();
  let streamedTokens = 0;
  const outcome = await writeSse(ex.res, events, {
    signal: ex.signal,
    chunkDelayMs: script.chunkDelayMs,
    cutAfterEvents: script.cutAfterEvents,
    hangAfterEvents: script.hangAfterEvents,
    endDelayMs: script.endDelayMs,
    onEvent: (event) => {
      streamedTokens += event.tokens;
      deps.served.completionTokens += event.tokens;
    },
    onCut: ex.markCut,
  });
  if (outcome === "completed" && !script.streamError) {
    deps.served.completionTokens += plan.completionTokens - streamedTokens;
    deps.served.streamsCompleted += 1;
    deps.notify();
  }
}
