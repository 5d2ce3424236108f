// Retry budget under a full outage: one backend that answers every request 503, many concurrent
// callers. Without a budget each caller would use all its attempts and multiply the load on the failing
// backend by maxAttempts; with it, concurrent retries stay within max(minRetryConcurrency, percent% of
// the backend's active attempts) and the load stays close to one request per caller.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConnectError } from "@connectrpc/connect";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients, Code } from "../helpers/clients.ts";
import { configYaml, type LogLine, startTestGateway } from "../helpers/gateway.ts";
import { type RecordedRequest, startOpenAIFake } from "../upstreams/openai-fake.ts";

const M = InferenceService.method;
const CALLERS = 40;
const MAX_ATTEMPTS = 5;
/** How long the backend takes to answer a retry's 503. */
const DELAY_MS = 50;
/**
 * The callers' first attempts are all answered at the same moment, this long after the first of them
 * arrived, so they overlap for sure (they arrive within ~15-30 ms of each other here, several hundred
 * on a heavily loaded machine; a fixed delay per request would let early retries free budget slots
 * while late first attempts are still arriving).
 */
const FIRST_RELEASE_MS = 300;

type Outage = {
  /** Upstream requests the backend received. */
  total: number;
  /** Requests per caller (each caller sends its own prompt, so the fake can tell them apart). */
  perCaller: Map<string, number>;
  /** Most retries (2nd+ request of a caller) in flight at the backend at once. */
  maxConcurrentRetries: number;
  /** Arrival spread of the callers' first attempts, ms (all answered FIRST_RELEASE_MS after the first). */
  firstAttemptSpreadMs: number;
  errors: ConnectError[];
  requestLogs: LogLine[];
};

/** Starts a gateway in front of an always-503 backend and sends CALLERS concurrent Generate calls. */
async function runOutage(routing: string): Promise<Outage> {
  const backend = await startOpenAIFake();
  const perCaller = new Map<string, number>();
  const inFlightRetries: RecordedRequest[] = [];
  const firstArrivals: number[] = [];
  let maxConcurrentRetries = 0;
  backend.setDefault((rec) => {
    const caller = JSON.stringify((rec.body as { messages?: unknown }).messages);
    const seen = perCaller.get(caller) ?? 0;
    perCaller.set(caller, seen + 1);
    if (seen === 0) {
      firstArrivals.push(performance.now());
      const release = (firstArrivals[0] ?? 0) + FIRST_RELEASE_MS;
      return { kind: "error", status: 503, delayMs: Math.max(0, release - performance.now()) };
    }
    // A retry. The fake sees a request from its arrival to its response's end, inside the gateway's
    // begin()…release() of the same attempt: what it counts can only be less than the budget's count.
    inFlightRetries.push(rec);
    const now = inFlightRetries.filter((r) => !r.completed && !r.aborted).length;
    maxConcurrentRetries = Math.max(maxConcurrentRetries, now);
    return { kind: "error", status: 503, delayMs: DELAY_MS };
  });
  const gw = await startTestGateway(
    configYaml(
      // A breaker that cannot open during the test: only the retry budget limits retries.
      `  primary:\n    type: openai\n    baseUrl: ${backend.url}/v1\n` +
        "    breaker: { volumeThreshold: 1000 }\n",
      "  chat:\n    targets:\n      - { backend: primary, model: gpt-4o-mini }\n" +
        `    retry: { maxAttempts: ${MAX_ATTEMPTS}, backoffBaseMs: 0 }\n` +
        "    timeouts: { totalMs: 10000 }\n",
    ) + routing,
  );
  const client = allClients(gw.url)[1]!; // gRPC through connect-node
  try {
    const calls = Array.from({ length: CALLERS }, (_, i) =>
      client
        .unary(M.generate, {
          workload: "chat",
          messages: [{ role: Role.USER, content: [{ part: { case: "text", value: `caller ${i}` } }] }],
        })
        .then(
          () => assert.fail(`caller ${i} was served by a backend that only answers 503`),
          (e: ConnectError) => e,
        ),
    );
    const errors = await Promise.all(calls);
    for (const [i, r] of backend.requests.entries())
      assert.ok(r.completed || r.aborted, `upstream request #${i} is still in use`);
    return {
      total: backend.requests.length,
      perCaller,
      maxConcurrentRetries,
      firstAttemptSpreadMs: Math.max(...firstArrivals) - Math.min(...firstArrivals),
      errors,
      requestLogs: gw.logs.filter((l) => l.msg === "request"),
    };
  } finally {
    client.close();
    await gw.stop();
    await backend.close();
  }
}

/** Every caller got a clean UNAVAILABLE / upstream_unavailable (never INTERNAL) within maxAttempts. */
function assertCleanUnavailable(outage: Outage): void {
  assert.equal(outage.errors.length, CALLERS);
  for (const e of outage.errors) {
    assert.equal(e.code, Code.Unavailable, `${Code[e.code]}: ${e.message}`);
    assert.equal(e.metadata.get("x-switchyard-reason"), "upstream_unavailable");
    const attempts = Number(e.metadata.get("x-switchyard-attempts"));
    assert.ok(attempts >= 1 && attempts <= MAX_ATTEMPTS, `${attempts} attempts`);
  }
  assert.equal(outage.perCaller.size, CALLERS, "every caller reached the backend");
  for (const [caller, n] of outage.perCaller) assert.ok(n <= MAX_ATTEMPTS, `${caller}: ${n} requests`);
  // The gateway's own accounting matches what the backend saw.
  assert.equal(outage.requestLogs.length, CALLERS);
  const logged = outage.requestLogs.reduce((n, l) => n + Number(l.attempts), 0);
  assert.equal(logged, outage.total);
}

test("outage: the retry budget keeps the failing backend's load near one request per caller", async (t) => {
  const outage = await runOutage("");
  assertCleanUnavailable(outage);

  // Precondition of the bound below: every first attempt arrived before the moment they are all answered.
  assert.ok(
    outage.firstAttemptSpreadMs < FIRST_RELEASE_MS,
    `first attempts spread over ${outage.firstAttemptSpreadMs} ms`,
  );

  // Bound. Each caller has at most one attempt in flight, so the backend's active attempts are ≤ 40
  // and concurrent retries ≤ max(minRetryConcurrency 3, 20% × 40) = 8 (RetryBudget.begin refuses
  // beyond). All 40 first attempts fail at the same moment and a retry lasts ≥ DELAY_MS, so no retry
  // can end (and free its slot) before the last first attempt has failed: at most 8 callers ever get
  // a first retry, and a caller refused a retry gives up. Those ≤ 8 callers make ≤ 4 retries each:
  // retries ≤ 8 × (5 − 1) = 32, so upstream requests ≤ 40 + 32 = 72, against 40 × 5 = 200 without a
  // budget. (Once the first attempts are over, active ≤ 8 and the cap drops to 3, so the real count
  // is lower still: 40 + 8 + 3 × 3 = 57.)
  const cap = Math.max(3, 0.2 * CALLERS);
  assert.ok(outage.maxConcurrentRetries <= cap, `${outage.maxConcurrentRetries} retries at once`);
  assert.ok(outage.maxConcurrentRetries >= 1, "some retries were allowed");
  const retries = outage.total - CALLERS; // first attempts = 40: one per caller (perCaller.size)
  t.diagnostic(
    `${outage.total} upstream requests (${retries} retries, ` +
      `at most ${outage.maxConcurrentRetries} at once; ` +
      `first attempts spread over ${Math.round(outage.firstAttemptSpreadMs)} ms)`,
  );
  assert.ok(retries <= cap * (MAX_ATTEMPTS - 1), `${retries} retries`);
  assert.ok(outage.total <= 72, `${outage.total} upstream requests`);
  const retried = [...outage.perCaller.values()].filter((n) => n > 1).length;
  assert.ok(retried <= cap, `${retried} callers retried`);

  // Every caller either used all its attempts or was refused a retry by the budget, and says so.
  for (const line of outage.requestLogs) {
    const skipped = (line.skipped as { reason: string }[] | undefined) ?? [];
    assert.ok(
      line.attempts === MAX_ATTEMPTS || skipped.some((s) => s.reason === "retry budget exhausted"),
      JSON.stringify(line),
    );
  }
});

test("no budget (100%, min 100): every caller uses all 5 attempts: the budget is the limit", async () => {
  const outage = await runOutage("routing:\n  retryBudgetPercent: 100\n  minRetryConcurrency: 100\n");
  assertCleanUnavailable(outage);
  assert.equal(outage.total, CALLERS * MAX_ATTEMPTS);
  for (const [caller, n] of outage.perCaller) assert.equal(n, MAX_ATTEMPTS, caller);
  for (const e of outage.errors) assert.equal(e.metadata.get("x-switchyard-attempts"), String(MAX_ATTEMPTS));
});
