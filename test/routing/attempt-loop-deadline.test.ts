// The last attempt's first-event timer is the deadline itself. libuv's cached loop time can fire it a
// moment before Date.now() reaches the deadline (and before the deadline's own timer): that must still
// end the request as deadline_exceeded, never as upstream_unavailable (a flake seen in the randomized
// ledger test, seed 622995499, scenario 1727).
import assert from "node:assert/strict";
import { test } from "node:test";
import { createRequestContext } from "../../src/api/request-context.ts";
import { compileConfig } from "../../src/config/compile.ts";
import { parseConfig } from "../../src/config/load.ts";
import { GatewayError } from "../../src/errors/gateway-error.ts";
import type { Deadline } from "../../src/routing/deadline.ts";
import { attemptLoop } from "../../src/routing/fallback.ts";
import { planRoute } from "../../src/routing/router.ts";
import { createLogger } from "../../src/telemetry/logger.ts";
import { RequestTelemetry } from "../../src/telemetry/request-telemetry.ts";

const yaml = `
backends:
  a: { type: echo }
  b: { type: echo }
routes:
  chat:
    retry: { maxAttempts: 2, backoffBaseMs: 0 }
    targets: [{ backend: a, model: m }, { backend: b, model: m }]
`;
const logger = createLogger("silent");
const { compiled } = compileConfig(parseConfig(yaml, "t", {}), {}, logger);

/** A deadline whose clock runs behind the timers: it never reports expiry by itself. */
function laggingDeadline(ms: number): Deadline {
  const at = Date.now() + ms;
  return {
    at,
    signal: new AbortController().signal,
    expired: false,
    remainingMs: () => Math.max(0, at - Date.now()),
    dispose() {},
  } as unknown as Deadline;
}

async function drive(streaming: boolean) {
  const ctx = createRequestContext({
    operation: "generate",
    protocol: "test",
    workload: "chat",
    requestedModel: "",
    headers: new Headers(),
    signal: new AbortController().signal,
    callerTimeoutMs: 80,
    logger,
    telemetry: new RequestTelemetry(undefined, logger),
  });
  const plan = planRoute(
    compiled,
    {
      workload: "chat",
      requestedModel: "",
      metadata: {},
      team: undefined,
      keyId: undefined,
      needs: { operation: "generate", streaming, tools: false, jsonSchema: false, contextTokens: 1 },
      estimate: { inputTokens: 1, outputTokens: 1 },
      allowedModels: ["*"],
    },
    ctx.decision,
  );
  // Every upstream hangs until its attempt is aborted.
  const hang = (_t: unknown, call: { signal: AbortSignal }) => ({
    next: () =>
      new Promise<IteratorResult<string>>((_, reject) =>
        call.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true }),
      ),
  });
  const loop = attemptLoop(ctx, plan, laggingDeadline(80), hang, { isContent: () => true, streaming });
  try {
    for await (const _ of loop);
    return { reason: "none", attempts: ctx.decision.attempts.length };
  } catch (e) {
    return {
      reason: e instanceof GatewayError ? e.reason : String(e),
      attempts: ctx.decision.attempts.length,
    };
  }
}

for (const streaming of [false, true]) {
  test(`a last attempt timed out by the deadline's own length is deadline_exceeded (${streaming ? "stream" : "unary"})`, async () => {
    assert.deepEqual(await drive(streaming), { reason: "deadline_exceeded", attempts: 2 });
  });
}
