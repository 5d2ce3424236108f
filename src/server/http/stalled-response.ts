import { constants } from "node:http2";

/**
 * How long after its deadline a response may still be open before it is reset. The gateway answers
 * a passed deadline within milliseconds; a response still unfinished a second later is held by a
 * caller that stopped reading (its HTTP/2 window or socket buffer is full, so not even the status can
 * leave), and only a reset frees the call.
 */
export const STALL_GRACE_MS = 1000;

/** What these helpers use of a response; http.ServerResponse and http2.Http2ServerResponse both have it. */
type OpenResponse = {
  readonly destroyed?: boolean; // absent on HTTP/2's compat response: its stream says so
  destroy(): unknown;
  once(event: "close", listener: () => void): unknown;
  off(event: "close", listener: () => void): unknown;
};

/**
 * Ends a response now, whatever it still had to send: HTTP/2 resets the stream (RST_STREAM CANCEL,
 * what a gRPC client reads as the call ending on the server's side); HTTP/1.1 closes the connection.
 */
export function abandon(res: OpenResponse): void {
  if (res.destroyed) return;
  const stream = (res as { stream?: { destroyed: boolean; close(code: number): void } }).stream;
  if (stream !== undefined && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
  else res.destroy();
}

/** Resets `res` if it is still open `STALL_GRACE_MS` after `deadlineMs` from now. */
export function resetIfStalled(res: OpenResponse, deadlineMs: number): void {
  const onClose = () => clearTimeout(timer);
  const timer = setTimeout(() => {
    res.off("close", onClose);
    abandon(res);
  }, deadlineMs + STALL_GRACE_MS);
  timer.unref();
  res.once("close", onClose);
}
