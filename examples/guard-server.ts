// A reference external guardrail (switchyard.guard.v1.GuardService) over gRPC (h2c):
// denies text containing any of the configured words (reason "blocked_word"), masks e-mail addresses
// (reason "pii.email"), allows the rest. From the repository root:
//   node examples/guard-server.ts --port 50070 --deny secret-project,internal-only
// (`npx node …` runs the Node pinned in devDependencies; a plain `node` needs 22.18+.)
// Then point the gateway's external guardrail at http://127.0.0.1:50070 (its `url`, with a timeout).
// Each chunk is judged alone, like any stateless guard: a word or address cut across two output
// chunks is not seen. The reason is a rule id; the matched text is never sent back.
import { createServer, type Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  type CheckRequest,
  type CheckResponse,
  CheckResponseSchema,
  GuardService,
  type Span,
  Verdict,
} from "../gen/switchyard/guard/v1/guard_service_pb.ts";

export type GuardServerOptions = {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Words (case-insensitive) whose presence denies the text. */
  denyWords?: string[];
};

export type GuardServer = { url: string; port: number; close(): Promise<void> };

// Simple on purpose: local@domain.tld, ASCII only.
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

/** The verdict for one request: deny on a word, else mask e-mail addresses, else allow. */
export function judge(request: CheckRequest, denyWords: readonly string[]): CheckResponse {
  const words = denyWords.map((word) => word.toLowerCase()).filter((word) => word !== "");
  for (const segment of request.segments) {
    const text = segment.text.toLowerCase();
    if (words.some((word) => text.includes(word))) {
      return create(CheckResponseSchema, { verdict: Verdict.DENY, reason: "blocked_word" });
    }
  }
  const spans: Omit<Span, "$typeName">[] = [];
  request.segments.forEach((segment, index) => {
    // JavaScript string indices are UTF-16 code units, as the proto asks.
    for (const match of segment.text.matchAll(EMAIL)) {
      spans.push({ segment: index, start: match.index, end: match.index + match[0].length });
    }
  });
  if (spans.length > 0)
    return create(CheckResponseSchema, { verdict: Verdict.MASK, reason: "pii.email", spans });
  return create(CheckResponseSchema, { verdict: Verdict.ALLOW });
}

export async function startGuardServer(options: GuardServerOptions = {}): Promise<GuardServer> {
  const denyWords = options.denyWords ?? [];
  const routes = (router: ConnectRouter) => {
    router.service(GuardService, { check: (request) => judge(request, denyWords) });
  };
  // Our limits, not the defaults: a prompt is at most a few MiB; no call needs more than 30 s.
  const handler = connectNodeAdapter({ routes, readMaxBytes: 16 * 1024 * 1024, maxTimeoutMs: 30_000 });
  const server = createServer(handler);
  const sessions = new Set<Http2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Clients keep HTTP/2 sessions open; close() alone would wait for them.
        for (const session of sessions) session.destroy();
      }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "50070" },
      host: { type: "string", default: "127.0.0.1" },
      deny: { type: "string", default: "" },
    },
  });
  const denyWords = values.deny.split(",").map((word) => word.trim());
  const server = await startGuardServer({ port: Number(values.port), host: values.host, denyWords });
  console.log(`guard server listening on ${server.url}`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
