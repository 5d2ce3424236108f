import { Code, ConnectError } from "@connectrpc/connect";

/**
 * One request's deadline: the caller's (gRPC/Connect timeout) capped by the
 * route's total timeout. Its signal aborts every upstream attempt when the
 * deadline passes or the caller goes away, whichever is first.
 */
export class Deadline {
  readonly at: number;
  readonly signal: AbortSignal;
  #expired = false;
  readonly #timer: NodeJS.Timeout;
  readonly #controller = new AbortController();
  readonly #onCallerAbort: () => void;
  readonly #caller: AbortSignal;

  constructor(
    caller: AbortSignal,
    callerTimeoutMs: number | undefined,
    routeTimeoutMs: number,
    now = Date.now(),
  ) {
    // Never below 0: a deadline already passed is due now (a negative delay only earns a warning).
    const budget = Math.max(0, Math.min(callerTimeoutMs ?? Number.POSITIVE_INFINITY, routeTimeoutMs));
    this.at = now + budget;
    this.signal = this.#controller.signal;
    this.#caller = caller;
    this.#onCallerAbort = () => this.#controller.abort(caller.reason);
    if (caller.aborted) this.#controller.abort(caller.reason);
    else caller.addEventListener("abort", this.#onCallerAbort, { once: true });
    this.#timer = setTimeout(() => {
      this.#expired = true;
      this.#controller.abort(new Error("deadline exceeded"));
    }, budget);
    this.#timer.unref();
  }

  /**
   * True once the deadline itself passed (as opposed to a caller cancel). connect aborts the
   * handler's signal itself when the caller's timeout passes — often a moment before our own timer
   * for the same instant — with a DEADLINE_EXCEEDED reason: that is expiry too, not a cancel.
   */
  get expired(): boolean {
    if (this.#expired) return true;
    if (this.#caller.aborted)
      return (
        this.#caller.reason instanceof ConnectError && this.#caller.reason.code === Code.DeadlineExceeded
      );
    return Date.now() >= this.at;
  }

  remainingMs(now = Date.now()): number {
    return Math.max(0, this.at - now);
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#caller.removeEventListener("abort", this.#onCallerAbort);
  }
}
