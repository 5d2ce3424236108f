import CircuitBreaker from "opossum";
import type { BreakerConfig } from "../config/schema.ts";
import { UpstreamError } from "../errors/upstream-error.ts";
import type { Logger } from "../telemetry/logger.ts";

export type BreakerState = "closed" | "open" | "half_open";

/** Thrown instead of calling the backend while its breaker is open (or its one half-open probe is out). */
export class BreakerOpenError extends Error {
  constructor(backend: string) {
    super(`circuit open for ${backend}`);
    this.name = "BreakerOpenError";
  }
}

type Action = () => Promise<unknown>;

/**
 * One opossum circuit breaker per backend. It covers an attempt from connect
 * to its first event only (what happens after commit is not the breaker's
 * business). Rate limits (429) and the caller's own errors (bad request,
 * cancel) are filtered — opossum counts a filtered error as a success — so
 * they never open it. Half-open admits exactly one probe; the others are
 * rejected until it settles. The probe is run here, not by opossum: opossum
 * would close the breaker on a filtered error, so a cancelled (or 429, or
 * bad-request) probe of a dead backend let every following call wait out a
 * first-token timeout on it. Here only a real success closes it, a real
 * failure re-opens it, and anything else leaves it half-open for the next probe.
 */
export class Breaker {
  readonly #cb: CircuitBreaker<[Action, () => boolean], unknown>;
  readonly #backend: string;
  /** The half-open probe is out. */
  #probing = false;

  constructor(backend: string, config: BreakerConfig, logger: Logger) {
    this.#backend = backend;
    this.#cb = new CircuitBreaker((action: Action, _neutral: () => boolean) => action(), {
      timeout: false, // deadlines are the router's job, with real cancellation
      volumeThreshold: config.volumeThreshold,
      errorThresholdPercentage: config.errorThresholdPercentage,
      resetTimeout: config.resetTimeoutMs,
      rollingCountTimeout: config.rollingWindowMs,
      rollingCountBuckets: 10,
      // opossum passes the fire() arguments after the error; the typings only declare the error.
      errorFilter: ((error: unknown, _action: Action, neutral: () => boolean) =>
        neutral() || isNotBackendsFault(error)) as (error: unknown) => boolean,
    });
    this.#cb.on("open", () =>
      logger.warn({ backend, breaker: "open" }, `circuit breaker for ${backend} opened`),
    );
    this.#cb.on("halfOpen", () =>
      logger.info({ backend, breaker: "half_open" }, `circuit breaker for ${backend} half-open`),
    );
    this.#cb.on("close", () =>
      logger.info({ backend, breaker: "closed" }, `circuit breaker for ${backend} closed`),
    );
  }

  get state(): BreakerState {
    if (this.#cb.opened) return "open";
    if (this.#cb.halfOpen) return "half_open";
    return "closed";
  }

  /** Whether a call would be let through right now (closed, or half-open with its probe still unused). */
  get admits(): boolean {
    return this.#cb.closed || (this.#cb.halfOpen && !this.#probing);
  }

  /**
   * Runs `action` through the breaker. `neutral()` is asked when it fails: true
   * means the failure was not the backend's (e.g. the caller cancelled).
   */
  async run<T>(action: () => Promise<T>, neutral: () => boolean): Promise<T> {
    if (this.#cb.halfOpen) return this.#probe(action, neutral);
    try {
      return (await this.#cb.fire(action, neutral)) as T;
    } catch (error) {
      if ((error as { code?: string }).code === "EOPENBREAKER") throw new BreakerOpenError(this.#backend);
      throw error;
    }
  }

  async #probe<T>(action: () => Promise<T>, neutral: () => boolean): Promise<T> {
    if (this.#probing) throw new BreakerOpenError(this.#backend);
    this.#probing = true;
    try {
      const result = await action();
      this.#cb.close();
      return result;
    } catch (error) {
      if (!neutral() && !isNotBackendsFault(error)) this.#cb.open(); // starts another reset period
      throw error;
    } finally {
      this.#probing = false;
    }
  }

  shutdown(): void {
    this.#cb.shutdown();
  }
}

function isNotBackendsFault(error: unknown): boolean {
  return error instanceof UpstreamError && (error.kind === "rate_limited" || error.kind === "bad_request");
}
