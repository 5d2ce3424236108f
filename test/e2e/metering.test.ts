import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import { countTokens } from "gpt-tokenizer";
import { AdminService, SpendDimension } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const M = InferenceService.method;
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});

describe("usage ledger: exactly one record per request that reached an upstream", () => {
  let up: OpenAIFake;
  let gw: TestGateway;
  before(async () => {
    up = await startOpenAIFake();
    gw = await startTestGateway(
      `${configYaml(
        `  oa:\n    type: openai\n    baseUrl: ${up.url}/v1\n`,
        "  chat:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n",
      )}prices:\n  gpt-4o-mini: { input: 1, output: 2 }\n`,
    );
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });
  const record = async (requestId: string) => {
    await gw.gateway.ledger.flush();
    return gw.gateway.store.ledger.get(requestId);
  };
  const lastRequestId = (status?: string) =>
    String(
      gw.logs.findLast((l) => l.msg === "request" && (status === undefined || l.status === status))
        ?.requestId,
    );

  test("success: exact usage and cost", async () => {
    up.enqueue({ text: "four words right here", usage: { prompt_tokens: 100, completion_tokens: 4 } });
    const c = allClients(gw.url)[1]!;
    const { message } = await c.unary(M.generate, { workload: "chat", messages: [user("q")] });
    c.close();
    const r = await record(message.requestId);
    assert.deepEqual(
      [r?.status, r?.inputTokens, r?.outputTokens, r?.costMicroUsd, r?.accuracy, r?.protocol, r?.backend],
      ["ok", 100, 4, 108, "exact", "grpc", "oa"],
    );
  });

  test("a stream cut after output: partial usage, estimated with OpenAI's tokenizer, status recorded", async () => {
    up.enqueue({ chunks: ["Hello", " world", " again"], cutAfterEvents: 3 });
    const c = allClients(gw.url)[0]!;
    let delivered = "";
    await assert.rejects(
      c.serverStream(
        M.generateStream,
        { workload: "chat", messages: [user("q")] },
        {
          onMessage: (m) => {
            if (m.event.case === "textDelta") delivered += m.event.value.text;
          },
        },
      ),
    );
    c.close();
    const r = await record(lastRequestId("stream_interrupted"));
    assert.ok(delivered.length > 0);
    assert.equal(r?.accuracy, "estimated");
    assert.equal(
      r?.outputTokens,
      countTokens(delivered),
      "what was delivered, counted with OpenAI's tokenizer",
    );
    assert.ok((r?.costMicroUsd ?? 0) > 0);
  });

  test("a client cancel mid-stream is billed for what was delivered", async () => {
    up.enqueue({ chunks: ["a", " b", " c", " d"], chunkDelayMs: 200 });
    const c = allClients(gw.url)[1]!;
    const abort = new AbortController();
    await assert.rejects(
      c.serverStream(
        M.generateStream,
        { workload: "chat", messages: [user("q")] },
        { signal: abort.signal, onMessage: (m) => m.event.case === "textDelta" && abort.abort() },
      ),
    );
    c.close();
    await up.waitForAbort(up.requests.length - 1);
    // The record is written when the stream settles, which follows the abort.
    let r = await record(lastRequestId("cancelled"));
    for (let i = 0; i < 50 && !r; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      r = await record(lastRequestId("cancelled"));
    }
    assert.equal(r?.status, "cancelled");
    assert.equal(r?.accuracy, "estimated");
    assert.ok((r?.outputTokens ?? 0) >= 1);
  });

  test("a request refused before any upstream leaves no record; a replayed record never counts twice", async () => {
    const c = allClients(gw.url)[1]!;
    await assert.rejects(c.unary(M.generate, { workload: "chat", model: "nope", messages: [user("q")] }));
    c.close();
    await gw.gateway.ledger.flush();
    assert.equal(await gw.gateway.store.ledger.get(lastRequestId("model_not_found")), undefined);
    const any = await record(lastRequestId("ok"));
    assert.ok(any);
    const again = await gw.gateway.store.ledger.record([any]);
    assert.deepEqual(again, { inserted: 0, duplicates: 1 });
  });

  test("GetSpend groups and filters the ledger", async () => {
    const c = allClients(gw.url)[0]!;
    const { message } = await c.unary(AdminService.method.getSpend, {
      groupBy: [SpendDimension.WORKLOAD, SpendDimension.BACKEND],
    });
    c.close();
    const chat = message.rows.find((r) => r.group.workload === "chat" && r.group.backend === "oa");
    assert.ok(chat && chat.requests >= 3n);
    assert.ok(chat.costMicroUsd >= 108n);
  });
});

describe("rate limits", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway(
      `${configYaml("  echo: { type: echo }\n", "  chat:\n    targets:\n      - { backend: echo, model: e }\n  bulk:\n    targets:\n      - { backend: echo, model: e }\n")}` +
        "limits:\n  rules:\n    - { scope: workload, match: chat, requestsPerMinute: 2 }\n" +
        "    - { scope: workload, match: bulk, tokensPerMinute: 300 }\n",
    );
  });
  after(() => gw.stop());

  test("requests per minute: the third request is RESOURCE_EXHAUSTED with a retry delay; remaining is reported", async () => {
    const c = allClients(gw.url)[1]!;
    const first = await c.unary(M.generate, { workload: "chat", messages: [user("one")] });
    assert.equal(first.headers.get("x-ratelimit-limit-requests"), "2");
    assert.equal(first.headers.get("x-ratelimit-remaining-requests"), "1");
    await c.unary(M.generate, { workload: "chat", messages: [user("two")] });
    await assert.rejects(
      c.unary(M.generate, { workload: "chat", messages: [user("three")] }),
      (e: ConnectError) => {
        assert.equal(e.code, Code.ResourceExhausted);
        assert.equal(e.metadata.get("x-switchyard-reason"), "rate_limited");
        assert.ok(Number(e.metadata.get("retry-after-ms")) > 0);
        assert.match(e.message, /workload chat requests-per-minute limit/);
        return true;
      },
    );
    c.close();
  });

  test("tokens per minute: admission reserves the estimate, settlement refunds the unused part", async () => {
    const c = allClients(gw.url)[0]!;
    const a = await c.unary(M.generate, {
      workload: "bulk",
      messages: [user("hi")],
      sampling: { maxOutputTokens: 200 },
    });
    const afterFirst = Number(a.headers.get("x-ratelimit-remaining-tokens"));
    assert.ok(afterFirst < 100, `reserved ~205 of 300 (left ${afterFirst})`);
    // The echo answered with 1 token: settlement refunds ~200, so a second 200-token request fits.
    const b = await c.unary(M.generate, {
      workload: "bulk",
      messages: [user("hi")],
      sampling: { maxOutputTokens: 200 },
    });
    assert.equal(b.message.text, "hi");
    await assert.rejects(
      c.unary(M.generate, { workload: "bulk", messages: [user("x")], sampling: { maxOutputTokens: 5000 } }),
      (e: ConnectError) =>
        e.code === Code.FailedPrecondition &&
        /more than the workload bulk tokens-per-minute limit allows/.test(e.message),
    );
    c.close();
  });
});

describe("budgets", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway(
      `${configYaml(
        "  premium: { type: echo, chunkDelayMs: 5 }\n  cheap: { type: echo }\n",
        "  chat:\n    budgetDowngrade: economy\n    targets:\n      - { backend: premium, model: big }\n" +
          "  strict:\n    targets:\n      - { backend: premium, model: big }\n" +
          "  economy:\n    targets:\n      - { backend: cheap, model: small }\n",
      )}prices:\n  big: { input: 2000, output: 0 }\n  small: { input: 0, output: 0 }\n` +
        "budgets:\n  - { scope: workload, match: chat, period: day, limitUsd: 0.5 }\n" +
        "  - { scope: workload, match: strict, period: month, limitUsd: 1 }\n",
    );
  });
  after(() => gw.stop());

  // At $2000/M input tokens (output free), a prompt of 100 six-letter words (~154 estimated tokens)
  // reserves ~$0.31 of the $1 and really costs $0.20 (100 echo tokens): three fit in flight together.
  const prompt = "wordy ".repeat(100);
  test("concurrent requests never overshoot the budget: reservations cover what is in flight", async () => {
    const c = allClients(gw.url)[1]!;
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => c.unary(M.generate, { workload: "strict", messages: [user(prompt)] })),
    );
    c.close();
    const ok = results.filter((r) => r.status === "fulfilled").length;
    assert.equal(ok, 3, "only three maximum-cost reservations fit in $1 at once");
    for (const r of results) {
      if (r.status === "rejected") {
        const e = r.reason as ConnectError;
        assert.equal(e.code, Code.ResourceExhausted);
        assert.match(e.message, /month budget of workload strict is used up for \d{4}-\d{2}/);
      }
    }
  });

  // The same request reserves ~$0.31 and costs $0.20: after the first, $0.20 of the day's $0.50 is
  // spent and the next reservation no longer fits, so the second is served by the economy workload.
  test("a route with budgetDowngrade serves from the cheaper workload once the budget is used up", async () => {
    const c = allClients(gw.url)[0]!;
    const ask = () => c.unary(M.generate, { workload: "chat", messages: [user(prompt)] });
    assert.equal((await ask()).message.routing?.backend, "premium");
    const second = await ask();
    assert.equal(second.message.routing?.backend, "cheap");
    assert.match(
      second.message.routing?.reason ?? "",
      /downgraded from chat \(budget workload:chat:day:\d{4}-\d{2}-\d{2} used up\)/,
    );
    c.close();
  });
});
