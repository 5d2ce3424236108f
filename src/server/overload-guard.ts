import { GatewayError } from "../errors/gateway-error.ts";

export type OverloadLimits = {
  /** Requests in flight (all protocols) above which new inference calls are refused; 0 = no cap. */
  maxInFlightRequests: number;
  /** Smoothed event-loop lag above which new inference calls are refused; 0 = never. */
  maxEventLoopLagMs: number;
};

/** How often the lag is sampled, and how much one sample moves the smoothed value. */
const SAMPLE_MS = 20;
const SMOOTHING = 0.2;

/**
 * Load shedding: past capacity a Node process queues work on its event loop
 * and every caller waits longer, until clients time out. Refusing new calls
 * early (RESOURCE_EXHAUSTED / 429, with a retry delay) keeps the admitted ones
 * fast. The lag is sampled by a timer and smoothed, so one GC pause or a
 * config reload does not shed; sustained overload does.
 */
export class OverloadGuard {
  readonly #limits: () => OverloadLimits;
  readonly #inFlight: () => number;
  #lagMs = 0;
  #expected = 0;
  #timer: NodeJS.Timeout | undefined;
  shed = 0;

  constructor(limits: () => OverloadLimits, inFlight: () => number) {
    this.#limits = limits;
    this.#inFlight = inFlight;
    this.#expected = performance.now() + SAMPLE_MS;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#lagMs += (Math.max(0, now - this.#expected) - this.#lagMs) * SMOOTHING;
      this.#expected = now + SAMPLE_MS;
    }, SAMPLE_MS).unref();
  }

  /** The smoothed event-loop lag in ms. */
  get lagMs(): number {
    return this.#lagMs;
  }

  /** Throws `overloaded` when a new call should be refused. */
  check(): void {
    const { maxInFlightRequests, maxEventLoopLagMs } = this.#limits();
    const inFlight = this.#inFlight();
    if (maxInFlightRequests > 0 && inFlight > maxInFlightRequests) {
      this.shed++;
      throw new GatewayError(
        "overloaded",
        `the gateway is at its limit of ${maxInFlightRequests} requests in flight (server.limits.maxInFlightRequests)`,
        { retryAfterMs: 1000 },
      );
    }
    if (maxEventLoopLagMs > 0 && this.#lagMs > maxEventLoopLagMs) {
      this.shed++;
      throw new GatewayError(
        "overloaded",
        `the gateway is overloaded (event-loop lag ${Math.round(this.#lagMs)} ms > server.limits.maxEventLoopLagMs ${maxEventLoopLagMs})`,
        { retryAfterMs: 1000 },
      );
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
