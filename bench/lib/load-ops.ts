import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Pool } from "undici";
import { GenerateStreamResponseSchema } from "../../gen/switchyard/v1/inference_service_pb.ts";
import type { GrpcTarget, HttpTarget, Target } from "./jobs.ts";

/** An error with a short kind for counting (http_503, timeout, content, grpc_14, …). */
export class LoadError extends Error {
  readonly kind: string;
  constructor(kind: string, message: string) {
    super(message);
    this.kind = kind;
  }
}

export function kindOf(error: unknown): { kind: string; message: string } {
  if (error instanceof LoadError) return { kind: error.kind, message: error.message };
  const e = error as { name?: string; code?: string; message?: string };
  if (e?.name === "TimeoutError" || e?.name === "AbortError")
    return { kind: "timeout", message: String(e.message) };
  return { kind: e?.code ?? e?.name ?? "error", message: String(e?.message ?? error) };
}

/** What one stream delivered: content pieces with their arrival times. */
export type StreamObservation = { startedAt: number; arrivals: number[]; text: string; complete: boolean };

export type Ops = {
  unary(timeoutMs: number): Promise<void>;
  stream(timeoutMs: number): Promise<StreamObservation>;
  close(): Promise<void>;
};

export function opsFor(target: Target, connections: number): Ops {
  return target.kind === "http" ? httpOps(target, connections) : grpcOps(target, connections);
}

function httpOps(target: HttpTarget, connections: number): Ops {
  const pool = new Pool(target.origin, {
    connections: Math.max(1, connections),
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const body = target.binary ? Buffer.from(target.body, "base64") : Buffer.from(target.body, "utf8");
  const options = {
    origin: target.origin,
    method: "POST" as const,
    path: target.path,
    headers: target.headers,
    body,
  };

  /**
   * One request through undici's handler API (no stream objects: a light client keeps the generator's own cost
   * out of the figures). `onChunk` sees every body chunk as it arrives; the promise gives status and body.
   */
  const send = (timeoutMs: number, onChunk?: (chunk: Buffer, at: number) => void) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      let status = 0;
      const parts: Buffer[] = [];
      let control: { abort(reason: Error): void } | undefined;
      const timer = setTimeout(() => {
        const error = new LoadError("timeout", `no complete answer within ${timeoutMs} ms`);
        if (control) control.abort(error);
        else reject(error);
      }, timeoutMs);
      pool.dispatch(options, {
        onRequestStart(controller) {
          control = controller;
        },
        onResponseStart(_controller, statusCode) {
          status = statusCode;
        },
        onResponseData(_controller, chunk) {
          if (onChunk && status === 200) onChunk(chunk, performance.now());
          else parts.push(chunk);
        },
        onResponseEnd() {
          clearTimeout(timer);
          resolve({ status, text: Buffer.concat(parts).toString("utf8") });
        },
        onResponseError(_controller, error) {
          clearTimeout(timer);
          reject(error);
        },
      });
    });

  return {
    async unary(timeoutMs) {
      const { status, text } = await send(timeoutMs);
      if (status !== 200) throw new LoadError(`http_${status}`, text.slice(0, 300));
      if (!text.includes(target.expect))
        throw new LoadError("content", `unexpected answer: ${text.slice(0, 300)}`);
    },
    async stream(timeoutMs) {
      const parse = target.stream === "connect" ? connectFrames() : sseFrames();
      const obs: StreamObservation = {
        startedAt: performance.now(),
        arrivals: [],
        text: "",
        complete: false,
      };
      let torn: unknown;
      const { status, text } = await send(timeoutMs, (chunk, at) => {
        if (torn !== undefined) return;
        try {
          for (const piece of parse(chunk)) {
            if (piece === END) obs.complete = true;
            else {
              obs.arrivals.push(at);
              obs.text += piece;
            }
          }
        } catch (error) {
          torn = error;
        }
      });
      if (status !== 200) throw new LoadError(`http_${status}`, text.slice(0, 300));
      if (torn !== undefined) throw torn;
      return obs;
    },
    close: () => pool.close(),
  };
}

const END = Symbol("end");
type Piece = string | typeof END;

/** SSE (OpenAI chat.completion.chunk): yields content deltas, END at [DONE]; throws on a torn or error frame. */
function sseFrames(): (chunk: Buffer) => Piece[] {
  let buffer = "";
  return (chunk) => {
    buffer += chunk.toString("utf8");
    const out: Piece[] = [];
    for (let at = buffer.indexOf("\n\n"); at !== -1; at = buffer.indexOf("\n\n")) {
      const event = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") {
          out.push(END);
          continue;
        }
        let parsed: { choices?: { delta?: { content?: string | null } }[]; error?: unknown };
        try {
          parsed = JSON.parse(data) as typeof parsed;
        } catch {
          throw new LoadError("frame", `torn SSE frame: ${data.slice(0, 200)}`);
        }
        if (parsed.error) throw new LoadError("stream_error", JSON.stringify(parsed.error).slice(0, 300));
        const content = parsed.choices?.[0]?.delta?.content;
        if (content) out.push(content);
      }
    }
    return out;
  };
}

/** Connect streaming (JSON envelopes): yields textDelta texts, END at the end-stream envelope. */
function connectFrames(): (chunk: Buffer) => Piece[] {
  let buffer: Buffer = Buffer.alloc(0);
  let content = false;
  return (chunk) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    const out: Piece[] = [];
    while (buffer.length >= 5) {
      const length = buffer.readUInt32BE(1);
      if (buffer.length < 5 + length) break;
      const flags = buffer[0] ?? 0;
      const json = buffer.subarray(5, 5 + length).toString("utf8");
      buffer = buffer.subarray(5 + length);
      let message: { textDelta?: { text?: string }; error?: unknown };
      try {
        message = JSON.parse(json) as typeof message;
      } catch {
        throw new LoadError("frame", `torn Connect envelope: ${json.slice(0, 200)}`);
      }
      if (flags & 0x02) {
        if (message.error) {
          const code = (message.error as { code?: string }).code;
          // Refused (shed) only before the first chunk; after it, a failed stream.
          const refused = code === "resource_exhausted" && !content;
          throw new LoadError(refused ? code : "stream_error", JSON.stringify(message.error).slice(0, 300));
        }
        out.push(END);
      } else if (message.textDelta?.text) {
        content = true;
        out.push(message.textDelta.text);
      }
    }
    return out;
  };
}

function grpcOps(target: GrpcTarget, connections: number): Ops {
  const channels = Array.from(
    { length: Math.max(1, Math.ceil(connections / 100)) },
    () =>
      new grpc.Client(target.address, grpc.credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
        "grpc.max_receive_message_length": 16 * 1024 * 1024,
      }),
  );
  let next = 0;
  const client = () => channels[next++ % channels.length] as grpc.Client;
  const message = Buffer.from(target.message, "base64");
  const expect = Buffer.from(target.expect, "utf8");
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(target.metadata)) metadata.set(k, v);
  const identity = (b: Buffer) => b;
  const statusError = (s: grpc.StatusObject | grpc.ServiceError) =>
    new LoadError(`grpc_${s.code}`, `${grpc.status[s.code] ?? s.code}: ${s.details}`);

  const unary = (timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      if (target.shape === "bidi-once") {
        const parts: Buffer[] = [];
        const call = client().makeBidiStreamRequest(target.path, identity, identity, metadata, { deadline });
        call.on("data", (b: Buffer) => parts.push(b));
        call.on("error", (e: grpc.ServiceError) => reject(statusError(e)));
        call.on("status", (s: grpc.StatusObject) => {
          if (s.code !== grpc.status.OK) return;
          if (Buffer.concat(parts).includes(expect)) resolve();
          else reject(new LoadError("content", "answer without the expected text"));
        });
        call.write(message);
        call.end();
        return;
      }
      client().makeUnaryRequest(
        target.path,
        identity,
        identity,
        message,
        metadata,
        { deadline },
        (err, value) => {
          if (err) reject(statusError(err));
          else if (!value?.includes(expect))
            reject(new LoadError("content", "answer without the expected text"));
          else resolve();
        },
      );
    });

  return {
    unary,
    stream(timeoutMs) {
      return new Promise((resolve, reject) => {
        const obs: StreamObservation = {
          startedAt: performance.now(),
          arrivals: [],
          text: "",
          complete: false,
        };
        const call = client().makeServerStreamRequest(target.path, identity, identity, message, metadata, {
          deadline: Date.now() + timeoutMs,
        });
        call.on("data", (b: Buffer) => {
          const now = performance.now();
          let event: ReturnType<typeof fromBinary<typeof GenerateStreamResponseSchema>>;
          try {
            event = fromBinary(GenerateStreamResponseSchema, b);
          } catch {
            reject(new LoadError("frame", "undecodable GenerateStreamResponse"));
            call.cancel();
            return;
          }
          if (event.event.case === "textDelta") {
            obs.arrivals.push(now);
            obs.text += event.event.value.text;
          }
        });
        call.on("error", (e: grpc.ServiceError) => reject(statusError(e)));
        call.on("status", (s: grpc.StatusObject) => {
          if (s.code !== grpc.status.OK) return;
          obs.complete = true;
          resolve(obs);
        });
      });
    },
    async close() {
      for (const c of channels) c.close();
    },
  };
}
