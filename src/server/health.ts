import { EventEmitter, on } from "node:events";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.ts";

/**
 * Serving status per service name ("" = the whole server), as
 * grpc.health.v1.Health reports it. Shutdown flips everything to NOT_SERVING
 * first so load balancers stop sending before we stop accepting.
 */
export class HealthStatus {
  readonly #statuses = new Map<string, Status>();
  readonly #changes = new EventEmitter();
  readonly #closed = new AbortController();

  constructor(services: readonly string[]) {
    this.#changes.setMaxListeners(0); // one listener per Watch stream
    for (const name of ["", ...services]) this.#statuses.set(name, Status.SERVING);
  }

  get(service: string): Status | undefined {
    return this.#statuses.get(service);
  }

  all(): ReadonlyMap<string, Status> {
    return this.#statuses;
  }

  set(service: string, status: Status): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    this.#changes.emit("change", service);
  }

  setAll(status: Status): void {
    for (const service of this.#statuses.keys()) this.set(service, status);
  }

  /** Status changes until the watcher goes away or the server closes. */
  changes(signal: AbortSignal): { events: AsyncIterable<unknown[]>; signal: AbortSignal } {
    const both = AbortSignal.any([signal, this.#closed.signal]);
    return { events: on(this.#changes, "change", { signal: both }), signal: both };
  }

  /** Ends every Watch stream (after shutdown has reported NOT_SERVING), so they do not hold the drain. */
  close(): void {
    this.#closed.abort();
  }
}

export function healthService(health: HealthStatus): ServiceImpl<typeof Health> {
  return {
    check(req) {
      const status = health.get(req.service);
      if (status === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      return { status };
    },
    list() {
      return { statuses: Object.fromEntries([...health.all()].map(([name, status]) => [name, { status }])) };
    },
    async *watch(req, context) {
      let last = health.get(req.service) ?? Status.SERVICE_UNKNOWN;
      yield { status: last };
      const changes = health.changes(context.signal);
      try {
        for await (const [service] of changes.events) {
          if (service !== req.service) continue;
          const now = health.get(req.service) ?? Status.SERVICE_UNKNOWN;
          if (now !== last) yield { status: now };
          last = now;
        }
      } catch (error) {
        if (!changes.signal.aborted) throw error; // the watcher went away or the server closes: end quietly
      }
    },
  };
}
