import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";

/** A raw client connection that records what it receives and when the server closed it. */
export type RawConnection = {
  socket: net.Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** Resolves once the connection is closed (by either side). */
  closed: Promise<void>;
};

function record(socket: net.Socket): RawConnection {
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
  });
  socket.on("error", () => {}); // a reset from the server is one of the outcomes under test
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, received: () => text, closed };
}

/** A plain TCP connection, once it is established. */
export async function rawConnect(port: number): Promise<RawConnection> {
  const socket = net.connect(port, "127.0.0.1");
  const conn = record(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return conn;
}

/** A TLS connection (after the handshake), offering the given ALPN protocols. */
export async function tlsConnect(port: number, ca: Buffer, alpn: string[]): Promise<RawConnection> {
  const socket = tls.connect({ port, host: "127.0.0.1", ca, ALPNProtocols: alpn });
  const conn = record(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  return conn;
}

/** Resolves once `conn` has received a whole HTTP/1.1 response (head and content-length body). */
export async function responseOn(conn: RawConnection): Promise<string> {
  const complete = () => {
    const text = conn.received();
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) return undefined;
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
    return text.length >= end + 4 + length ? text : undefined;
  };
  while (complete() === undefined) {
    await new Promise<void>((resolve, reject) => {
      conn.socket.once("data", () => resolve());
      conn.socket.once("close", () => (complete() === undefined ? reject(new Error("closed")) : resolve()));
    });
  }
  return complete()!;
}

/** An HTTP/2 client session, once the server's SETTINGS arrived; `goaway` tells whether the server sent one. */
export async function h2Connect(
  authority: string,
  options: http2.SecureClientSessionOptions = {},
): Promise<{ session: http2.ClientHttp2Session; closed: Promise<{ goaway: boolean }> }> {
  const session = http2.connect(authority, options);
  let goaway = false;
  session.on("goaway", () => {
    goaway = true;
  });
  session.on("error", () => {});
  const closed = new Promise<{ goaway: boolean }>((resolve) =>
    session.once("close", () => resolve({ goaway })),
  );
  await new Promise<void>((resolve, reject) => {
    session.once("remoteSettings", () => resolve());
    session.once("error", reject);
  });
  return { session, closed };
}

/** One GET on an HTTP/2 session: its status, once the response has ended. */
export function h2Get(session: http2.ClientHttp2Session, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let status = 0;
    stream.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    stream.on("error", reject);
    stream.resume();
    stream.on("end", () => resolve(status));
  });
}
