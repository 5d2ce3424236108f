import type { HttpResponse } from "./http-io.ts";

/**
 * OpenAI's server-sent events: `data: <json>\n\n` per event, `data: [DONE]`
 * last. The status and headers leave with the first event, so everything
 * known until then (a failure before output, the routing decision) can still
 * shape them. Writes wait for the socket to drain: a slow reader slows the
 * upstream instead of filling memory.
 */
export class SseWriter {
  readonly #res: HttpResponse;
  readonly #headers: () => Record<string, string>;

  constructor(res: HttpResponse, headers: () => Record<string, string>) {
    this.#res = res;
    this.#headers = headers;
  }

  get started(): boolean {
    return this.#res.headersSent;
  }

  get #gone(): boolean {
    return this.#res.destroyed || this.#res.writableEnded;
  }

  async send(data: unknown): Promise<void> {
    await this.#write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** The normal end: `data: [DONE]`, then the response ends. */
  async done(): Promise<void> {
    await this.#write("data: [DONE]\n\n");
    if (!this.#gone) this.#res.end();
  }

  /** A failure after output began: one `data: {"error": …}` event (the SDKs throw on it), then the end. */
  fail(error: unknown): void {
    if (this.#gone) return;
    this.#start();
    this.#res.write(`data: ${JSON.stringify({ error })}\n\n`);
    this.#res.end();
  }

  #start(): void {
    if (this.#res.headersSent) return;
    this.#res.writeHead(200, {
      ...this.#headers(),
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no", // proxies (nginx) must not hold events back
    });
  }

  async #write(text: string): Promise<void> {
    if (this.#gone) return;
    this.#start();
    if (this.#res.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#res.off("drain", done);
        this.#res.off("close", done);
        resolve();
      };
      this.#res.on("drain", done);
      this.#res.on("close", done);
    });
  }
}
