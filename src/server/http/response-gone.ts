/**
 * What responseGone and drained need of a response; http.ServerResponse and
 * http2.Http2ServerResponse both have it. HTTP/2's compat response has no
 * `destroyed`: whether its stream was reset is on `stream`.
 */
export type WritableResponse = {
  readonly writableEnded: boolean;
  readonly destroyed?: boolean;
  readonly stream?: { readonly destroyed: boolean };
  once(event: "close" | "drain", listener: () => void): unknown;
  off(event: "close" | "drain", listener: () => void): unknown;
};

/**
 * True once nothing more can be written: we ended the response, or it was destroyed (HTTP/1.1
 * socket closed, HTTP/2 stream reset by the caller or by nghttp2, e.g. ENHANCE_YOUR_CALM).
 * Checking `res.destroyed` alone misses every HTTP/2 reset (it is undefined there).
 */
export function responseGone(res: WritableResponse): boolean {
  return res.writableEnded || res.destroyed === true || res.stream?.destroyed === true;
}

/**
 * Resolves when the response can take more, or at once if it is gone, or when `signal` aborts (the
 * call's deadline or its end: a caller that stopped reading must not hold the call past it). A write
 * after a reset returns false and no `drain` or `close` follows (close already fired): waiting for
 * them would suspend the request forever, holding its body, its context and its budget reservation.
 */
export function drained(res: WritableResponse, signal?: AbortSignal): Promise<void> {
  if (responseGone(res) || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
    signal?.addEventListener("abort", done, { once: true });
  });
}
