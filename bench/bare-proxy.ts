// The Node limit: a bare HTTP/1.1 pass-through proxy (node:http in, undici Pool.request out, keep-alive both
// sides, bodies streamed, no parsing). Whatever a gateway costs beyond this is the gateway's own work.
import http from "node:http";
import { parseArgs } from "node:util";
import { Pool } from "undici";

const { values } = parseArgs({
  options: { upstream: { type: "string" }, port: { type: "string", default: "0" } },
});
if (!values.upstream) throw new Error("--upstream http://127.0.0.1:PORT is required");
const pool = new Pool(values.upstream, { connections: 1024, headersTimeout: 0, bodyTimeout: 0 });
const HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "host",
  "upgrade",
  "proxy-connection",
  "te",
]);

function forwardable(headers: http.IncomingHttpHeaders | Record<string, string | string[] | undefined>) {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !HOP.has(name)) out[name] = value;
  return out;
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const abort = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  pool
    .request({
      method: req.method as "POST",
      path: req.url ?? "/",
      headers: forwardable(req.headers),
      body: req.method === "GET" || req.method === "HEAD" ? null : req,
      signal: abort.signal,
    })
    .then(({ statusCode, headers, body }) => {
      res.writeHead(statusCode, forwardable(headers));
      body.on("error", () => res.destroy());
      body.pipe(res);
    })
    .catch(() => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { "content-type": "text/plain" }).end("bad gateway");
    });
});
server.listen(Number(values.port), "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ ready: true, port: typeof address === "object" ? address?.port : 0 })}\n`,
  );
});
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => void pool.close().then(() => process.exit(0)));
});
