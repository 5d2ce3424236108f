// server-timing on every facade answer: a header on unary answers (success or error), a declared HTTP
// trailer on SSE streams (their headers leave before the timing is known), over HTTP/1.1 and HTTP/2.
import assert from "node:assert/strict";
import { request } from "node:http";
import { connect } from "node:http2";
import { after, before, test } from "node:test";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const TIMING = /^gateway;dur=\d+\.\d{2}, upstream;dur=\d+\.\d{2}$/;

let upstream: OpenAIFake;
let gw: TestGateway;

before(async () => {
  upstream = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  primary:\n    type: openai\n    baseUrl: ${upstream.url}/v1\n`,
      "  chat:\n    targets:\n      - { backend: primary, model: gpt-4o-mini }\n",
    ),
  );
});
after(async () => {
  await gw.stop();
  await upstream.close();
});

type Answer = {
  status: number;
  headers: Record<string, unknown>;
  trailers: Record<string, unknown>;
  body: string;
};

/** One HTTP/1.1 POST, read to its end with the trailers (fetch and the SDKs do not expose trailers). */
function post1(path: string, body: unknown): Promise<Answer> {
  const url = new URL(path, gw.url);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: text }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** The same over HTTP/2 prior knowledge (h2c), as the port also serves. */
function post2(path: string, body: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = connect(gw.url);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/json" });
    let headers: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    let text = "";
    stream.setEncoding("utf8");
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (chunk: string) => {
      text += chunk;
    });
    stream.on("end", () => {
      session.close();
      resolve({ status: Number(headers[":status"]), headers, trailers, body: text });
    });
    stream.on("error", reject);
    stream.end(JSON.stringify(body));
  });
}

const chat = (stream: boolean, model = "switchyard/chat") => ({
  model,
  messages: [{ role: "user", content: "hi" }],
  stream,
});

for (const [name, post] of [
  ["HTTP/1.1", post1],
  ["HTTP/2", post2],
] as const) {
  test(`${name}: a streamed chat declares server-timing as a trailer and sends it after [DONE]`, async () => {
    upstream.enqueue({ chunks: ["Hel", "lo"] });
    const res = await post("/v1/chat/completions", chat(true));
    assert.equal(res.status, 200);
    assert.match(String(res.headers["content-type"]), /^text\/event-stream/);
    assert.equal(res.headers.trailer, "server-timing");
    assert.ok(res.body.endsWith("data: [DONE]\n\n"), res.body);
    assert.match(String(res.trailers["server-timing"]), TIMING);
  });

  test(`${name}: a stream cut after output began still ends with the server-timing trailer`, async () => {
    upstream.enqueue({ chunks: ["one ", "two ", "three"], cutAfterEvents: 2 });
    const res = await post("/v1/chat/completions", chat(true));
    assert.equal(res.status, 200);
    assert.match(res.body, /"stream_interrupted"/);
    assert.match(String(res.trailers["server-timing"]), TIMING);
  });
}

test("a unary chat carries server-timing as a header", async () => {
  upstream.enqueue({ text: "Paris." });
  const res = await post1("/v1/chat/completions", chat(false));
  assert.equal(res.status, 200);
  assert.match(String(res.headers["server-timing"]), TIMING);
});

test("an error answer carries server-timing as a header too", async () => {
  const res = await post1("/v1/chat/completions", chat(true, "switchyard/no-such-workload"));
  assert.equal(res.status, 404);
  assert.match(String(res.headers["server-timing"]), TIMING);
});
