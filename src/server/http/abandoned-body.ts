import type http from "node:http";
import { discardRest } from "./read-body.ts";

/**
 * connect-node stops reading a body over its readMaxBytes (one sent without
 * a content-length) by destroying the request; on HTTP/1.1 that leaves the
 * rest of the body unread in the socket, so a client still uploading stalls
 * and then gets a reset instead of the RESOURCE_EXHAUSTED answer. Here a
 * request given up by its reader while its body is still arriving drops the
 * rest instead (bounded, as after our own early answers); a second destroy,
 * or one with another error (the socket reset), is a real one.
 */
export function dropBodyWhenAbandoned(req: http.IncomingMessage, maxBytes: number): void {
  const destroy = req.destroy;
  const socket = req.socket;
  let abandoned = false;
  req.destroy = function dropOrDestroy(this: http.IncomingMessage, error?: Error | null) {
    // A reader that stops early (an async iterator's return()) destroys with an AbortError.
    const givenUp = error === undefined || error === null || error.name === "AbortError";
    if (abandoned || !givenUp || this.complete) return destroy.call(this, error ?? undefined);
    abandoned = true;
    // Node's stream destroyer detaches a server request from its socket first (so the socket lives on, but
    // nothing reads it any more and the client's upload stalls): reattach it, so the rest can be read and dropped.
    this.socket ??= socket;
    this.removeAllListeners("readable"); // the abandoned async iterator's: it would keep the body paused
    discardRest(this, maxBytes);
    return this;
  };
}
