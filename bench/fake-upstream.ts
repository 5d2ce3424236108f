// A minimal, fast OpenAI-compatible upstream for the bench (node:http, no framework, fixed small bodies).
// POST …/chat/completions answers unary or SSE (`stream: true`, with a usage chunk when
// stream_options.include_usage is set, then [DONE]) in OpenAI's wire format. The model name picks the
// delay before the answer: a name containing "slow" waits 20±5 ms (uniform), anything else answers at once.
// Streams send `--stream-chunks` content chunks "t0 ", "t1 ", … `--stream-gap-ms` apart, so a client can
// check that every chunk arrived complete and in order. GET /stats reports what was served.
import http from "node:http";
import { parseArgs } from "node:util";
import { UNARY_TEXT } from "./lib/wire.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "slow-ms": { type: "string", default: "20" },
    "jitter-ms": { type: "string", default: "5" },
    "stream-chunks": { type: "string", default: "10" },
    "stream-gap-ms": { type: "string", default: "50" },
  },
});
const SLOW_MS = Number(values["slow-ms"]);
const JITTER_MS = Number(values["jitter-ms"]);
const CHUNKS = Number(values["stream-chunks"]);
const GAP_MS = Number(values["stream-gap-ms"]);

const stats = { unary: 0, streams: 0, errors: 0 };
const created = Math.floor(Date.now() / 1000);

const delayOf = (model: string): number =>
  model.includes("slow") ? SLOW_MS - JITTER_MS + Math.random() * 2 * JITTER_MS : 0;

function unaryBody(model: string): string {
  return (
    `{"id":"chatcmpl-bench","object":"chat.completion","created":${created},"model":${JSON.stringify(model)},` +
    `"choices":[{"index":0,"message":{"role":"assistant","content":"${UNARY_TEXT}","refusal":null},` +
    `"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11},` +
    `"system_fingerprint":"fp_bench"}`
  );
}

function chunk(model: string, delta: string, finish: string | null, usage = ""): string {
  const m = JSON.stringify(model);
  const choices = usage ? "[]" : `[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}]`;
  return `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":${created},"model":${m},"system_fingerprint":"fp_bench","choices":${choices}${usage}}\n\n`;
}

function stream(res: http.ServerResponse, model: string, includeUsage: boolean): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  let i = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (i < CHUNKS) {
      const role = i === 0 ? `"role":"assistant",` : "";
      res.write(chunk(model, `{${role}"content":"t${i} "}`, "null"));
      i++;
      if (GAP_MS > 0) setTimeout(next, GAP_MS);
      else next();
      return;
    }
    res.write(chunk(model, "{}", '"stop"'));
    if (includeUsage)
      res.write(
        chunk(
          model,
          "",
          null,
          `,"usage":{"prompt_tokens":5,"completion_tokens":${CHUNKS},"total_tokens":${5 + CHUNKS}}`,
        ),
      );
    res.end("data: [DONE]\n\n");
  };
  next();
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.method === "GET") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(req.url === "/stats" ? JSON.stringify(stats) : '{"status":"ok"}');
    return;
  }
  const parts: Buffer[] = [];
  req.on("data", (part: Buffer) => parts.push(part));
  req.on("end", () => {
    let body: { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown } };
    try {
      body = JSON.parse(Buffer.concat(parts).toString("utf8")) as typeof body;
    } catch {
      stats.errors++;
      res.writeHead(400, { "content-type": "application/json" });
      res.end('{"error":{"message":"body is not JSON","type":"invalid_request_error","code":null}}');
      return;
    }
    if (!req.url?.endsWith("/chat/completions")) {
      stats.errors++;
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"error":{"message":"unknown path","type":"invalid_request_error","code":null}}');
      return;
    }
    const model = typeof body.model === "string" ? body.model : "bench";
    const answer = (): void => {
      if (body.stream === true) {
        stats.streams++;
        stream(res, model, body.stream_options?.include_usage === true);
      } else {
        stats.unary++;
        const text = unaryBody(model);
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
      }
    };
    const delay = delayOf(model);
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
});
server.listen(Number(values.port), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
});
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
