import { drained, responseGone } from "../server/http/response-gone.ts";
import { abandon } from "../server/http/stalled-response.ts";
import type { HttpResponse } from "./openai/http-io.ts";

/**
 * How a front door frames its events. OpenAI's chat completions: `data: <json>` per event and
 * `data: [DONE]` last. Anthropic's Messages and OpenAI's Responses: `event: <data.type>` before each
 * `data:` line and no end marker (the last event says it ends).
 */
export type SseFormat = { named: boolean; last?: string };

export const CHAT_COMPLETIONS_SSE: SseFormat = { named: false, last: "data: [DONE]\n\n" };
export const NAMED_EVENTS_SSE: SseFormat = { named: true };

/**
 * Server-sent events of a REST front door. The status and headers leave with the first event, so
 * everything known until then (a failure before output, the routing decision) can still shape them.
 * Writes wait for the socket to drain: a slow reader slows the upstream instead of filling memory —
 * until the request's deadline: then a caller that is not reading gets nothing more (the pipeline,
 * its upstream aborted, ends with deadline_exceeded) and its stuck response is reset, since not even
 * the error event could reach it. What is known only at the end (server-timing) goes in a trailer,
 * declared in the headers (`Trailer:`).
 */
export class SseWriter {
  readonly #res: HttpResponse;
  readonly #format: SseFormat;
  readonly #headers: () => Record<string, string>;
  readonly #deadline: () => AbortSignal | undefined;

  /** `deadline`: the request's deadline signal, once the pipeline admitted it. */
  constructor(
    res: HttpResponse,
    format: SseFormat,
    headers: () => Record<string, string>,
    deadline: () => AbortSignal | undefined = () => undefined,
  ) {
    this.#res = res;
    this.#format = format;
    this.#headers = headers;
    this.#deadline = deadline;
  }

  get started(): boolean {
    return this.#res.headersSent;
  }

  get #gone(): boolean {
    return responseGone(this.#res);
  }

  /** The deadline passed while the caller was not reading. */
  get #stalled(): boolean {
    return this.#deadline()?.aborted === true && this.#res.writableNeedDrain;
  }

  /** One event; with named events `data.type` is its name, as those APIs' events always carry it. */
  async send(data: unknown): Promise<void> {
    await this.#write(this.#frame(data));
  }

  /**
   * The normal end: the format's end marker, then the trailers, then the response ends. `trailers` is
   * called once the last event went out, even when the caller is gone (it ends the request's telemetry).
   */
  async done(trailers: () => Record<string, string>): Promise<void> {
    if (this.#format.last) await this.#write(this.#format.last);
    this.#end(trailers());
  }

  /** A failure after output began: one error event (the SDKs throw on it), then the end. */
  fail(data: unknown, trailers: () => Record<string, string>): void {
    if (!this.#gone && !this.#stalled) {
      this.#start();
      this.#res.write(this.#frame(data));
    }
    this.#end(trailers());
  }

  #frame(data: unknown): string {
    const json = `data: ${JSON.stringify(data)}\n\n`;
    return this.#format.named ? `event: ${(data as { type: string }).type}\n${json}` : json;
  }

  #end(trailers: Record<string, string>): void {
    if (this.#gone) return;
    if (this.#stalled) {
      abandon(this.#res);
      return;
    }
    this.#res.addTrailers(trailers); // HTTP/1.1 chunked or HTTP/2; an HTTP/1.0 caller has no trailers
    this.#res.end();
  }

  #start(): void {
    if (this.#res.headersSent) return;
    this.#res.writeHead(200, {
      ...this.#headers(),
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no", // proxies (nginx) must not hold events back
      trailer: "server-timing",
    });
  }

  async #write(text: string): Promise<void> {
    if (this.#gone || this.#stalled) return;
    this.#start();
    if (!this.#res.write(text)) await drained(this.#res, this.#deadline());
  }
}
