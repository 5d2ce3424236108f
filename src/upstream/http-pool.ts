import type { Readable } from "node:stream";
import { Pool } from "undici";
import { classifyNetworkError } from "./classify.ts";

export type HttpPoolOptions = {
  /** Base URL including any path prefix, e.g. https://api.openai.com/v1 */
  baseUrl: string;
  connections: number;
  connectTimeoutMs: number;
};

export type HttpResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { text(): Promise<string>; json(): Promise<unknown>; dump(): Promise<void> };
};

/**
 * All upstream HTTP goes through here: one undici Pool per backend (keep-alive,
 * bounded connections). The caller's signal aborts the request and its socket;
 * network failures come out as UpstreamError. Callers must consume or destroy
 * every returned body.
 */
export class HttpPool {
  readonly #pool: Pool;
  readonly #prefix: string;

  constructor(options: HttpPoolOptions) {
    const url = new URL(options.baseUrl);
    this.#prefix = url.pathname.replace(/\/+$/, "");
    this.#pool = new Pool(url.origin, {
      connections: options.connections,
      connect: { timeout: options.connectTimeoutMs },
      // Deadlines are enforced by the router's abort signal; undici's own
      // timers are between-chunk and would only fire after ours.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async request(options: {
    method: "GET" | "POST";
    /** Appended to the base URL's path prefix, unless `fromOrigin` (e.g. a server's /health). */
    path: string;
    fromOrigin?: boolean;
    headers: Record<string, string>;
    body?: string;
    signal: AbortSignal;
  }): Promise<HttpResponse> {
    try {
      const response = await this.#pool.request({
        method: options.method,
        path: options.fromOrigin ? options.path : this.#prefix + options.path,
        headers: options.headers,
        body: options.body ?? null,
        signal: options.signal,
      });
      // A late abort (deadline, shutdown) can error a body nobody reads any more; readers still see
      // errors through their own iteration, but an unread body must not crash the process.
      response.body.on("error", () => {});
      return { status: response.statusCode, headers: response.headers, body: response.body };
    } catch (error) {
      throw classifyNetworkError(error, options.signal);
    }
  }

  /** Waits for in-flight requests, then closes the sockets. */
  async close(): Promise<void> {
    await this.#pool.close();
  }
}
