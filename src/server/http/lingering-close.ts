import type http from "node:http";
import type net from "node:net";

/** Most time and bytes a refused upload may still take after its answer before the connection is cut. */
const LINGER_MS = 30_000;
const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * RFC 9112 §9.6's staged close for HTTP/1.1. When a response ends a
 * connection (`connection: close`) before the request's body has all
 * arrived — an early 413, 429 or deadline — Node destroys the socket with
 * the unread body still in its buffer: the kernel answers with a reset, and
 * a client still writing gets EPIPE or ECONNRESET instead of the answer
 * (about one try in three with a 10 MB body). Instead: send the response and
 * our FIN, keep reading and dropping the rest of the body, and close once it
 * has arrived (or after LINGER_MS / LINGER_BYTES, whichever comes first).
 * `current` is the request being received on this socket.
 */
export function lingerBeforeClose(socket: net.Socket, current: () => http.IncomingMessage | undefined): void {
  const destroySoon = socket.destroySoon;
  // Node's server calls destroySoon() when a response ends the connection: the one place to step in.
  socket.destroySoon = function lingeringDestroySoon(this: net.Socket) {
    const req = current();
    if (req === undefined || req.complete || this.destroyed) {
      destroySoon.call(this);
      return;
    }
    this.end(); // the answer, then our FIN: the client can read it whatever it does next
    let dropped = 0;
    const close = () => {
      clearTimeout(timer);
      if (this.writableFinished) this.destroy();
      else this.once("finish", () => this.destroy());
    };
    const timer = setTimeout(close, LINGER_MS).unref();
    this.once("close", () => clearTimeout(timer));
    req.on("data", (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > LINGER_BYTES) close();
    });
    req.once("end", close);
    req.removeAllListeners("readable"); // a reader that gave up must not keep the body paused
    req.resume();
  };
}
