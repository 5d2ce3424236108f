import http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { codeFromHttpStatus, codeFromString } from "@connectrpc/connect/protocol-connect";
import { Pool } from "undici";

/**
 * Raw RPC calls with hand-made bodies and headers (what no client library will send), answered as
 * the status the caller would see: Connect (unary or streaming), gRPC and gRPC-Web, over HTTP/1.1
 * (a keep-alive pool) or HTTP/2 (one session), so thousands of cases stay cheap.
 */
export type Protocol = "connect" | "connect-stream" | "grpc" | "grpc-web";
export type RawCall = {
  path: string;
  protocol: Protocol;
  json?: boolean;
  body: Uint8Array;
  headers?: Record<string, string>;
  /** HTTP/2 (gRPC always is). */
  http2?: boolean;
};
/** `code` 0 = OK; `message` is the error message (or the raw body when it was not understood). */
export type RawResult = { code: Code | 0; message: string; httpStatus: number };

export function contentType(protocol: Protocol, json = false): string {
  const f = json ? "json" : "proto";
  return protocol === "connect"
    ? `application/${f}`
    : protocol === "connect-stream"
      ? `application/connect+${f}`
      : protocol === "grpc"
        ? `application/grpc+${f}`
        : `application/grpc-web+${f}`;
}

/** The 5-byte prefix (flags, big-endian length) and the message. */
export function envelope(data: Uint8Array, flags = 0, length = data.length): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, length);
  out.set(data, 5);
  return out;
}

export class RawRpc {
  private readonly pool: Pool;
  private session: http2.ClientHttp2Session | undefined;
  private readonly url: string;
  private readonly timeoutMs: number;

  constructor(url: string, timeoutMs = 10_000) {
    this.url = url;
    this.timeoutMs = timeoutMs;
    this.pool = new Pool(url, { connections: 8, pipelining: 1 });
  }

  async call(c: RawCall): Promise<RawResult> {
    const headers: Record<string, string> = {
      "content-type": contentType(c.protocol, c.json),
      ...(c.protocol === "grpc" ? { te: "trailers" } : {}),
      ...c.headers,
    };
    const { status, head, body, trailers } =
      c.http2 || c.protocol === "grpc" ? await this.h2(c, headers) : await this.h1(c, headers);
    return statusOf(c.protocol, status, head, body, trailers);
  }

  close(): Promise<void> {
    this.session?.close();
    return this.pool.close();
  }

  private async h1(c: RawCall, headers: Record<string, string>) {
    const res = await this.pool.request({
      path: c.path,
      method: "POST",
      headers,
      body: c.body,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    const body = new Uint8Array(await res.body.arrayBuffer());
    return { status: res.statusCode, head: flat(res.headers), body, trailers: flat(res.trailers) };
  }

  private h2(c: RawCall, headers: Record<string, string>) {
    if (this.session === undefined || this.session.closed || this.session.destroyed) {
      this.session = http2.connect(this.url);
      this.session.on("error", () => {}); // a broken session fails its streams; the next call reconnects
    }
    const stream = this.session.request({ ":method": "POST", ":path": c.path, ...headers });
    stream.setTimeout(this.timeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    return new Promise<{
      status: number;
      head: Record<string, string>;
      body: Uint8Array;
      trailers: Record<string, string>;
    }>((resolve, reject) => {
      let status = 0;
      let head: Record<string, string> = {};
      let trailers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        head = flat(h);
      });
      stream.on("trailers", (t) => {
        trailers = flat(t);
      });
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("error", reject);
      stream.on("close", () => {
        if (status === 0) reject(new Error(`stream closed without a response (rst ${stream.rstCode})`));
        else resolve({ status, head, body: Buffer.concat(chunks), trailers });
      });
      stream.end(c.body);
    });
  }
}

function flat(h: Record<string, string | string[] | undefined> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {}))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

function statusOf(
  protocol: Protocol,
  httpStatus: number,
  head: Record<string, string>,
  body: Uint8Array,
  trailers: Record<string, string>,
): RawResult {
  const text = () => Buffer.from(body).toString("utf8");
  if (protocol === "connect") {
    if (httpStatus === 200) return { code: 0, message: "", httpStatus };
    try {
      const e = JSON.parse(text()) as { code?: string; message?: string };
      return {
        code: codeFromString(e.code ?? "") ?? codeFromHttpStatus(httpStatus),
        message: e.message ?? "",
        httpStatus,
      };
    } catch {
      return { code: codeFromHttpStatus(httpStatus), message: text(), httpStatus };
    }
  }
  if (protocol === "connect-stream") {
    if (httpStatus !== 200) return { code: codeFromHttpStatus(httpStatus), message: text(), httpStatus };
    const end = frames(body).find((f) => (f.flags & 0x02) !== 0);
    if (end === undefined) return { code: Code.Unknown, message: "no end-stream message", httpStatus };
    const e = (
      JSON.parse(Buffer.from(end.data).toString("utf8")) as { error?: { code?: string; message?: string } }
    ).error;
    if (e === undefined) return { code: 0, message: "", httpStatus };
    return { code: codeFromString(e.code ?? "") ?? Code.Unknown, message: e.message ?? "", httpStatus };
  }
  // gRPC and gRPC-Web: the status in trailers (gRPC-Web: a trailer frame), or in headers (trailers-only).
  let status = trailers["grpc-status"] ?? head["grpc-status"];
  let message = trailers["grpc-message"] ?? head["grpc-message"];
  if (protocol === "grpc-web" && status === undefined) {
    const t = frames(body).find((f) => (f.flags & 0x80) !== 0);
    if (t !== undefined)
      for (const line of Buffer.from(t.data).toString("utf8").split("\r\n")) {
        const [k, ...v] = line.split(":");
        if (k?.trim().toLowerCase() === "grpc-status") status = v.join(":").trim();
        if (k?.trim().toLowerCase() === "grpc-message") message = v.join(":").trim();
      }
  }
  if (status === undefined)
    return {
      code: httpStatus === 200 ? Code.Unknown : codeFromHttpStatus(httpStatus),
      message: text(),
      httpStatus,
    };
  return { code: Number(status) as Code, message: percentDecoded(message ?? ""), httpStatus };
}

function frames(body: Uint8Array): { flags: number; data: Uint8Array }[] {
  const out: { flags: number; data: Uint8Array }[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let i = 0; i + 5 <= body.length; ) {
    const length = view.getUint32(i + 1);
    out.push({ flags: body[i]!, data: body.subarray(i + 5, i + 5 + length) });
    i += 5 + length;
  }
  return out;
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
