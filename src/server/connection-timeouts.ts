import type http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";
import { lingerBeforeClose } from "./http/lingering-close.ts";

/** Why the gateway closed a connection (or a request) on its own: a metric label, from this fixed set. */
export type ConnectionCloseReason = "header_timeout" | "idle_timeout" | "request_timeout" | "connection_cap";

export type ConnectionLimits = {
  /** From accept to the first request (HTTP/1.1 head parsed, HTTP/2 SETTINGS received). */
  headersTimeoutMs: number;
  /** No request (HTTP/1.1) or no open stream (HTTP/2) for this long: closed. */
  idleTimeoutMs: number;
  /** From a request's head to the last byte of its body. */
  requestTimeoutMs: number;
  /** Told each time a timeout closes a connection or cuts a request (for switchyard_connections_closed_total). */
  onClose?: (reason: ConnectionCloseReason) => void;
};

/** HTTP/2 sessions closed for idleness get this long to say GOAWAY before they are destroyed. */
const GOAWAY_GRACE_MS = 1000;

const WATCH = Symbol("switchyard.connection-watch");
type Watched = { [WATCH]?: ConnectionWatch };

/**
 * One connection's clock. Node's http.Server runs its headersTimeout and
 * requestTimeout checks only on connections it accepted itself, and listen()
 * hands them over with emit("connection") after sniffing; TLS waits 120 s for
 * a handshake by default. So a silent socket, a partial preface or request
 * line would stay open for ever: these timers are ours. Until the first
 * request the connection has headersTimeoutMs; while a request (or HTTP/2
 * stream) is open there is no connection timer at all, so a long stream is
 * never cut, however quiet; once the last one ends, idleTimeoutMs.
 */
class ConnectionWatch {
  readonly #limits: ConnectionLimits;
  #timer: NodeJS.Timeout | undefined;
  /** Which clock runs: the one before the first request, or the idle one after the last. */
  #phase: "header_timeout" | "idle_timeout" = "header_timeout";
  #open = 0;
  #closed = false;
  #expire: () => void;
  /** The HTTP/1.1 request being received last, for the lingering close. */
  request: http.IncomingMessage | undefined;

  constructor(socket: net.Socket, limits: ConnectionLimits) {
    this.#limits = limits;
    this.#expire = () => socket.destroy();
    this.#arm(limits.headersTimeoutMs);
    socket.once("close", () => {
      this.#closed = true;
      this.stop();
    });
  }

  /** What to do when the timer runs out (default: destroy the socket). */
  onExpire(expire: () => void): void {
    this.#expire = expire;
  }

  begin(): void {
    if (this.#open++ === 0) this.stop();
  }

  end(): void {
    if (--this.#open === 0) this.idle();
  }

  /** Nothing open: the idle clock runs (also once an HTTP/2 session's SETTINGS arrive). */
  idle(): void {
    if (this.#open !== 0) return;
    this.#phase = "idle_timeout";
    this.#arm(this.#limits.idleTimeoutMs);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    if (this.#closed) return; // streams of a destroyed session close after their socket
    // unref: the socket holds the process open, not its clock.
    this.#timer = setTimeout(() => {
      this.#limits.onClose?.(this.#phase);
      this.#expire();
    }, ms).unref();
  }
}

/** At accept (plaintext) or after the TLS handshake: the headers clock starts. */
export function watchConnection(socket: net.Socket, limits: ConnectionLimits): void {
  (socket as net.Socket & Watched)[WATCH] = new ConnectionWatch(socket, limits);
}

/**
 * An HTTP/2 session on a watched socket: open streams hold the clock; once
 * the client's SETTINGS arrived, an idle session is closed with GOAWAY.
 */
export function watchSession(session: http2.ServerHttp2Session): void {
  // session.socket is a proxy that passes property reads (our symbol too) on to the real socket.
  const watch = (session.socket as unknown as Watched)[WATCH];
  if (watch === undefined) return;
  watch.onExpire(() => session.destroy()); // no SETTINGS yet: not a client worth a GOAWAY
  session.once("remoteSettings", () => {
    watch.onExpire(() => {
      session.close();
      setTimeout(() => session.destroy(), GOAWAY_GRACE_MS).unref();
    });
    watch.idle();
  });
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    watch.begin();
    stream.once("close", () => watch.end());
  });
}

/**
 * Every request: its body must arrive within requestTimeoutMs (a slow drip
 * cannot hold a request open), and an HTTP/1.1 request holds its
 * connection's clock until both its response and its body are done.
 */
export function watchRequest(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: { once(event: "close", listener: () => void): unknown },
  limits: ConnectionLimits,
): void {
  const h1Socket = "stream" in req ? undefined : req.socket;
  const timer = setTimeout(() => {
    // HTTP/2: reset this stream only. HTTP/1.1: a body that has all arrived (just not read yet) is left alone.
    if (h1Socket === undefined) req.destroy();
    else if ((req as http.IncomingMessage).complete) return;
    else h1Socket.destroy();
    limits.onClose?.("request_timeout");
  }, limits.requestTimeoutMs).unref();
  const received = () => clearTimeout(timer);
  req.once("end", received);
  req.once("close", received);
  if (h1Socket === undefined) return; // HTTP/2: the session counts its streams
  const watch = (h1Socket as net.Socket & Watched)[WATCH];
  if (watch === undefined) return;
  if (watch.request === undefined) lingerBeforeClose(h1Socket, () => watch.request);
  watch.request = req as http.IncomingMessage;
  watch.begin();
  res.once("close", () => {
    if (req.complete) watch.end();
    else req.once("end", () => watch.end());
  });
}
