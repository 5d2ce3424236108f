import type {
  DescMessage,
  DescMethod,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";

/** What a test needs from one call, whatever the client library. */
export type UnaryResult<T> = { message: T; headers: Headers; trailers: Headers };
export type StreamResult<T> = { messages: T[]; headers: Headers; trailers: Headers };
export type CallOptions = { timeoutMs?: number; signal?: AbortSignal; headers?: Record<string, string> };

export interface TestClient {
  readonly name: string;
  unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    input: MessageInitShape<I>,
    options?: CallOptions,
  ): Promise<UnaryResult<MessageShape<O>>>;
  serverStream<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    input: MessageInitShape<I>,
    options?: CallOptions & { onMessage?: (m: MessageShape<O>) => void },
  ): Promise<StreamResult<MessageShape<O>>>;
  /** True when the stack speaks HTTP/2 (bidi streams such as reflection need it). */
  readonly http2: boolean;
  /** Bidi stream: all inputs, then all outputs (reflection). */
  bidi<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    inputs: MessageInitShape<I>[],
  ): Promise<MessageShape<O>[]>;
  close(): void;
}

/** The four client stacks every e2e case runs over. */
export function allClients(baseUrl: string): TestClient[] {
  return [
    connectClient(
      "connect-json-http1",
      createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
    ),
    connectClient("grpc-connect-node", createGrpcTransport({ baseUrl }), true),
    grpcJsClient(baseUrl),
    connectClient("grpc-web-http1", createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })),
  ];
}

export function connectClient(name: string, transport: Transport, http2 = false): TestClient {
  const call = (method: DescMethod) => {
    const service = method.parent as DescService;
    // biome-ignore lint/suspicious/noExplicitAny: generic dispatch over a service's methods
    return (createClient(service, transport) as any)[method.localName] as (...args: unknown[]) => unknown;
  };
  const client: TestClient = {
    name,
    http2,
    async unary(method, input, options = {}) {
      let headers = new Headers();
      let trailers = new Headers();
      const message = (await call(method)(input, {
        ...options,
        onHeader: (h: Headers) => {
          headers = h;
        },
        onTrailer: (t: Headers) => {
          trailers = t;
        },
      })) as never;
      return { message, headers, trailers };
    },
    async serverStream(method, input, options = {}) {
      let headers = new Headers();
      let trailers = new Headers();
      const messages: never[] = [];
      const stream = call(method)(input, {
        ...options,
        onHeader: (h: Headers) => {
          headers = h;
        },
        onTrailer: (t: Headers) => {
          trailers = t;
        },
      }) as AsyncIterable<never>;
      for await (const m of stream) {
        messages.push(m);
        options.onMessage?.(m);
      }
      return { messages, headers, trailers };
    },
    async bidi(method, inputs) {
      const out: never[] = [];
      async function* requests() {
        yield* inputs;
      }
      for await (const m of call(method)(requests()) as AsyncIterable<never>) out.push(m);
      return out;
    },
    close() {},
  };
  return client;
}

/** @grpc/grpc-js, an independent gRPC implementation, with protobuf-es doing the (de)serialisation. */
export function grpcJsClient(baseUrl: string): TestClient {
  const url = new URL(baseUrl);
  const client = new grpc.Client(`${url.hostname}:${url.port}`, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
  });
  const path = (m: DescMethod) => `/${(m.parent as DescService).typeName}/${m.name}`;
  const codec = (m: DescMethod & { input: DescMessage; output: DescMessage }) => ({
    serialize: (value: MessageInitShape<DescMessage>) =>
      Buffer.from(toBinary(m.input, create(m.input, value))),
    deserialize: (bytes: Buffer) => fromBinary(m.output, bytes),
  });
  const metadataOf = (options: CallOptions) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(options.headers ?? {})) md.set(k, v);
    return md;
  };
  const callOptions = (options: CallOptions): grpc.CallOptions =>
    options.timeoutMs !== undefined ? { deadline: Date.now() + options.timeoutMs } : {};
  return {
    name: "grpc-js",
    http2: true,
    unary(method, input, options = {}) {
      const { serialize, deserialize } = codec(method);
      return new Promise((resolve, reject) => {
        let headers = new Headers();
        let trailers = new Headers();
        let message: unknown;
        let pending = 2; // the callback (message) and the status (trailers), in either order
        const finish = () => {
          if (--pending === 0) resolve({ message: message as never, headers, trailers });
        };
        const call = client.makeUnaryRequest(
          path(method),
          serialize,
          deserialize,
          input as never,
          metadataOf(options),
          callOptions(options),
          (error, value) => {
            if (error) return reject(toConnectError(error));
            message = value;
            finish();
          },
        );
        call.on("metadata", (md) => {
          headers = toHeaders(md);
        });
        call.on("status", (status) => {
          trailers = toHeaders(status.metadata);
          if (status.code === grpc.status.OK) finish();
        });
        options.signal?.addEventListener("abort", () => call.cancel());
      });
    },
    serverStream(method, input, options = {}) {
      const { serialize, deserialize } = codec(method);
      return new Promise((resolve, reject) => {
        const messages: never[] = [];
        let headers = new Headers();
        const stream = client.makeServerStreamRequest(
          path(method),
          serialize,
          deserialize,
          input as never,
          metadataOf(options),
          callOptions(options),
        );
        options.signal?.addEventListener("abort", () => stream.cancel());
        stream.on("metadata", (md) => {
          headers = toHeaders(md);
        });
        stream.on("data", (m: unknown) => {
          messages.push(m as never);
          options.onMessage?.(m as never);
        });
        stream.on("error", (e: grpc.ServiceError) => reject(toConnectError(e)));
        stream.on("status", (status: grpc.StatusObject) => {
          if (status.code === grpc.status.OK)
            resolve({ messages, headers, trailers: toHeaders(status.metadata) });
        });
      });
    },
    bidi(method, inputs) {
      const { serialize, deserialize } = codec(method);
      return new Promise((resolve, reject) => {
        const out: never[] = [];
        const stream = client.makeBidiStreamRequest(path(method), serialize, deserialize);
        stream.on("data", (m: unknown) => out.push(m as never));
        stream.on("error", (e: grpc.ServiceError) => reject(toConnectError(e)));
        stream.on("status", (s: grpc.StatusObject) => {
          if (s.code === grpc.status.OK) resolve(out);
        });
        for (const input of inputs) stream.write(input);
        stream.end();
      });
    },
    close() {
      client.close();
    },
  };
}

function toHeaders(md: grpc.Metadata): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(md.getMap())) h.set(k, String(v));
  return h;
}

/**
 * gRPC status codes and Connect codes share numbers, so tests compare one Code everywhere.
 * connect-node percent-encodes grpc-message with encodeURIComponent (as the gRPC spec allows) but
 * grpc-js decodes it with decodeURI, which leaves ":" "," ";" etc. escaped: finish the decoding here.
 */
function toConnectError(e: grpc.ServiceError): ConnectError {
  let details = e.details;
  try {
    details = decodeURIComponent(details);
  } catch {
    // already plain text containing a lone "%"
  }
  return new ConnectError(details, e.code as number as Code, toHeaders(e.metadata));
}

export { Code };
