/** What callerGone needs of a response; http.ServerResponse and http2.Http2ServerResponse both have it. */
type ClosableResponse = {
  readonly writableEnded: boolean;
  once(event: "close", listener: () => void): unknown;
};

/**
 * Aborts when the caller goes away before the response is complete, so the pipeline stops the
 * upstream. `reason` is what the signal carries (a premade reason spares a DOMException per cancel).
 */
export function callerGone(res: ClosableResponse, reason?: unknown): AbortController {
  const abort = new AbortController();
  res.once("close", () => {
    // writableEnded, not writableFinished: HTTP/2's compat response reports a reset stream as finished.
    if (!res.writableEnded) abort.abort(reason);
  });
  return abort;
}
