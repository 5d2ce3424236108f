import { createContextKey } from "@connectrpc/connect";
import { GatewayError } from "../errors/gateway-error.ts";

/** Set on a call the guard already let in at the front door (before its body was read), so it is not drawn again. */
export const ADMITTED = createContextKey(false, { description: "admitted by the overload guard" });

export type OverloadLimits = {
  /** Requests in flight (all protocols) above which new inference calls are refused; 0 = no cap. */
  maxInFlightRequests: number;
  /** Event-loop lag the guard holds by refusing a share of new inference calls; 0 = never. */
  maxEventLoopLagMs: number;
};

/** How often the lag is sampled, and how many recent samples (half a second) are averaged into the current lag. */
const SAMPLE_MS = 20;
const WINDOW = 25;
/** How fast the shed share grows per sample, per unit of relative excess lag (see sample()). */
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
};

/**
 * Load shedding. Past capacity a Node process queues work (on its event loop,
 * in socket buffers, in its clients' pools) and every caller waits longer,
 * until they time out. The guard watches the event-loop lag (a timer's
 * lateness, averaged over the last half second) and refuses a share of new calls
 * (RESOURCE_EXHAUSTED / 429, with a retry delay): the share grows while the
 * lag stays above the limit and shrinks once it is below, so admitted calls
 * stay fast and a refusal costs far less than a served call. The share moves
 * in small steps, so one GC pause or config reload sheds next to nothing.
 * Streams already running are never cut.
 */
export class OverloadGuard {
  readonly #limits: () => OverloadLimits;
  readonly #inFlight: () => number;
  readonly #random: () => number;
  readonly #samples = new Array<number>(WINDOW).fill(0);
  #next = 0;
  #lagMs = 0;
  #share = 0;
  #expected: number;
  #timer: NodeJS.Timeout | undefined;
  shed = 0;

  constructor(limits: () => OverloadLimits, inFlight: () => number, options: GuardOptions = { auto: true }) {
    this.#limits = limits;
    this.#inFlight = inFlight;
    this.#random = options.random ?? Math.random;
    this.#expected = performance.now() + SAMPLE_MS;
    if (options.auto) this.#timer = setInterval(() => this.sample(performance.now()), SAMPLE_MS).unref();
  }

  /**
   * One sample: how late the tick due now (every SAMPLE_MS) came; `now` in
   * performance.now() ms. An integral controller: each sample moves the shed
   * share by GAIN × (lag − limit) / limit, e.g. +2 % per 20 ms while the lag
   * is twice the limit; below the limit RECOVERY times faster, −8 % per 20 ms
   * while it is zero (from the 80 % cap to none in 200 ms).
   */
  sample(now: number): void {
    const limit = this.#limits().maxEventLoopLagMs;
    // Capped, so one long stall (start-up, a major GC) cannot outweigh the rest of the window.
    const lag = Math.max(0, now - this.#expected);
    this.#samples[this.#next] = limit > 0 ? Math.min(lag, OUTLIER_CAP * limit) : lag;
    this.#next = (this.#next + 1) % WINDOW;
    this.#expected = now + SAMPLE_MS;
    let sum = 0;
    for (const s of this.#samples) sum += s;
    this.#lagMs = sum / WINDOW;
    const excess = limit > 0 ? (this.#lagMs - limit) / limit : -1;
    const step = GAIN * excess * (excess < 0 ? RECOVERY : 1);
    this.#share = Math.min(MAX_SHARE, Math.max(0, this.#share + step));
  }

  /** The event-loop lag in ms: the mean of the last few samples. */
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
