import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { type ConnectionLimits, watchConnection, watchRequest, watchSession } from "./connection-timeouts.ts";

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export type ListenOptions = {
  host: string;
  port: number;
  tls: { certFile: string; keyFile: string } | undefined;
  maxConcurrentStreams: number;
  /** Header, idle and request timeouts of every connection (ours: see connection-timeouts.ts). */
  timeouts: ConnectionLimits;
  /** Open connections; the ones over it are closed at once (0 = no cap). */
  maxConnections: number;
};

/** Everything that holds connections open, so shutdown can drain and then force them. */
export type Listener = {
  address: { host: string; port: number };
  /** Stop accepting, send GOAWAY / `connection: close`, let in-flight requests finish. */
  stopAccepting(): void;
  /** Destroy every remaining connection. */
  destroyAll(): void;
  /** Resolves when the listening socket is closed. */
  closed: Promise<void>;
};

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * One port for everything. Plaintext: the first bytes decide — the HTTP/2
 * client preface means h2c (gRPC, Connect over HTTP/2), anything else is
 * HTTP/1.1 (Connect, gRPC-Web, REST). TLS: ALPN decides (h2 or http/1.1).
 */
export async function listen(options: ListenOptions, serve: RequestHandler): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const h2Settings = { maxConcurrentStreams: options.maxConcurrentStreams };
  const { timeouts } = options;
  const handler: RequestHandler = (req, res) => {
    watchRequest(req, res, timeouts);
    serve(req, res);
  };
  const onSession = (session: http2.ServerHttp2Session) => {
    track(sessions, session);
    watchSession(session);
  };

  let h1: http.Server | undefined;
  let front: net.Server;
  if (options.tls) {
    front = http2.createSecureServer(
      {
        cert: readFileSync(options.tls.certFile),
        key: readFileSync(options.tls.keyFile),
        allowHTTP1: true,
        ALPNProtocols: ["h2", "http/1.1"],
        settings: h2Settings,
        handshakeTimeout: timeouts.headersTimeoutMs, // Node's default is 120 s
      },
      handler,
    );
    const secure = front as http2.Http2SecureServer & { keepAliveTimeout?: number };
    secure.keepAliveTimeout = timeouts.idleTimeoutMs; // what its HTTP/1.1 side advertises in keep-alive
    // Before http2's own listener, which starts the session (or HTTP/1.1) on this socket at once.
    secure.prependListener("secureConnection", (socket) => watchConnection(socket, timeouts));
    secure.on("session", onSession);
  } else {
    const h2 = http2.createServer({ settings: h2Settings }, handler);
    h2.on("session", onSession);
    h1 = http.createServer({ keepAliveTimeout: timeouts.idleTimeoutMs }, handler);
    const plain = h1;
    front = net.createServer((socket) => {
      socket.setNoDelay(true);
      watchConnection(socket, timeouts); // the headers clock covers sniffing too
      sniff(socket, (isH2) => (isH2 ? h2 : plain).emit("connection", socket));
    });
  }
  // Over the cap, Node closes each new connection as it is accepted.
  if (options.maxConnections > 0) front.maxConnections = options.maxConnections;
  front.on("drop", () => timeouts.onClose?.("connection_cap"));
  front.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(options.port, options.host, () => {
      front.off("error", reject);
      resolve();
    });
  });
  const bound = front.address() as net.AddressInfo;
  const closed = new Promise<void>((resolve) => front.once("close", () => resolve()));

  return {
    address: { host: bound.address, port: bound.port },
    closed,
    stopAccepting() {
      front.close();
      for (const session of sessions) session.close(); // GOAWAY: open streams finish, no new ones
      if (h1) {
        h1.close(); // marks keep-alive sockets to close after their current response
        h1.closeIdleConnections();
      }
    },
    destroyAll() {
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}

function track(sessions: Set<http2.ServerHttp2Session>, session: http2.ServerHttp2Session): void {
  sessions.add(session);
  session.once("close", () => sessions.delete(session));
}

/** Reads just enough of the first bytes to tell h2c from HTTP/1.1, then hands the socket on untouched. */
function sniff(socket: net.Socket, route: (isH2: boolean) => void): void {
  let head = Buffer.alloc(0);
  const onReadable = () => {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
      head = Buffer.concat([head, chunk]);
    }
    const n = Math.min(head.length, H2_PREFACE.length);
    const isH2Prefix = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (isH2Prefix && head.length < H2_PREFACE.length) return; // need more bytes to be sure
    socket.off("readable", onReadable);
    socket.off("end", onEnd);
    if (head.length > 0) socket.unshift(head);
    route(isH2Prefix);
  };
  const onEnd = () => socket.destroy();
  socket.on("readable", onReadable);
  socket.once("end", onEnd);
  socket.once("error", () => socket.destroy());
}
