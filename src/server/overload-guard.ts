import { GatewayError } from "../errors/gateway-error.ts";

export type OverloadLimits = {
  /** Requests in flight (all protocols) above which new inference calls are refused; 0 = no cap. */
  maxInFlightRequests: number;
  /** Event-loop lag the guard holds by refusing a share of new inference calls; 0 = never. */
  maxEventLoopLagMs: number;
};

/** How often the lag is sampled (a timer due every SAMPLE_MS; how late it fires is the lag). */
const SAMPLE_MS = 20;
/** Time constant of the lag's moving average. */
const AVERAGE_MS = 250;
/**
 * A sample moves the average by at most this much time's worth: one multi-second stall (start-up, a major GC)
 * is one event, not a trend. The share's step is weighted by up to STEP_MS of the interval instead, so a loop
 * whose every iteration is long (one sample per iteration) still reaches the cap within about a second.
 */
const AVERAGE_INTERVAL_MS = 60;
const STEP_MS = 500;
/** How fast the shed share grows per SAMPLE_MS, per unit of relative excess lag (see sample()). */
const GAIN = 0.02;
/** Below the limit the share falls this many times faster: refusals stop soon after the overload does. */
const RECOVERY = 4;
/** A single sample counts as at most this many times the limit. */
const OUTLIER_CAP = 3;
/**
 * Never refuse every call: some keep getting through, so the gateway keeps
 * serving even when refusing does not bring the lag down (e.g. clients that
 * resend at once, ignoring retry-after-ms). Envoy's admission control uses the same 80 % default.
 */
const MAX_SHARE = 0.8;

export type GuardOptions = {
  /** false leaves sampling to the caller's sample() (tests drive it with their own clock). */
  auto: boolean;
  /** Uniform [0, 1); tests pass their own to make the shed decision predictable. */
  random?: () => number;
  /** Called when shedding for lag starts (share above 0) and when it stops, for a log line. */
  onChange?: (shedding: boolean, lagMs: number, share: number) => void;
};

/**
 * Load shedding. Past capacity a Node process queues work (on its event loop,
 * in socket buffers, in its clients' pools) and every caller waits longer,
 * until they time out. The guard watches the event-loop lag (a timer's
 * lateness, as a moving average over about a quarter second) and refuses a
 * share of new calls (RESOURCE_EXHAUSTED / 429, with a retry delay): the
 * share grows while the lag stays above the limit and shrinks once it is
 * below, so admitted calls stay fast and a refusal costs far less than a
 * served call. One GC pause or config reload sheds nothing. Streams already
 * running are never cut.
 */
export class OverloadGuard {
  readonly #limits: () => OverloadLimits;
  readonly #inFlight: () => number;
  readonly #random: () => number;
  readonly #onChange: GuardOptions["onChange"];
  #lagMs = 0;
  #share = 0;
  #last: number;
  #expected: number;
  #timer: NodeJS.Timeout | undefined;
  shed = 0;

  constructor(limits: () => OverloadLimits, inFlight: () => number, options: GuardOptions = { auto: true }) {
    this.#limits = limits;
    this.#inFlight = inFlight;
    this.#random = options.random ?? Math.random;
    this.#onChange = options.onChange;
    this.#last = performance.now();
    this.#expected = this.#last + SAMPLE_MS;
    if (options.auto) this.#timer = setInterval(() => this.sample(performance.now()), SAMPLE_MS).unref();
  }

  /**
   * One sample: how late the tick due now came; `now` in performance.now()
   * ms. An integral controller, weighted by the time since the last sample:
   * per SAMPLE_MS the share moves by GAIN × (lag − limit) / limit, e.g. +2 %
   * per 20 ms while the lag is twice the limit; below the limit RECOVERY
   * times faster (−8 % per 20 ms at zero lag).
   */
  sample(now: number): void {
    const limit = this.#limits().maxEventLoopLagMs;
    const interval = Math.max(0, now - this.#last);
    this.#last = now;
    // Capped, so one long stall cannot outweigh everything else.
    const lag = Math.max(0, now - this.#expected);
    this.#expected = now + SAMPLE_MS;
    const sampled = limit > 0 ? Math.min(lag, OUTLIER_CAP * limit) : lag;
    this.#lagMs +=
      (1 - Math.exp(-Math.min(interval, AVERAGE_INTERVAL_MS) / AVERAGE_MS)) * (sampled - this.#lagMs);
    const excess = limit > 0 ? (this.#lagMs - limit) / limit : -1;
    const weight = Math.min(interval, STEP_MS) / SAMPLE_MS;
    const before = this.#share;
    this.#share = Math.min(
      MAX_SHARE,
      Math.max(0, before + GAIN * excess * weight * (excess < 0 ? RECOVERY : 1)),
    );
    if (before > 0 !== this.#share > 0) this.#onChange?.(this.#share > 0, this.#lagMs, this.#share);
  }

  /** The event-loop lag in ms: the moving average of the samples. */
  get lagMs(): number {
    return this.#lagMs;
  }

  /** The share (0 to MAX_SHARE) of new calls being refused for event-loop lag. */
  get shedShare(): number {
    return this.#share;
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
    if (this.#share > 0 && this.#random() < this.#share) {
      this.shed++;
      throw new GatewayError(
        "overloaded",
        `the gateway is overloaded: event-loop lag ${Math.round(this.#lagMs)} ms against ` +
          `server.limits.maxEventLoopLagMs ${maxEventLoopLagMs}; refusing ${Math.round(this.#share * 100)} % of new calls`,
        { retryAfterMs: 1000 },
      );
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
