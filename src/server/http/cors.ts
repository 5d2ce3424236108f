import type { IncomingHttpHeaders } from "node:http";

export type CorsConfig = {
  /** Exact origins (`https://app.example.com`), patterns with one `*` label (`https://*.example.com`), or `*`. */
  allowedOrigins: string[];
  /** Send `Access-Control-Allow-Credentials: true` (never with `*`: the schema refuses it). */
  allowCredentials: boolean;
  /** How long a browser may cache a preflight answer. */
  maxAgeSeconds: number;
};

/** What a browser must be allowed to send for Connect, gRPC-Web and the REST front doors. */
const ALLOWED_HEADERS = [
  "authorization",
  "content-type",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-content-encoding",
  "connect-accept-encoding",
  "grpc-timeout",
  "grpc-accept-encoding",
  "x-grpc-web",
  "x-user-agent",
  "x-api-key",
  "x-request-id",
  "anthropic-version",
  "anthropic-beta",
  "anthropic-dangerous-direct-browser-access",
  "openai-organization",
  "openai-project",
  "x-stainless-timeout",
  "x-stainless-retry-count",
  "traceparent",
  "tracestate",
];

/** Response headers the gateway sets that a browser client must be able to read. */
const ROUTING_HEADERS = [
  "x-request-id",
  "x-switchyard-reason",
  "x-switchyard-route",
  "x-switchyard-backend",
  "x-switchyard-model",
  "x-switchyard-attempts",
  "x-switchyard-input-tokens",
  "x-switchyard-output-tokens",
  "x-switchyard-cost-micro-usd",
  "x-switchyard-usage-accuracy",
  "x-ratelimit-limit-requests",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-reset-requests",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-tokens",
  "retry-after",
  "retry-after-ms",
  "server-timing",
];

/**
 * Exposed: gRPC-Web's status headers (a trailers-only answer carries them as headers), the routing
 * headers, and the same as Connect unary sends trailers (`trailer-<name>`).
 */
export const EXPOSED_HEADERS = [
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
  ...ROUTING_HEADERS,
  ...ROUTING_HEADERS.map((name) => `trailer-${name}`),
];

type Response = {
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers?: Record<string, string>): unknown;
  end(): unknown;
};

/**
 * CORS for browsers on other origins, compiled once from `server.cors`. Every response to an allowed
 * origin names it (never `*` with credentials) and exposes the headers clients read; a preflight
 * (OPTIONS with Access-Control-Request-Method) is answered here, before any route: 204 for an
 * allowed origin, 403 without CORS headers otherwise (the browser then refuses the call).
 */
export class Cors {
  readonly #exact: Set<string>;
  readonly #patterns: RegExp[];
  readonly #any: boolean;
  readonly #credentials: boolean;
  readonly #maxAge: string;
  readonly #exposed = EXPOSED_HEADERS.join(", ");
  readonly #allowedHeaders = ALLOWED_HEADERS.join(", ");

  constructor(config: CorsConfig) {
    this.#any = config.allowedOrigins.includes("*");
    this.#exact = new Set(config.allowedOrigins.filter((o) => !o.includes("*")));
    this.#patterns = config.allowedOrigins.filter((o) => o !== "*" && o.includes("*")).map(originPattern);
    this.#credentials = config.allowCredentials;
    this.#maxAge = String(config.maxAgeSeconds);
  }

  /**
   * Adds the CORS headers for this request's origin; answers it when it is a preflight. Returns true
   * when the request was answered (nothing else may handle it).
   */
  handle(method: string | undefined, headers: IncomingHttpHeaders, res: Response): boolean {
    const origin = headers.origin;
    const preflight = method === "OPTIONS" && headers["access-control-request-method"] !== undefined;
    if (origin === undefined) return false; // not a cross-origin browser call
    const allowed = this.#allows(origin);
    if (!allowed) {
      if (!preflight) return false; // served as usual; the browser keeps the answer from the page
      res.writeHead(403, { "content-type": "text/plain; charset=utf-8", vary: "Origin" });
      res.end();
      return true;
    }
    const allowOrigin = this.#any && !this.#credentials ? "*" : origin;
    if (!preflight) {
      res.setHeader("access-control-allow-origin", allowOrigin);
      res.setHeader("vary", "Origin");
      res.setHeader("access-control-expose-headers", this.#exposed);
      if (this.#credentials) res.setHeader("access-control-allow-credentials", "true");
      return false;
    }
    res.writeHead(204, {
      "access-control-allow-origin": allowOrigin,
      vary: "Origin, Access-Control-Request-Headers",
      "access-control-allow-methods": "GET, POST",
      "access-control-allow-headers": this.#allowedHeaders,
      "access-control-max-age": this.#maxAge,
      ...(this.#credentials ? { "access-control-allow-credentials": "true" } : {}),
    });
    res.end();
    return true;
  }

  #allows(origin: string): boolean {
    if (this.#any || this.#exact.has(origin)) return true;
    return this.#patterns.some((p) => p.test(origin));
  }
}

/** `https://*.example.com` → one DNS label in place of `*`, nothing else (so not `https://evil.com/.example.com`). */
function originPattern(pattern: string): RegExp {
  const [before = "", after = ""] = pattern.split("*", 2);
  const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${literal(before)}[a-z0-9-]+${literal(after)}$`);
}
