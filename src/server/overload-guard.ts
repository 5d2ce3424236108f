import { GatewayError } from "../errors/gateway-error.ts";

export type OverloadLimits = {
  /** Requests in flight (all protocols) above which new inference calls are refused; 0 = no cap. */
  maxInFlightRequests: number;
  /** Sustained event-loop lag above which new inference calls are refused; 0 = never. */
  maxEventLoopLagMs: number;
};

/** How often the lag is sampled, and how many recent samples must all be late to shed. */
const SAMPLE_MS = 20;
const WINDOW = 5;

/**
 * Load shedding: past capacity a Node process queues work on its event loop
 * and every caller waits longer, until clients time out. Refusing new calls
 * early (RESOURCE_EXHAUSTED / 429, with a retry delay) keeps the admitted ones
 * fast. The lag is sampled by a timer; the guard uses the smallest of the
 * last few samples, so one GC pause or a config reload does not shed, while
 * a saturated loop (every iteration long) does.
 */
export class OverloadGuard {
  readonly #limits: () => OverloadLimits;
  readonly #inFlight: () => number;
  readonly #samples = new Array<number>(WINDOW).fill(0);
  #next = 0;
  #lagMs = 0;
  #expected: number;
  #timer: NodeJS.Timeout | undefined;
  shed = 0;

  /** `sampling: false` leaves sampling to the caller's sample() (tests drive it with their own clock). */
  constructor(
    limits: () => OverloadLimits,
    inFlight: () => number,
    sampling: { auto: boolean } = { auto: true },
  ) {
    this.#limits = limits;
    this.#inFlight = inFlight;
    this.#expected = performance.now() + SAMPLE_MS;
    if (sampling.auto) this.#timer = setInterval(() => this.sample(performance.now()), SAMPLE_MS).unref();
  }

  /** One sample: how late the tick due now (every SAMPLE_MS) came; `now` in performance.now() ms. */
  sample(now: number): void {
    this.#samples[this.#next] = Math.max(0, now - this.#expected);
    this.#next = (this.#next + 1) % WINDOW;
    this.#lagMs = Math.min(...this.#samples);
    this.#expected = now + SAMPLE_MS;
  }

  /** The sustained event-loop lag in ms: the smallest of the last few samples. */
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
        `the gateway is overloaded (sustained event-loop lag ${Math.round(this.#lagMs)} ms > server.limits.maxEventLoopLagMs ${maxEventLoopLagMs})`,
        { retryAfterMs: 1000 },
      );
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
