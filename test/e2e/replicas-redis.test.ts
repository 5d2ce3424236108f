import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway } from "../helpers/gateway.ts";
import { REDIS_URL, requireRedis } from "../helpers/services.ts";

const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});

test("two replicas sharing Redis share one limit: 5 requests per minute in total, not per replica", async (t) => {
  if (!(await requireRedis(t))) return;
  const prefix = `sy-test-${randomBytes(6).toString("hex")}:`;
  const yaml =
    configYaml("  echo: { type: echo }\n", "  chat:\n    targets:\n      - { backend: echo, model: e }\n") +
    `limits:\n  store: { type: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}", failureMode: closed }\n` +
    "  rules:\n    - { scope: workload, match: chat, requestsPerMinute: 5 }\n";
  const a = await startTestGateway(yaml);
  const b = await startTestGateway(yaml);
  try {
    const ca = allClients(a.url)[1]!;
    const cb = allClients(b.url)[2]!;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? ca : cb).unary(InferenceService.method.generate, {
          workload: "chat",
          messages: [user(`r${i}`)],
        }),
      ),
    );
    const ok = outcomes.filter((o) => o.status === "fulfilled").length;
    assert.equal(ok, 5, "the limit holds across replicas");
    for (const o of outcomes) {
      if (o.status === "rejected") assert.equal((o.reason as ConnectError).code, Code.ResourceExhausted);
    }
    ca.close();
    cb.close();
  } finally {
    await a.stop();
    await b.stop();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

test("Redis down with failureMode closed: requests are refused as UNAVAILABLE, never hang", async () => {
  const yaml =
    configYaml("  echo: { type: echo }\n", "  chat:\n    targets:\n      - { backend: echo, model: e }\n") +
    `limits:\n  store: { type: redis, url: "redis://127.0.0.1:1", failureMode: closed, commandTimeoutMs: 200 }\n` +
    "  rules:\n    - { scope: workload, match: chat, requestsPerMinute: 5 }\n";
  const gw = await startTestGateway(yaml);
  try {
    const c = allClients(gw.url)[1]!;
    await assert.rejects(
      c.unary(InferenceService.method.generate, { workload: "chat", messages: [user("x")] }),
      (e: ConnectError) => e.code === Code.Unavailable && /rate-limit store is unreachable/.test(e.message),
    );
    c.close();
  } finally {
    await gw.stop();
  }
});
