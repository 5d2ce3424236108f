import {
  type Context,
  context as contextApi,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type Tracer,
  trace,
} from "@opentelemetry/api";

/**
 * Span names and attribute keys. GenAI keys follow the OpenTelemetry GenAI
 * semantic conventions; switchyard.* keys are the gateway's own. The list is
 * documented in docs/observability.md (a test keeps them in step).
 */
export const ATTR = {
  operation: "gen_ai.operation.name",
  provider: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  responseModel: "gen_ai.response.model",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  finishReasons: "gen_ai.response.finish_reasons",
  requestId: "switchyard.request_id",
  workload: "switchyard.workload",
  route: "switchyard.route",
  variant: "switchyard.variant",
  strategy: "switchyard.strategy",
  attempts: "switchyard.attempts",
  attempt: "switchyard.attempt",
  backend: "switchyard.backend",
  breakerState: "switchyard.breaker_state",
  committed: "switchyard.committed",
  costMicroUsd: "switchyard.cost_micro_usd",
  status: "switchyard.status",
  errorKind: "switchyard.error_kind",
  protocol: "rpc.system",
} as const;

export function tracer(): Tracer {
  return trace.getTracer("switchyard");
}

type HeaderSource = { forEach(fn: (value: string, key: string) => void): void };

/** The caller's trace context (W3C traceparent/tracestate), continued by our server span. */
export function extractContext(headers: HeaderSource): Context {
  const carrier: Record<string, string> = {};
  headers.forEach((value, key) => {
    carrier[key] = value;
  });
  return propagation.extract(ROOT_CONTEXT, carrier);
}

export function startServerSpan(name: string, parent: Context): Span {
  return tracer().startSpan(name, { kind: SpanKind.SERVER }, parent);
}

export function startClientSpan(name: string, parent: Span): Span {
  return tracer().startSpan(name, { kind: SpanKind.CLIENT }, trace.setSpan(contextApi.active(), parent));
}

/** traceparent (and tracestate) for a child of `span`, to forward to a trusted backend. */
export function injectHeaders(span: Span): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier;
}
