import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, beforeEach, test } from "node:test";
import OpenAI from "openai";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { openAIError } from "../upstreams/openai-errors.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// Failures as the official SDK sees them: its error classes, its retry logic, OpenAI's error body.
let a: OpenAIFake;
let b: OpenAIFake;
let gw: TestGateway;
const MAX_BYTES = 2048;

before(async () => {
  a = await startOpenAIFake();
  b = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  a:\n    type: openai\n    baseUrl: ${a.url}/v1\n  b:\n    type: openai\n    baseUrl: ${b.url}/v1\n` +
        `  a2:\n    type: openai\n    baseUrl: ${a.url}/v1\n  b2:\n    type: openai\n    baseUrl: ${b.url}/v1\n` +
        "  local: { type: echo }\n",
      `  chat:\n    targets:\n      - { backend: a, model: gpt-4o-mini }\n` +
        `  limited:\n    retry: { maxAttempts: 2 }\n    targets:\n      - { backend: a2, model: m1 }\n      - { backend: b2, model: m2 }\n` +
        `  down:\n    retry: { maxAttempts: 2 }\n    targets:\n      - { backend: a, model: m1 }\n      - { backend: b, model: m2 }\n` +
        `  vectors:\n    operations: [embed]\n    targets:\n      - { backend: a, model: text-embedding-3-small }\n` +
        `  metered:\n    targets:\n      - { backend: local, model: echo-1 }\n`,
      `  limits: { maxRequestBytes: ${MAX_BYTES} }\n`,
      "auth: { enabled: false }\nlimits:\n  rules:\n    - { scope: workload, match: metered, requestsPerMinute: 1 }\n",
    ),
  );
});
after(async () => {
  await gw.stop();
  await a.close();
  await b.close();
});
beforeEach(() => {
  a.requests.length = 0;
  b.requests.length = 0;
});

const sdk = (maxRetries: number) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any", maxRetries });
const user = (content: string) => [{ role: "user" as const, content }];

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { res, json: (await res.json()) as { error: Record<string, unknown> } };
}

test("unknown model → NotFoundError with OpenAI's model_not_found code, the same name as the reason", async () => {
  for (const model of ["gpt-nonexistent", "switchyard/nowhere", "switchyard/chat/not-a-target"]) {
    await assert.rejects(
      sdk(0).chat.completions.create({ model, messages: user("hi") }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.NotFoundError, model);
        assert.equal(error.status, 404);
        assert.equal(error.code, "model_not_found");
        assert.equal(error.headers?.get("x-switchyard-reason"), "model_not_found", model);
        assert.equal(error.param, "model");
        assert.equal(error.type, "invalid_request_error");
        assert.ok(error.requestID, "x-request-id is on error responses too");
        return true;
      },
    );
  }
  assert.equal(a.requests.length, 0);
});

test("every target rate limited → RateLimitError; the SDK's one retry honours retry-after-ms", async () => {
  const limited = openAIError("rate_limit_exceeded", {
    headers: { "retry-after-ms": "30", "retry-after": "1" },
  });
  a.setDefault(limited);
  b.setDefault(limited);
  try {
    await assert.rejects(
      sdk(1).chat.completions.create({ model: "switchyard/limited", messages: user("hi") }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.RateLimitError);
        assert.equal(error.code, "upstream_rate_limited");
        assert.equal(error.headers.get("retry-after-ms"), "30");
        assert.equal(error.headers.get("retry-after"), "1");
        return true;
      },
    );
  } finally {
    a.setDefault({});
    b.setDefault({});
  }
  // Two SDK requests (the first and its retry), each trying both targets once.
  assert.equal(a.requests.length, 2);
  assert.equal(b.requests.length, 2);
});

test("an outage after fallbacks → APIError with status 503", async () => {
  a.enqueue(openAIError("server_error"));
  b.enqueue(openAIError("overloaded"));
  await assert.rejects(
    sdk(0).chat.completions.create({ model: "switchyard/down", messages: user("hi") }),
    (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 503);
      assert.equal(error.code, "upstream_unavailable");
      assert.equal(error.type, "server_error");
      assert.equal(error.headers.get("x-switchyard-attempts"), "2");
      return true;
    },
  );
});

test("a stream failing before any output is a plain HTTP error, not an event", async () => {
  a.enqueue(openAIError("server_error"));
  b.enqueue(openAIError("server_error"));
  const { res, json } = await post(
    "/v1/chat/completions",
    JSON.stringify({ model: "switchyard/down", messages: user("hi"), stream: true }),
  );
  assert.equal(res.status, 503);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(json.error.code, "upstream_unavailable");
});

test("a body over maxRequestBytes → 413 from the SDK, and at once for a chunked upload", async () => {
  await assert.rejects(
    sdk(0).chat.completions.create({ model: "switchyard/chat", messages: user("x".repeat(MAX_BYTES)) }),
    (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 413);
      assert.equal(error.code, "message_too_large");
      return true;
    },
  );
  // Chunked (no content-length): the answer comes after the limit is passed, before the body ends.
  const { port } = new URL(gw.url);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json" },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      },
    );
    req.on("error", reject);
    req.write(`{"model":"switchyard/chat","messages":[{"role":"user","content":"${"y".repeat(MAX_BYTES)}`);
    // never ends the body: the gateway must not wait for it
  });
  assert.equal(status, 413);
  assert.equal(a.requests.length, 0);
});

test("malformed JSON → 400 saying where, without echoing the body", async () => {
  const { res, json } = await post(
    "/v1/chat/completions",
    '{"model": "switchyard/chat", "messages": [SECRET-CANARY}',
  );
  assert.equal(res.status, 400);
  assert.equal(json.error.type, "invalid_request_error");
  assert.equal(json.error.code, "invalid_argument");
  assert.equal(json.error.message, 'request body is not valid JSON: unexpected character "S"');
  assert.ok(res.headers.get("x-request-id"));
  const comma = await post("/v1/chat/completions", '{"model": "switchyard/chat",\n}');
  assert.equal(
    comma.json.error.message,
    "request body is not valid JSON: expected double-quoted property name at line 2, column 1",
  );
  const truncated = await post("/v1/chat/completions", '{"model": "switchyard/chat", "messages": [');
  assert.equal(truncated.json.error.message, "request body is not valid JSON: unexpected end of input");
  const notObject = await post("/v1/embeddings", "[1,2]");
  assert.equal(notObject.json.error.message, "request body must be a JSON object");
  assert.ok(!gw.logText().includes("SECRET-CANARY"));
});

test("schema errors name the field path in message and param", async () => {
  const cases: [unknown, string, string][] = [
    [
      {
        model: "switchyard/chat",
        messages: [
          { role: "user", content: "a" },
          { role: "assistant", content: "b" },
          { role: "user", content: 5 },
        ],
      },
      "messages[2].content",
      "messages[2].content: expected string or array of content parts",
    ],
    [{ messages: user("a") }, "model", "model: is required"],
    [
      { model: "switchyard/chat", messages: user("a"), temperature: 3 },
      "temperature",
      "temperature: must be between 0 and 2",
    ],
    [
      { model: "switchyard/chat", messages: user("a"), n: 2 },
      "n",
      "n: only n = 1 is supported (one choice per request)",
    ],
    [
      { model: "switchyard/chat", messages: user("a"), max_tokens: 1.5 },
      "max_tokens",
      "max_tokens: expected an integer, got a fraction",
    ],
    [
      { model: "switchyard/chat", messages: user("a"), top_k: 3 },
      "top_k",
      "top_k: Unrecognized request argument supplied: top_k",
    ],
    [
      { model: "switchyard/chat", messages: user("a"), functions: [] },
      "functions",
      "functions: is deprecated and not supported: use tools",
    ],
    [
      {
        model: "switchyard/chat",
        messages: [{ role: "user", content: [{ type: "video_url", video_url: { url: "https://x" } }] }],
      },
      "messages[0].content[0].type",
      'messages[0].content[0].type: unknown content part type "video_url": use text, image_url, input_audio or file',
    ],
    [
      {
        model: "switchyard/chat",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "what is this?" },
              { type: "image_url", image_url: { url: "data:image/png;base64,iVBOR%%w0" } },
            ],
          },
        ],
      },
      "messages[0].content[1].image_url.url",
      "messages[0].content[1].image_url.url: is not valid base64 (RFC 4648, padded, no line breaks)",
    ],
    [
      {
        model: "switchyard/chat",
        messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-abc" } }] }],
      },
      "messages[0].content[0].file.file_id",
      "messages[0].content[0].file.file_id: file_id is not supported; send file_data (a base64 data: URL)",
    ],
    [
      { model: "switchyard/chat", messages: user("a"), n: 3, stream: true },
      "n",
      "n: only n = 1 is supported (one choice per request)",
    ],
    [
      { model: "switchyard/chat", messages: [{ role: "tool", content: "r" }] },
      "messages[0].tool_call_id",
      "messages[0].tool_call_id: a tool message must name the call it answers",
    ],
    [
      {
        model: "switchyard/chat",
        messages: user("a"),
        tool_choice: { type: "function", function: { name: "nope" } },
      },
      "tool_choice.function.name",
      'tool_choice.function.name: "nope" is not one of the request\'s tools',
    ],
    [
      { model: "switchyard/chat", messages: [] },
      "messages",
      "messages: send at least one message, e.g. a user turn",
    ],
    [
      { model: "switchyard/vectors", input: [[1, 2, 3]] },
      "input",
      "input: token arrays are not supported: send text",
    ],
    [{ model: "switchyard/vectors", input: ["a", ""] }, "input[1]", "input[1]: must not be empty"],
    [
      { model: "switchyard/vectors", input: "a", encoding_format: "hex" },
      "encoding_format",
      'encoding_format: expected "float" or "base64"',
    ],
  ];
  for (const [body, param, message] of cases) {
    const path = "input" in (body as object) ? "/v1/embeddings" : "/v1/chat/completions";
    const { res, json } = await post(path, JSON.stringify(body));
    assert.equal(res.status, 400, message);
    assert.equal(json.error.param, param);
    assert.equal(json.error.message, message);
  }
  assert.equal(a.requests.length, 0);
});

test("content-type must be JSON (415); unknown path 404; wrong method 405", async () => {
  const form = await post("/v1/chat/completions", "model=x", {
    "content-type": "application/x-www-form-urlencoded",
  });
  assert.equal(form.res.status, 415);
  assert.match(String(form.json.error.message), /send application\/json/);

  const missing = await fetch(`${gw.url}/v1/completions`, { method: "POST", body: "{}" });
  assert.equal(missing.status, 404);
  assert.deepEqual(((await missing.json()) as { error: unknown }).error, {
    message: "Invalid URL (POST /v1/completions)",
    type: "invalid_request_error",
    param: null,
    code: "unknown_url",
  });
  assert.ok(missing.headers.get("x-request-id"));

  const wrong = await fetch(`${gw.url}/v1/chat/completions`);
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "POST");
  assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, "method_not_allowed");
});

test("a chat model on the embeddings endpoint: operation_not_served (400)", async () => {
  await assert.rejects(
    sdk(0).embeddings.create({ model: "switchyard/chat", input: "x" }),
    (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.equal(error.code, "operation_not_served");
      return true;
    },
  );
});

test("the gateway's own rate limit: x-ratelimit-* headers, then RateLimitError with the wait", async () => {
  const client = sdk(0);
  const { response } = await client.chat.completions
    .create({ model: "switchyard/metered", messages: user("first") })
    .withResponse();
  assert.equal(response.headers.get("x-ratelimit-limit-requests"), "1");
  assert.equal(response.headers.get("x-ratelimit-remaining-requests"), "0");
  await assert.rejects(
    client.chat.completions.create({ model: "switchyard/metered", messages: user("second") }),
    (error: unknown) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, "rate_limited");
      const ms = Number(error.headers.get("retry-after-ms"));
      assert.ok(ms > 0 && ms <= 60_000, String(ms));
      assert.equal(error.headers.get("retry-after"), String(Math.ceil(ms / 1000)));
      return true;
    },
  );
});
