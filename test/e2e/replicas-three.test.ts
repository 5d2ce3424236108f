import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import pg from "pg";
import { AdminService, SpendDimension } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import type { UsageRecord } from "../../src/store/store.ts";
import { allClients, type TestClient } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { POSTGRES_URL, REDIS_URL, requirePostgres, requireRedis } from "../helpers/services.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// Acceptance: three gateway instances sharing one Redis (limits, budgets) and one PostgreSQL store (ledger).

const M = InferenceService.method;
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});

const RPM_LIMIT = 60;
const TPM_LIMIT = 1000;
// docs/metering.md: estimate = input estimate + max output. "hi" is ceil(2 / 4) = 1 token + 4 of message
// framing = 5; maxOutputTokens 95 makes 100 per request.
const TPM_MAX_OUTPUT = 95;
const TPM_ESTIMATE = 5 + TPM_MAX_OUTPUT;
// The upstream reports twice the estimate, so each admitted request overshoots its reservation by one
// estimate: the overshoot the limit must keep bounded by what was in flight.
const TPM_ACTUAL = { prompt_tokens: 105, completion_tokens: 95 };
const TPM_ACTUAL_TOKENS = TPM_ACTUAL.prompt_tokens + TPM_ACTUAL.completion_tokens;

// Budget workload: 100 one-letter words = 199 characters, estimated ceil(199 / 4) + 4 = 54 tokens; the echo
// backend bills one token per word (100). At 1000 USD per million input tokens (output free) a request
// reserves 54 000 micro-USD and costs 100 000: the reservation is short by 46 000 per request.
const BUDGET_PROMPT = Array.from({ length: 100 }, () => "a").join(" ");
const BUDGET_LIMIT_MICRO = 500_000;
const BUDGET_RESERVED_MICRO = 54_000;
const BUDGET_ACTUAL_MICRO = 100_000;

type Fleet = {
  replicas: TestGateway[];
  clients: TestClient[];
  up: OpenAIFake;
  redis: Redis;
  prefix: string;
  schema: string;
  /** Request ids of every request the fleet served (each must have exactly one ledger record). */
  served: string[];
};

function fleetYaml(upUrl: string, prefix: string, schema: string): string {
  const backends =
    "  echo: { type: echo }\n  slow: { type: echo, chunkDelayMs: 300 }\n" +
    `  oa:\n    type: openai\n    baseUrl: ${upUrl}/v1\n`;
  const routes =
    "  rpm:\n    targets:\n      - { backend: echo, model: r }\n" +
    "  tpm:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n" +
    "  budget:\n    targets:\n      - { backend: slow, model: b }\n" +
    "  plain:\n    targets:\n      - { backend: echo, model: p }\n";
  return (
    configYaml(backends, routes).replace(
      "store: { type: memory }",
      `store: { type: postgres, url: "${POSTGRES_URL}", schema: ${schema} }`,
    ) +
    "prices:\n  gpt-4o-mini: { input: 1, output: 2 }\n  b: { input: 1000, output: 0 }\n  p: { input: 3, output: 5 }\n" +
    `limits:\n  store: { type: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}", failureMode: closed }\n` +
    "  rules:\n" +
    `    - { scope: workload, match: rpm, requestsPerMinute: ${RPM_LIMIT} }\n` +
    `    - { scope: workload, match: tpm, tokensPerMinute: ${TPM_LIMIT} }\n` +
    `budgets:\n  - { scope: workload, match: budget, period: day, limitUsd: ${BUDGET_LIMIT_MICRO / 1e6} }\n`
  );
}

async function startFleet(): Promise<Fleet> {
  const prefix = `sy-test-${randomBytes(6).toString("hex")}:`;
  const schema = `sy_test_${randomBytes(6).toString("hex")}`;
  const up = await startOpenAIFake();
  up.setDefault({ text: "ok", usage: TPM_ACTUAL, delayMs: 300 });
  const yaml = fleetYaml(up.url, prefix, schema);
  const replicas: TestGateway[] = [];
  // One after the other: the first creates the schema, the others find it migrated.
  for (let i = 0; i < 3; i++) replicas.push(await startTestGateway(yaml));
  // gRPC through connect-node, one HTTP/2 connection per replica.
  const clients = replicas.map((r) => allClients(r.url)[1]!);
  return { replicas, clients, up, redis: new Redis(REDIS_URL), prefix, schema, served: [] };
}

let fleetStarted: Promise<Fleet> | undefined;
/** Started by the first test that needs it (after its requireRedis/requirePostgres), shared after that. */
const fleet = (): Promise<Fleet> => {
  fleetStarted ??= startFleet();
  return fleetStarted;
};

after(async () => {
  if (!fleetStarted) return;
  const f = await fleetStarted;
  for (const c of f.clients) c.close();
  await Promise.all(f.replicas.map((r) => r.stop()));
  await f.up.close();
  const keys = await f.redis.keys(`${f.prefix}*`);
  if (keys.length > 0) await f.redis.del(...keys);
  f.redis.disconnect();
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${f.schema} CASCADE`);
  await client.end();
});

/** Redis's own clock in ms: the clock the limit scripts refill by. */
async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

/** Polls (one Redis round trip per turn, bounded) until `done` holds; returns whether it did. */
async function until(done: () => Promise<boolean>, turns = 500): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    if (await done()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

type Outcome = PromiseSettledResult<{ message: { requestId: string } }>;

/** Fires `n` requests at once, round-robin over the replicas' clients. */
function burst(f: Fleet, n: number, request: Parameters<TestClient["unary"]>[1]): Promise<Outcome[]> {
  return Promise.allSettled(
    Array.from({ length: n }, (_, i) => f.clients[i % f.clients.length]!.unary(M.generate, request as never)),
  ) as Promise<Outcome[]>;
}

function servedIds(outcomes: Outcome[]): string[] {
  return outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value.message.requestId] : []));
}

function rejections(outcomes: Outcome[]): ConnectError[] {
  return outcomes.flatMap((o) => (o.status === "rejected" ? [ConnectError.from(o.reason)] : []));
}

async function ledgerRecords(f: { replicas: TestGateway[] }, ids: string[]): Promise<UsageRecord[]> {
  await Promise.all(f.replicas.map((r) => r.gateway.ledger.flush()));
  const store = f.replicas[0]!.gateway.store;
  const records = await Promise.all(ids.map((id) => store.ledger.get(id)));
  return records.map((r, i) => {
    assert.ok(r, `a ledger record for served request ${ids[i]}`);
    return r;
  });
}

describe("three replicas sharing one Redis and one PostgreSQL store", () => {
  test("requestsPerMinute 60: of 90 concurrent requests over three replicas exactly 60 pass, the rest are rate_limited", async (t) => {
    if (!(await requireRedis(t)) || !(await requirePostgres(t))) return;
    const f = await fleet();
    const t0 = await redisNowMs(f.redis);
    const outcomes = await burst(f, 90, { workload: "rpm", messages: [user("count me")] });
    const t1 = await redisNowMs(f.redis);
    f.served.push(...servedIds(outcomes));

    // Slack 0 from concurrency: the take is one Lua script, atomic across replicas. The only slack is the
    // bucket's refill during the burst (60/min = one request per second, by Redis's clock); a burst
    // shorter than a second (the usual case) leaves exactly 60.
    const refill = Math.floor(((t1 - t0) * RPM_LIMIT) / 60_000);
    const ok = servedIds(outcomes).length;
    assert.ok(ok >= RPM_LIMIT, `a full bucket admits its 60 (admitted ${ok})`);
    assert.ok(ok <= RPM_LIMIT + refill, `admitted ${ok} ≤ 60 + ${refill} refilled during the burst`);
    if (refill === 0) assert.equal(ok, RPM_LIMIT);
    const errors = rejections(outcomes);
    assert.equal(errors.length, 90 - ok);
    for (const e of errors) {
      assert.equal(e.code, Code.ResourceExhausted, e.message);
      assert.equal(e.metadata.get("x-switchyard-reason"), "rate_limited");
      assert.ok(Number(e.metadata.get("retry-after-ms")) > 0, "a retry delay is given");
      assert.match(e.message, /workload rpm requests-per-minute limit/);
    }
    // Every replica took its third of the burst (which replica wins the race for the bucket varies).
    for (const replica of f.replicas) {
      const lines = replica.logs.filter((l) => l.msg === "request" && l.workload === "rpm");
      assert.equal(lines.length, 30);
    }
  });

  test("tokensPerMinute 1000: admitted tokens stay within the limit + in-flight × estimate, and the overshoot is charged back", async (t) => {
    if (!(await requireRedis(t)) || !(await requirePostgres(t))) return;
    const f = await fleet();
    const request = {
      workload: "tpm",
      messages: [user("hi")],
      sampling: { maxOutputTokens: TPM_MAX_OUTPUT },
    };
    const t0 = await redisNowMs(f.redis);
    const outcomes = await burst(f, 30, request);
    const t1 = await redisNowMs(f.redis);
    const ids = servedIds(outcomes);
    f.served.push(...ids);
    const refill = ((t1 - t0) * TPM_LIMIT) / 60_000;

    for (const e of rejections(outcomes)) {
      assert.equal(e.code, Code.ResourceExhausted, e.message);
      assert.equal(e.metadata.get("x-switchyard-reason"), "rate_limited");
      assert.match(e.message, /workload tpm tokens-per-minute limit/);
    }
    const admitted = ids.length;
    assert.ok(admitted >= 1);
    // Admission reserves the estimate atomically: reservations never exceed what the bucket held
    // (1000, + the refill during the burst; settlement here only ever charges more).
    assert.ok(
      admitted * TPM_ESTIMATE <= TPM_LIMIT + refill,
      `${admitted} × ${TPM_ESTIMATE} reserved ≤ ${TPM_LIMIT} + ${refill.toFixed(1)} refilled`,
    );

    const records = await ledgerRecords(f, ids);
    for (const r of records) assert.equal(r.inputTokens + r.outputTokens, TPM_ACTUAL_TOKENS);
    const used = records.reduce((n, r) => n + r.inputTokens + r.outputTokens, 0);
    // The in-flight maximum of one burst is at most the number admitted; each in-flight request can
    // overshoot by (actual − estimate) = one estimate here.
    const inFlightMax = admitted;
    const bound = TPM_LIMIT + refill + inFlightMax * TPM_ESTIMATE;
    assert.ok(used > TPM_LIMIT, `the upstream really overshot the reservations (${used} tokens)`);
    assert.ok(
      used <= bound,
      `${used} tokens used ≤ ${TPM_LIMIT} + refill + ${inFlightMax} × ${TPM_ESTIMATE}`,
    );

    // Settlement charges the overshoot to the shared bucket (in the background): once it has, the bucket
    // is in debt by about what was used beyond the limit, and the next request on any replica must wait
    // for that debt to refill.
    const bucket = `${f.prefix}rl:tpm:workload:tpm`;
    const settled = await until(async () => {
      const [tokens, ts] = await f.redis.hmget(bucket, "t", "ts");
      const refilled = ((Number(ts) - t0) * TPM_LIMIT) / 60_000;
      return Number(tokens) <= TPM_LIMIT - used + refilled + 1e-6;
    });
    assert.ok(settled, "every settlement reached the shared bucket");
    const probe = await Promise.allSettled([f.clients[2]!.unary(M.generate, request)]);
    const t2 = await redisNowMs(f.redis);
    const e = rejections(probe as Outcome[])[0];
    assert.ok(e, "the next request is refused while the overshoot is being paid back");
    assert.equal(e.metadata.get("x-switchyard-reason"), "rate_limited");
    const available = TPM_LIMIT - used + ((t2 - t0) * TPM_LIMIT) / 60_000;
    const minWaitMs = ((TPM_ESTIMATE - available) * 60_000) / TPM_LIMIT;
    assert.ok(
      Number(e.metadata.get("retry-after-ms")) >= Math.floor(minWaitMs),
      `retry-after-ms ${e.metadata.get("retry-after-ms")} covers the debt (≥ ${minWaitMs.toFixed(0)})`,
    );
  });

  test("a day budget across three replicas: spend ≤ limit + what was in flight, and Redis agrees with the ledger", async (t) => {
    if (!(await requireRedis(t)) || !(await requirePostgres(t))) return;
    const f = await fleet();
    const request = { workload: "budget", messages: [user(BUDGET_PROMPT)], sampling: { maxOutputTokens: 1 } };
    const outcomes = await burst(f, 30, request);
    const ids = servedIds(outcomes);
    f.served.push(...ids);
    for (const e of rejections(outcomes)) {
      assert.equal(e.code, Code.ResourceExhausted, e.message);
      assert.equal(e.metadata.get("x-switchyard-reason"), "budget_exhausted");
      assert.match(e.message, /day budget of workload budget is used up for \d{4}-\d{2}-\d{2}/);
    }
    const admitted = ids.length;
    assert.ok(admitted >= 1);
    // Reservations are checked and taken in one Lua script across replicas: no slack at all.
    assert.ok(
      admitted * BUDGET_RESERVED_MICRO <= BUDGET_LIMIT_MICRO,
      `${admitted} reservations of ${BUDGET_RESERVED_MICRO} fit in ${BUDGET_LIMIT_MICRO}`,
    );

    const records = await ledgerRecords(f, ids);
    for (const r of records) assert.equal(r.costMicroUsd, BUDGET_ACTUAL_MICRO);
    const spent = records.reduce((n, r) => n + (r.costMicroUsd ?? 0), 0);
    const inFlightMax = admitted;
    const bound = BUDGET_LIMIT_MICRO + inFlightMax * (BUDGET_ACTUAL_MICRO - BUDGET_RESERVED_MICRO);
    assert.ok(spent > BUDGET_LIMIT_MICRO, `the actual cost really exceeded the reservations (${spent})`);
    assert.ok(spent <= bound, `recorded spend ${spent} ≤ limit + in-flight overshoot ${bound}`);

    // Once every settlement reached Redis, its spent counter equals the ledger and nothing is reserved.
    const budgetKeys = await f.redis.keys(`${f.prefix}budget:workload:budget:day:*`);
    assert.ok(budgetKeys.length >= 1);
    const usage = async () => {
      let spentMicro = 0;
      let reservedMicro = 0;
      for (const key of budgetKeys) {
        const [s, r] = await f.redis.hmget(key, "spent", "reserved");
        spentMicro += Number(s ?? 0);
        reservedMicro += Number(r ?? 0);
      }
      return { spentMicro, reservedMicro };
    };
    assert.ok(await until(async () => (await usage()).reservedMicro === 0), "every reservation settled");
    assert.deepEqual(await usage(), { spentMicro: spent, reservedMicro: 0 });
    // The overshoot stays bounded: no replica admits anything more in this window.
    const more = await burst(f, 3, request);
    assert.equal(servedIds(more).length, 0);
    for (const e of rejections(more)) {
      assert.equal(e.metadata.get("x-switchyard-reason"), "budget_exhausted");
      assert.match(e.message, /remaining 0\.000000 USD/);
    }
  });

  test("GetSpend totals on PostgreSQL equal the ledger, grouped by workload and by backend", async (t) => {
    if (!(await requireRedis(t)) || !(await requirePostgres(t))) return;
    const f = await fleet();
    // Traffic of its own on every replica, so the check stands when this test runs alone.
    const outcomes = await burst(f, 6, {
      workload: "plain",
      messages: [user("three little words")],
    });
    assert.equal(servedIds(outcomes).length, 6);
    f.served.push(...servedIds(outcomes));
    await assertSpendMatchesLedger(f.replicas, f.clients[1]!, f.served);
  });
});

/**
 * GetSpend (by workload, by backend) and the store's ungrouped `spend` must both equal the sums over
 * the ledger rows of the given requests, which must be every request the store holds.
 */
async function assertSpendMatchesLedger(replicas: TestGateway[], client: TestClient, ids: string[]) {
  const records = await ledgerRecords({ replicas }, ids);
  type Totals = { requests: number; inputTokens: number; outputTokens: number; costMicroUsd: number };
  const zero = (): Totals => ({ requests: 0, inputTokens: 0, outputTokens: 0, costMicroUsd: 0 });
  const add = (into: Totals, r: UsageRecord | Totals) => {
    into.requests += "requests" in r ? r.requests : 1;
    into.inputTokens += r.inputTokens;
    into.outputTokens += r.outputTokens;
    into.costMicroUsd += r.costMicroUsd ?? 0;
  };
  const sums = (key: (r: UsageRecord) => string) => {
    const out = new Map<string, Totals>();
    for (const r of records) {
      const totals = out.get(key(r)) ?? zero();
      add(totals, r);
      out.set(key(r), totals);
    }
    return out;
  };
  const grand = zero();
  for (const r of records) add(grand, r);

  for (const [dimension, name, key] of [
    [SpendDimension.WORKLOAD, "workload", (r: UsageRecord) => r.workload],
    [SpendDimension.BACKEND, "backend", (r: UsageRecord) => r.backend ?? ""],
  ] as const) {
    const { message } = await client.unary(AdminService.method.getSpend, { groupBy: [dimension] });
    const got = new Map<string, Totals>(
      message.rows.map((row) => [
        row.group[name] ?? "",
        {
          requests: Number(row.requests),
          inputTokens: Number(row.inputTokens),
          outputTokens: Number(row.outputTokens),
          costMicroUsd: Number(row.costMicroUsd),
        },
      ]),
    );
    assert.deepEqual(got, sums(key), `GetSpend by ${name} equals the ledger rows`);
    const total = zero();
    for (const row of got.values()) add(total, row);
    assert.deepEqual(total, grand, `GetSpend by ${name} adds up to the ledger's total`);
  }
  const store = replicas[0]!.gateway.store;
  const ungrouped = await store.ledger.spend({
    groupBy: [],
    since: new Date(0),
    until: new Date(Date.now() + 3_600_000),
  });
  assert.equal(ungrouped.length, 1);
  const { requests, inputTokens, outputTokens, costMicroUsd } = ungrouped[0]!;
  assert.deepEqual(
    { requests, inputTokens, outputTokens, costMicroUsd },
    grand,
    "the store's ungrouped spend equals the ledger rows",
  );
}

test("embedded SQLite store: GetSpend totals equal the ledger", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sy-spend-"));
  const gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n  other: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: p }\n" +
        "  docs:\n    targets:\n      - { backend: other, model: q }\n",
    ).replace("store: { type: memory }", `store: { type: sqlite, path: "${join(dir, "sy.db")}" }`) +
      "prices:\n  p: { input: 3, output: 5 }\n  q: { input: 7, output: 11 }\n",
  );
  const c = allClients(gw.url)[1]!;
  try {
    assert.equal(gw.gateway.store.kind, "sqlite");
    const ids: string[] = [];
    for (const [workload, text] of [
      ["chat", "one two"],
      ["chat", "one two three four"],
      ["docs", "alpha"],
      ["docs", "alpha beta gamma"],
      ["docs", "x"],
    ] as const) {
      ids.push((await c.unary(M.generate, { workload, messages: [user(text)] })).message.requestId);
    }
    await assertSpendMatchesLedger([gw], c, ids);
  } finally {
    c.close();
    await gw.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("Redis unreachable: failureMode open serves unmetered, closed refuses with limits_unavailable", async () => {
  const yaml = (mode: "open" | "closed") =>
    configYaml(
      "  echo: { type: echo }\n",
      "  rpm:\n    targets:\n      - { backend: echo, model: r }\n" +
        "  budget:\n    targets:\n      - { backend: echo, model: b }\n",
    ) +
    "prices:\n  b: { input: 1000, output: 0 }\n" +
    `limits:\n  store: { type: redis, url: "redis://127.0.0.1:1", failureMode: ${mode}, commandTimeoutMs: 200 }\n` +
    "  rules:\n    - { scope: workload, match: rpm, requestsPerMinute: 1 }\n" +
    "budgets:\n  - { scope: workload, match: budget, period: day, limitUsd: 0.000001 }\n";
  // Started together: each waits for the unreachable store before giving up on it.
  const [open, closed] = await Promise.all([
    startTestGateway(yaml("open")),
    startTestGateway(yaml("closed")),
  ]);
  const co = allClients(open.url)[1]!;
  const cc = allClients(closed.url)[1]!;
  try {
    // Open: a 1-per-minute limit and a budget too small for any request, yet everything is served.
    for (let i = 0; i < 3; i++) {
      const { message } = await co.unary(M.generate, { workload: "rpm", messages: [user(`r${i}`)] });
      assert.equal(message.text, `r${i}`);
    }
    const budgeted = await co.unary(M.generate, { workload: "budget", messages: [user("spend")] });
    assert.equal(budgeted.message.text, "spend");
    assert.ok(
      open.logs.some((l) => l.msg === "limit store error (absorbed by its failure mode)"),
      "each absorbed failure is logged",
    );
    // Closed: both the rate limit and the budget refuse.
    for (const workload of ["rpm", "budget"]) {
      await assert.rejects(cc.unary(M.generate, { workload, messages: [user("x")] }), (e: ConnectError) => {
        assert.equal(e.code, Code.Unavailable, e.message);
        assert.equal(e.metadata.get("x-switchyard-reason"), "limits_unavailable");
        return true;
      });
    }
  } finally {
    co.close();
    cc.close();
    await Promise.all([open.stop(), closed.stop()]);
  }
});
