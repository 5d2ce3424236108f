import type {
  Attributes,
  Counter,
  Histogram,
  Meter,
  ObservableGauge,
  UpDownCounter,
} from "@opentelemetry/api";

/**
 * Every instrument the gateway records, created once from a Meter. Labels
 * are bounded by the config (workload, backend, configured model, operation,
 * status reason): never key ids, user ids or provider-reported names.
 * Names and meanings are listed in docs/observability.md.
 */
export class GatewayMetrics {
  readonly requests: Counter;
  readonly duration: Histogram;
  readonly ttft: Histogram;
  readonly interTokenGap: Histogram;
  readonly overhead: Histogram;
  readonly tokens: Counter;
  readonly cost: Counter;
  readonly attempts: Counter;
  readonly fallbacks: Counter;
  readonly rejections: Counter;
  readonly inFlight: UpDownCounter;
  readonly guardrailActions: Counter;
  readonly cacheLookups: Counter;
  readonly connectionsClosed: Counter;
  readonly breakerState: ObservableGauge;
  readonly eventLoopLag: ObservableGauge;
  readonly shedShare: ObservableGauge;

  constructor(
    meter: Meter,
    breakerStates: () => Iterable<{ backend: string; state: number }>,
    overload: () => { lagMs: number; shedShare: number } = () => ({ lagMs: 0, shedShare: 0 }),
  ) {
    const ms = { unit: "ms" };
    this.requests = meter.createCounter("switchyard.requests", {
      description: "Requests finished, by workload, backend, model, operation and status",
    });
    this.duration = meter.createHistogram("switchyard.request.duration", {
      ...ms,
      description: "End-to-end request latency at the gateway",
      advice: {
        explicitBucketBoundaries: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000],
      },
    });
    this.ttft = meter.createHistogram("switchyard.time_to_first_token", {
      ...ms,
      description: "Time from request start to the first content event sent to the caller",
      advice: { explicitBucketBoundaries: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] },
    });
    this.interTokenGap = meter.createHistogram("switchyard.inter_token_gap", {
      ...ms,
      description: "Time between consecutive content events of a stream",
      advice: { explicitBucketBoundaries: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000] },
    });
    this.overhead = meter.createHistogram("switchyard.gateway.overhead", {
      ...ms,
      description: "Request time not spent waiting on an upstream",
      advice: { explicitBucketBoundaries: [0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100] },
    });
    this.tokens = meter.createCounter("switchyard.tokens", {
      description: "Tokens, by direction (input, output)",
    });
    this.cost = meter.createCounter("switchyard.cost", {
      unit: "1e-6 USD",
      description: "Cost in micro-USD",
    });
    this.attempts = meter.createCounter("switchyard.upstream.attempts", {
      description: "Upstream attempts, by backend, model and outcome",
    });
    this.fallbacks = meter.createCounter("switchyard.fallbacks", {
      description: "Requests served by a target other than their first attempt's",
    });
    this.rejections = meter.createCounter("switchyard.rejections", {
      description: "Requests refused by a policy, by reason (rate limit, budget, auth)",
    });
    this.guardrailActions = meter.createCounter("switchyard.guardrail.actions", {
      description: "Guardrail blocks, masks and flags, by guardrail (config name), action and stage",
    });
    this.cacheLookups = meter.createCounter("switchyard.cache.lookups", {
      description: "Response cache lookups and stores, by route and result (hit, miss, bypass, stored)",
    });
    this.inFlight = meter.createUpDownCounter("switchyard.in_flight", {
      description: "Requests in progress, by operation (streams are generate_stream)",
    });
    this.connectionsClosed = meter.createCounter("switchyard.connections.closed", {
      description:
        "Connections the gateway closed (or requests it cut) on its own: header, idle or request timeout, connection cap",
    });
    this.breakerState = meter.createObservableGauge("switchyard.breaker.state", {
      description: "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open",
    });
    this.breakerState.addCallback((result) => {
      for (const { backend, state } of breakerStates()) result.observe(state, { backend });
    });
    this.eventLoopLag = meter.createObservableGauge("switchyard.event_loop.lag", {
      ...ms,
      description: "Event-loop lag as the overload guard sees it (moving average)",
    });
    this.eventLoopLag.addCallback((result) => result.observe(overload().lagMs));
    this.shedShare = meter.createObservableGauge("switchyard.overload.shed_share", {
      description: "Share (0 to 0.8) of new inference calls the overload guard refuses for event-loop lag",
    });
    this.shedShare.addCallback((result) => result.observe(overload().shedShare));
  }
}

export type { Attributes };
