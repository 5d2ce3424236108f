// The response cache (issue #17): hit, miss, expiry and bypass; two teams sending the identical
// request never share an entry (memory and Redis stores); a streamed hit replays the same events; hits
// are in the ledger as cached with cost 0 and in GetSpend; errors and guardrail-flagged answers are
// never cached.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, type TestContext, test } from "node:test";
import { AdminService } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import {
  type GenerateStreamResponse,
  InferenceService,
} from "../../gen/switchyard/v1/inference_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { allClients, type TestClient } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { REDIS_URL, requireRedis } from "../helpers/services.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const M = InferenceService.method;
const auth = (key: string, headers: Record<string, string> = {}) => ({
  headers: { authorization: `Bearer ${key}`, ...headers },
});
const ask = (text: string) => ({
  workload: "chat",
  messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: text } }] }],
});

type Rig = {
  gw: TestGateway;
  upstream: OpenAIFake;
  a: string;
  b: string;
  a2: string;
  admin: string;
  client: TestClient;
};

async function startRig(cacheStore: string): Promise<Rig> {
  const upstream = await startOpenAIFake();
  let n = 0;
  upstream.setDefault(() => ({
    chunks: [`answer `, `${++n}`],
    usage: { prompt_tokens: 11, completion_tokens: 2 },
  }));
  const admin = mintKey().secret;
  const gw = await startTestGateway(
    configYaml(
      `  oa:\n    type: openai\n    baseUrl: ${upstream.url}/v1\n`,
      "  chat:\n    cache: { ttlSeconds: 60 }\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n" +
        "  brief:\n    cache: { ttlSeconds: 1 }\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n",
      "",
      "auth: { enabled: true, cacheTtlMs: 60000 }\n" +
        `policies:\n  cacheStore: ${cacheStore}\n  guardrails:\n` +
        "    - { name: watch, mode: monitor, detect: [email], stages: [output] }\n",
    ),
    { SWITCHYARD_BOOTSTRAP_KEY: admin },
  );
  const client = allClients(gw.url)[1]!;
  const mint = async (team: string) =>
    (
      await client.unary(
        AdminService.method.createKey,
        { name: `k-${team}-${randomUUID()}`, roles: ["developer"], team },
        auth(admin),
      )
    ).message.secret;
  return { gw, upstream, a: await mint("a"), a2: await mint("a"), b: await mint("b"), admin, client };
}

/** Retries `attempt` (bounded) until it returns a value: the store is written after a request settles. */
async function eventually<T>(attempt: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const got = await attempt();
    if (got !== undefined) return got;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function stopRig(rig: Rig): Promise<void> {
  rig.client.close();
  await rig.gw.stop();
  await rig.upstream.close();
}

function cacheSuite(name: string, cacheStore: string, needsRedis: boolean) {
  describe(`response cache (${name} store)`, () => {
    let rig: Rig | undefined;
    /** The suite's gateway, started on first use (after checking Redis where the store needs it). */
    const rigFor = async (t: TestContext): Promise<Rig | undefined> => {
      if (needsRedis && !(await requireRedis(t))) return undefined;
      rig ??= await startRig(cacheStore);
      return rig;
    };
    after(async () => {
      if (rig) await stopRig(rig);
    });

    test("miss then hit for the same team; another team never shares the entry", async (t) => {
      const rig = await rigFor(t);
      if (!rig) return;
      const prompt = `q-${randomUUID()}`;
      const first = await rig.client.unary(M.generate, ask(prompt), auth(rig.a));
      assert.equal(first.message.routing?.cached, false);
      const calls = rig.upstream.requests.length;
      // The entry is stored once the first request settled (in the background).
      const second = await eventually(async () => {
        const r = await rig.client.unary(M.generate, ask(prompt), auth(rig.a2)); // same team, another key
        return r.message.routing?.cached ? r : undefined;
      }, "a cache hit");
      assert.equal(second.message.text, first.message.text, "the hit answers what the miss got");
      assert.equal(rig.upstream.requests.length, calls, "a hit asks no upstream");
      // Team b sends the identical request: its own miss, a fresh upstream answer.
      const other = await rig.client.unary(M.generate, ask(prompt), auth(rig.b));
      assert.equal(other.message.routing?.cached, false);
      assert.notEqual(other.message.text, first.message.text);
      assert.equal(rig.upstream.requests.length, calls + 1);
    });

    test("a streamed hit replays the same events; cache-control: no-cache bypasses the cache", async (t) => {
      const rig = await rigFor(t);
      if (!rig) return;
      const prompt = `s-${randomUUID()}`;
      const textOf = (ms: GenerateStreamResponse[]) =>
        ms.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value.text] : []));
      const miss = await rig.client.serverStream(M.generateStream, ask(prompt), auth(rig.a));
      const hit = await eventually(async () => {
        const r = await rig.client.serverStream(M.generateStream, ask(prompt), auth(rig.a));
        const final = r.messages.at(-1)?.event;
        return final?.case === "final" && final.value.routing?.cached ? r : undefined;
      }, "a streamed hit");
      assert.deepEqual(textOf(hit.messages), textOf(miss.messages), "the same text deltas, in order");
      const calls = rig.upstream.requests.length;
      const bypass = await rig.client.unary(
        M.generate,
        ask(prompt),
        auth(rig.a, { "cache-control": "no-cache" }),
      );
      assert.equal(bypass.message.routing?.cached, false);
      assert.equal(rig.upstream.requests.length, calls + 1, "no-cache asked the upstream");
    });

    test("an entry expires after the route's ttlSeconds", async (t) => {
      const rig = await rigFor(t);
      if (!rig) return;
      const request = { ...ask(`x-${randomUUID()}`), workload: "brief" };
      await rig.client.unary(M.generate, request, auth(rig.a));
      await eventually(async () => {
        const r = await rig.client.unary(M.generate, request, auth(rig.a));
        return r.message.routing?.cached ? r : undefined;
      }, "a cache hit");
      await new Promise((resolve) => setTimeout(resolve, 1100)); // past the 1 s TTL
      const late = await rig.client.unary(M.generate, request, auth(rig.a));
      assert.equal(late.message.routing?.cached, false, "an expired entry is a miss");
    });

    test("hits are in the ledger as cached with cost 0 and counted in GetSpend", async (t) => {
      const rig = await rigFor(t);
      if (!rig) return;
      const prompt = `l-${randomUUID()}`;
      await rig.client.unary(M.generate, ask(prompt), auth(rig.a));
      const hit = await eventually(async () => {
        const r = await rig.client.unary(M.generate, ask(prompt), auth(rig.a));
        return r.message.routing?.cached ? r : undefined;
      }, "a cache hit");
      await rig.gw.gateway.ledger.flush();
      const row = await rig.gw.gateway.store.ledger.get(hit.message.requestId);
      assert.equal(row?.status, "cached");
      assert.equal(row?.costMicroUsd, 0);
      assert.equal(row?.attempts, 0);
      assert.equal(row?.inputTokens, 11, "the tokens the answer took when it was made");
      const { message } = await rig.client.unary(AdminService.method.getSpend, {}, auth(rig.admin));
      assert.ok((message.rows[0]?.cachedRequests ?? 0n) >= 1n);
    });

    test("an answer a guardrail flagged is not cached; an upstream error is not cached", async (t) => {
      const rig = await rigFor(t);
      if (!rig) return;
      const prompt = `g-${randomUUID()}`;
      rig.upstream.enqueue({ chunks: ["mail jane@example.com"] }); // flagged by the monitor guardrail
      await rig.client.unary(M.generate, ask(prompt), auth(rig.a));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const again = await rig.client.unary(M.generate, ask(prompt), auth(rig.a));
      assert.equal(again.message.routing?.cached, false, "a flagged answer is never served from the cache");
      const failing = `e-${randomUUID()}`;
      rig.upstream.enqueue({ kind: "error", status: 400 });
      await rig.client.unary(M.generate, ask(failing), auth(rig.a)).catch(() => undefined);
      const after = await rig.client.unary(M.generate, ask(failing), auth(rig.a));
      assert.equal(after.message.routing?.cached, false);
    });
  });
}

cacheSuite("memory", "{ type: memory }", false);
cacheSuite("redis", `{ type: redis, url: "${REDIS_URL}", keyPrefix: "sy-test-${randomUUID()}:" }`, true);
