import { Code } from "@connectrpc/connect";

/**
 * Every reason code the gateway can answer with, and what it means on each
 * wire: the gRPC code (Connect and gRPC-Web use the same) and the HTTP status
 * used by the REST facade. Nothing else in src/ picks a status code.
 */
export const catalog = {
  invalid_argument: { code: Code.InvalidArgument, http: 400, doc: "The request is malformed." },
  missing_workload: { code: Code.InvalidArgument, http: 400, doc: "The request names no workload." },
  empty_messages: { code: Code.InvalidArgument, http: 400, doc: "A generation request has no messages." },
  empty_inputs: { code: Code.InvalidArgument, http: 400, doc: "An embedding request has no inputs." },
  operation_not_served: {
    code: Code.InvalidArgument,
    http: 400,
    doc: "The workload does not serve this operation (e.g. Embed on a chat workload).",
  },
  unauthenticated: {
    code: Code.Unauthenticated,
    http: 401,
    doc: "No valid API key: send `authorization: Bearer <key>` (a key that exists, is not revoked or expired).",
  },
  permission_denied: {
    code: Code.PermissionDenied,
    http: 403,
    doc: "The key's roles, workloads or models do not allow this call.",
  },
  policy_denied: {
    code: Code.PermissionDenied,
    http: 403,
    doc: "A policy rule (`policies.rules`, a CEL expression) refuses this request; the message is the rule's.",
  },
  guardrail_blocked: {
    code: Code.InvalidArgument,
    http: 400,
    doc: "A guardrail (`policies.guardrails`) found what it blocks in the request or the answer: personal data, a secret, a denied pattern or topic, or content it does not allow. Names the rule, never the content.",
  },
  guardrail_unavailable: {
    code: Code.Unavailable,
    http: 503,
    doc: "An external guardrail service did not answer in time (or failed) and its guardrail fails closed.",
  },
  unknown_workload: { code: Code.NotFound, http: 404, doc: "No route is configured for the workload." },
  // OpenAI's name for it, which its SDKs and tools check: the same on every wire and in the REST body.
  model_not_found: {
    code: Code.NotFound,
    http: 404,
    doc: "The workload's route does not serve that model; on the OpenAI facade, no route serves the `model` named (`switchyard/<workload>` included).",
  },
  message_too_large: {
    code: Code.ResourceExhausted,
    http: 413,
    doc: "The request message is over the configured size limit.",
  },
  content_too_large: {
    code: Code.InvalidArgument,
    http: 413,
    doc: "An image, audio or document part, or all of a request's media together, is over `server.limits.media` (docs/limits.md).",
  },
  no_capable_target: {
    code: Code.FailedPrecondition,
    http: 400,
    doc: "No target of the workload can serve this request (tools, JSON mode, streaming, context window, or content such as images, audio, documents, reasoning, logprobs).",
  },
  rate_limited: {
    code: Code.ResourceExhausted,
    http: 429,
    doc: "A rate limit (requests or tokens per minute) of the key, team or workload is reached; retry after the given delay.",
  },
  request_exceeds_limit: {
    code: Code.FailedPrecondition,
    http: 400,
    doc: "The request alone needs more tokens than a per-minute token limit allows: it can never pass; send less.",
  },
  budget_exhausted: {
    code: Code.ResourceExhausted,
    http: 429,
    doc: "A spend budget of the key, team or workload is used up for its window.",
  },
  overloaded: {
    code: Code.ResourceExhausted,
    http: 429,
    doc: "The gateway itself is at capacity (requests in flight or event-loop lag over `server.limits`): the call was shed before any work; retry after the given delay.",
  },
  limits_unavailable: {
    code: Code.Unavailable,
    http: 503,
    doc: "The shared limit store (Redis) is unreachable and the failure mode is closed.",
  },
  no_backend_enabled: {
    code: Code.Unavailable,
    http: 503,
    doc: "Every backend of the route is disabled (e.g. its API key variable is not set) or unhealthy.",
  },
  upstream_unavailable: {
    code: Code.Unavailable,
    http: 503,
    doc: "Every backend tried failed or was unreachable.",
  },
  upstream_rate_limited: {
    code: Code.ResourceExhausted,
    http: 429,
    doc: "Every backend tried was rate limited; retry after the given delay.",
  },
  upstream_rejected_request: {
    code: Code.InvalidArgument,
    http: 400,
    doc: "The backend rejected the request as invalid (the caller's input).",
  },
  upstream_misconfigured: {
    code: Code.Unavailable,
    http: 503,
    doc: "A backend rejected the gateway's own credentials or model name: an operator must fix the config.",
  },
  stream_interrupted: {
    code: Code.Unavailable,
    http: 502,
    doc: "The backend failed after output had started; the stream ended with partial output.",
  },
  deadline_exceeded: { code: Code.DeadlineExceeded, http: 504, doc: "The request's deadline passed." },
  cancelled: { code: Code.Canceled, http: 499, doc: "The caller cancelled the request." },
  internal: {
    code: Code.Internal,
    http: 500,
    doc: "An unexpected gateway failure; the request id identifies it in the logs.",
  },
} as const satisfies Record<string, { code: Code; http: number; doc: string }>;

export type Reason = keyof typeof catalog;
