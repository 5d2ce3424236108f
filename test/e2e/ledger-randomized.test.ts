// Randomized ledger reconciliation (issue acceptance): thousands of requests mixing successes, caller
// cancels mid-stream, upstream resets before and after output, deadlines, failovers and retries across
// three fake OpenAI upstreams. Afterwards: one ledger row per request that reached an upstream (none for
// the others), and exact-usage rows sum to what the fakes themselves served, class by class (cache reads
// and writes, audio, reasoning), with a cost equal to the fakes' counts × the price list to the micro-USD.
// SWITCHYARD_LEDGER_SEED=<n> replays a run; SWITCHYARD_LEDGER_REQUESTS=<n> makes a bigger one.
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { after, before, test } from "node:test";
import { setImmediate as tick, setTimeout as wait } from "node:timers/promises";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { AdminService, SpendDimension } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import type { UsageRecord } from "../../src/store/store.ts";
import { configYaml, type LogLine, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import {
  type ChatScript,
  type OpenAIFake,
  type RecordedRequest,
  type Script,
  startOpenAIFake,
} from "../upstreams/openai-fake.ts";
import {
  classes,
  costMicro,
  costPico,
  PRICED,
  PRICES_YAML,
  randomUsage,
  type Tier,
  type Usage,
} from "./ledger-randomized-usage.ts";

const SEED = Number(process.env.SWITCHYARD_LEDGER_SEED ?? randomInt(2 ** 31));
const REQUESTS = Number(process.env.SWITCHYARD_LEDGER_REQUESTS ?? 2000);
const CONCURRENCY = 16;
const FAKES = ["a", "b", "c"] as const;
type FakeName = (typeof FAKES)[number];

/** mulberry32: small, seedable, good enough to pick scenarios. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind =
  | "unary-ok"
  | "stream-ok"
  | "stream-cancel"
  | "stream-cut"
  | "failover-reset"
  | "failover-5xx"
  | "retry-same-backend"
  | "hang-failover"
  | "hang-deadline"
  | "all-fail"
  | "upstream-400"
  | "unknown-workload"
  | "empty-messages";
const WEIGHTS: [Kind, number][] = [
  ["unary-ok", 14],
  ["stream-ok", 14],
  ["stream-cancel", 12],
  ["stream-cut", 10],
  ["failover-reset", 10],
  ["failover-5xx", 10],
  ["retry-same-backend", 6],
  ["hang-failover", 3],
  ["hang-deadline", 4],
  ["all-fail", 5],
  ["upstream-400", 3],
  ["unknown-workload", 6],
  ["empty-messages", 3],
];
type Protocol = "grpc" | "connect" | "grpc_web";
/** A chat script reporting every usage class and the tier it served at. */
type Served = ChatScript & { usage: Usage; serviceTier: Tier };

/** One request: what each fake answers it (in order), and what the caller and the ledger must see. */
type Plan = {
  n: number;
  kind: Kind;
  protocol: Protocol;
  workload: string;
  stream: boolean;
  scripts: Record<FakeName, Script[]>;
  /** Allowed statuses in the log line and ledger row. */
  statuses: string[];
  code: Code | undefined;
  reachesUpstream: boolean;
  attempts: number | undefined;
  /** Declared usage and tier of the script that serves a successful request. */
  usage: Usage | undefined;
  tier: Tier | undefined;
  /** The end user the request names ("" for none). */
  endUser: string;
  cancelAfter?: number;
  timeoutMs?: number;
};
type Result = {
  requestId: string | undefined;
  /** Every id the caller saw (header, message or final event, error metadata): all the same one. */
  ids: Set<string>;
  error: ConnectError | undefined;
  deltas: number;
};

function planRequest(n: number, rnd: () => number): Plan {
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let r = rnd() * WEIGHTS.reduce((s, [, w]) => s + w, 0);
  let kind: Kind = "unary-ok";
  for (const [k, w] of WEIGHTS) {
    kind = k;
    r -= w;
    if (r < 0) break;
  }
  const protocol = pick<Protocol>(["grpc", "grpc", "connect", "grpc_web"]);
  const words = (k: number) => Array.from({ length: k }, (_, i) => `${i === 0 ? "" : " "}w${int(0, 99)}`);
  // Every chat script declares its usage (each class random) and tier, so the fakes' own counts can be
  // reconciled with the scripts.
  const chat = (chunks: number, extra: ChatScript = {}): Served =>
    ({
      chunks: words(chunks),
      usage: randomUsage(int, rnd),
      serviceTier: pick<Tier>(["default", "flex"]),
      ...extra,
    }) as Served;
  const ok = () => chat(int(1, 6));
  const fail = (): Script =>
    pick<Script>([{ kind: "reset" }, { kind: "error", status: pick([500, 502, 503]) }]);
  const p: Plan = {
    n,
    kind,
    protocol,
    workload: "chat",
    stream: rnd() < 0.5,
    scripts: { a: [], b: [], c: [] },
    statuses: ["ok"],
    code: undefined,
    reachesUpstream: true,
    attempts: 1,
    usage: undefined,
    tier: undefined,
    endUser: pick(["", "", "u1", "u2", `u${int(3, 9)}`]),
  };
  const serve = (fake: FakeName, attempts: number) => {
    const s = ok();
    p.scripts[fake].push(s);
    p.usage = s.usage;
    p.tier = s.serviceTier;
    p.attempts = attempts;
  };
  switch (kind) {
    case "unary-ok":
      p.stream = false;
      serve("a", 1);
      break;
    case "stream-ok":
      p.stream = true;
      serve("a", 1);
      break;
    case "stream-cancel": {
      // The fake hangs after its content, so only the caller's cancel can end the stream.
      const chunks = int(2, 6);
      p.stream = true;
      p.scripts.a.push(chat(chunks, { hangAfterEvents: 1 + chunks, chunkDelayMs: int(0, 2) }));
      p.cancelAfter = int(1, chunks);
      p.statuses = ["cancelled"];
      p.code = Code.Canceled;
      break;
    }
    case "stream-cut": {
      const chunks = int(2, 6);
      p.stream = true;
      p.scripts.a.push(chat(chunks, { cutAfterEvents: 1 + int(1, chunks) }));
      p.statuses = ["stream_interrupted"];
      p.code = Code.Unavailable;
      break;
    }
    case "failover-reset":
      // Before output: a reset, or (streams) a cut after the role chunk, which carries no content.
      p.scripts.a.push(p.stream && rnd() < 0.5 ? chat(3, { cutAfterEvents: 1 }) : { kind: "reset" });
      serve("b", 2);
      break;
    case "failover-5xx":
      p.scripts.a.push({ kind: "error", status: pick([500, 502, 503]) });
      if (rnd() < 0.5) serve("b", 2);
      else {
        p.scripts.b.push(fail());
        serve("c", 3);
      }
      break;
    case "retry-same-backend":
      // Route "pair" is [b, a] with 3 attempts: the third retries b.
      p.workload = "pair";
      p.scripts.b.push(fail());
      p.scripts.a.push(fail());
      serve("b", 3);
      break;
    case "hang-failover":
      // Route "duo" is [a, b] with 2 attempts: a (which has a successor) may use half the caller's
      // 1.2 s, then b has the rest, plenty even on a loaded machine.
      p.workload = "duo";
      p.scripts.a.push({ kind: "hang" });
      serve("b", 2);
      p.timeoutMs = 1200;
      break;
    case "hang-deadline":
      for (const f of FAKES) p.scripts[f].push({ kind: "hang" });
      p.timeoutMs = int(60, 200);
      // The caller's own timer and the gateway's deadline race: either ends the request.
      p.statuses = ["deadline_exceeded", "cancelled"];
      p.code = Code.DeadlineExceeded;
      p.attempts = undefined;
      break;
    case "all-fail":
      for (const f of FAKES) p.scripts[f].push(fail());
      p.statuses = ["upstream_unavailable"];
      p.code = Code.Unavailable;
      p.attempts = 3;
      break;
    case "upstream-400":
      p.scripts.a.push({ kind: "error", status: 400 });
      p.statuses = ["upstream_rejected_request"];
      p.code = Code.InvalidArgument;
      break;
    case "unknown-workload":
      p.workload = `nope-${n % 7}`;
      p.statuses = ["unknown_workload"];
      p.code = Code.NotFound;
      p.reachesUpstream = false;
      p.attempts = 0;
      break;
    case "empty-messages":
      p.statuses = ["empty_messages"];
      p.code = Code.InvalidArgument;
      p.reachesUpstream = false;
      p.attempts = 0;
      break;
  }
  return p;
}

const transports = (url: string): Record<Protocol, Transport> => ({
  grpc: createGrpcTransport({ baseUrl: url }),
  connect: createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
  grpc_web: createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }),
});

async function run(plan: Plan, client: ReturnType<typeof createClient<typeof InferenceService>>) {
  const result: Result = { requestId: undefined, ids: new Set(), error: undefined, deltas: 0 };
  const seen = (id: string | null | undefined) => {
    if (!id) return;
    result.ids.add(id);
    result.requestId ??= id;
  };
  const text = `scenario sc-${plan.n} please answer`;
  const messages =
    plan.kind === "empty-messages"
      ? []
      : [{ role: Role.USER, content: [{ part: { case: "text" as const, value: text } }] }];
  const req = { workload: plan.workload, messages, endUserId: plan.endUser };
  const abort = new AbortController();
  const options = {
    onHeader: (h: Headers) => seen(h.get("x-request-id")),
    signal: abort.signal,
    ...(plan.timeoutMs === undefined ? {} : { timeoutMs: plan.timeoutMs }),
  };
  try {
    if (!plan.stream) seen((await client.generate(req, options)).requestId);
    else {
      for await (const m of client.generateStream(req, options)) {
        if (m.event.case === "final") seen(m.event.value.requestId);
        if (m.event.case === "textDelta" && !abort.signal.aborted && ++result.deltas === plan.cancelAfter)
          abort.abort();
      }
    }
  } catch (e) {
    result.error = ConnectError.from(e);
    // A gRPC trailers-only error carries the id twice ("id, id"): header and trailer merged.
    seen(result.error.metadata.get("x-request-id")?.split(",")[0]?.trim());
  }
  return result;
}

let fakes: Record<FakeName, OpenAIFake>;
let gw: TestGateway;
const plans = new Map<number, Plan>();
const scriptOf = new Map<RecordedRequest, Script>();
const unexpected: string[] = [];

before(async () => {
  fakes = { a: await startOpenAIFake(), b: await startOpenAIFake(), c: await startOpenAIFake() };
  for (const name of FAKES) {
    fakes[name].setDefault((rec) => {
      const n = Number(/sc-(\d+)/.exec(JSON.stringify(rec.body))?.[1]);
      const script = plans.get(n)?.scripts[name].shift();
      if (script === undefined) {
        unexpected.push(`fake ${name} got an unplanned call for scenario ${n} (${plans.get(n)?.kind})`);
        return { kind: "error", status: 500 };
      }
      scriptOf.set(rec, script);
      return script;
    });
  }
  const backend = (name: FakeName) =>
    `  ${name}:\n    type: openai\n    baseUrl: ${fakes[name].url}/v1\n    breaker: { volumeThreshold: 1000000 }\n`;
  const route = (targets: FakeName[], maxAttempts = 3) =>
    `    strategy: priority\n    retry: { maxAttempts: ${maxAttempts}, backoffBaseMs: 0 }\n` +
    "    timeouts: { totalMs: 10000, ttftMs: 5000, streamIdleMs: 5000 }\n    targets:\n" +
    targets.map((t) => `      - { backend: ${t}, model: gpt-4o-mini }\n`).join("");
  gw = await startTestGateway(
    // No load shedding: on a loaded machine it refuses a share of the calls, which this test would
    // count as requests without a log line (shedding has its own tests).
    `${configYaml(FAKES.map(backend).join(""), `  chat:\n${route(["a", "b", "c"])}  pair:\n${route(["b", "a"])}  duo:\n${route(["a", "b"], 2)}`, "  limits: { maxEventLoopLagMs: 0 }\n")}` +
      "routing: { retryBudgetPercent: 100, minRetryConcurrency: 1000 }\n" +
      PRICES_YAML,
  );
});

after(async () => {
  await gw.stop();
  await Promise.all(FAKES.map((f) => fakes[f].close()));
});

const requestLines = () =>
  gw.logs.filter((l) => l.msg === "request" || l.msg === "request failed unexpectedly");
/** Calls that ended while their body was still arriving (e.g. a short deadline on a busy gateway). */
const unreadLines = () => gw.logs.filter((l) => l.msg === "request ended before it was read");

/** Polls (bounded) for work that finishes after the caller has its answer, e.g. a cancel's settlement. */
async function until(what: string, ready: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ready(); i++) await (i < 50 ? tick() : wait(10));
  assert.ok(ready(), `timed out waiting for ${what}`);
}

test(`randomized ledger reconciliation: ${REQUESTS} requests, seed ${SEED}`, async (t) => {
  t.diagnostic(`seed ${SEED} (replay with SWITCHYARD_LEDGER_SEED=${SEED})`);
  const since = new Date(Date.now() - 1000);
  const rnd = prng(SEED);
  for (let n = 0; n < REQUESTS; n++) plans.set(n, planRequest(n, rnd));
  const clients = Object.fromEntries(
    Object.entries(transports(gw.url)).map(([k, tr]) => [k, createClient(InferenceService, tr)]),
  ) as Record<Protocol, ReturnType<typeof createClient<typeof InferenceService>>>;

  const results = new Map<number, Result>();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const plan = plans.get(next++)!;
        results.set(plan.n, await run(plan, clients[plan.protocol]));
      }
    }),
  );
  // A gRPC-Web call (served by connect-node) whose deadline passes before connect-node has read its
  // body is answered there without reaching the service: no request line. Only such calls (a
  // deadline, no id learnt) may lack one; they reached no upstream (the fakes' counts check that).
  const idlessWeb = () =>
    [...results].filter(([n, r]) => {
      const plan = plans.get(n)!;
      return r.requestId === undefined && plan.timeoutMs !== undefined && plan.protocol === "grpc_web";
    }).length;
  await until(
    "one request log line per request",
    () => requestLines().length + unreadLines().length >= REQUESTS - idlessWeb(),
  );
  await wait(200); // stragglers of those idless calls, if they have a line after all
  await gw.gateway.ledger.flush();
  const hung = () => FAKES.flatMap((f) => fakes[f].requests.filter((r) => scriptOf.get(r)?.kind === "hang"));
  await until("every hung upstream call to be abandoned", () => hung().every((r) => r.aborted));
  const elapsed = Math.round(performance.now() - started);

  const lines = requestLines();
  const byId = new Map<string, LogLine>();
  for (const line of lines) {
    assert.ok(!byId.has(String(line.requestId)), `one log line per request (${String(line.requestId)})`);
    byId.set(String(line.requestId), line);
  }
  // A call whose deadline passed before its body arrived never got an id: it is logged as unread, and
  // only a caller that set a deadline and learnt no id can be one of those.
  const unread = unreadLines();
  const idless = [...results].filter(([n, r]) => r.requestId === undefined && plans.get(n)!.timeoutMs);
  assert.ok(unread.length <= idless.length, `${unread.length} unread calls, ${idless.length} without an id`);
  // Our deadline, or the caller's own timer resetting the call a moment before ours fired.
  for (const line of unread)
    assert.ok(
      ["deadline_exceeded", "cancelled"].includes(String(line.reason)),
      `unread: ${String(line.reason)}`,
    );
  const missing = REQUESTS - lines.length - unread.length;
  assert.ok(
    missing >= 0 && missing <= idlessWeb(),
    `every request has exactly one log line (${missing} missing, ${idlessWeb()} idless gRPC-Web calls may be)`,
  );
  if (missing > 0)
    t.diagnostic(`${missing} gRPC-Web calls ended by their deadline before connect-node read them`);
  assert.deepEqual(unexpected, [], "every upstream call was planned");

  // (a) one row per request that reached an upstream, and (b) none for the others.
  const reached = lines.filter((l) => Number(l.attempts) > 0);
  const rows = new Map<string, UsageRecord>();
  for (const line of lines) {
    const row = await gw.gateway.store.ledger.get(String(line.requestId));
    if (Number(line.attempts) > 0) {
      assert.ok(row, `a ledger row for ${String(line.requestId)} (${String(line.status)})`);
      assert.equal(row.attempts, line.attempts);
      assert.equal(row.status, line.status, "the ledger and the log agree on the outcome");
      rows.set(row.requestId, row);
    } else assert.equal(row, undefined, `no row for ${String(line.requestId)}: it reached no upstream`);
  }
  const [total] = await gw.gateway.store.ledger.spend({
    groupBy: [],
    since,
    until: new Date(Date.now() + 60_000),
  });
  assert.equal(total?.requests, reached.length, "ledger rows = requests that reached an upstream");
  assert.equal(rows.size, reached.length);

  // (d) nothing unexpected.
  const internal = [...rows.values()].filter((r) => r.status === "internal");
  assert.deepEqual(
    internal.map((r) => r.requestId),
    [],
    "no row has status internal",
  );

  // Per request, where the caller learnt its id: the outcome the scenario planned.
  const counts = new Map<string, number>();
  let knownIds = 0;
  for (const [n, result] of results) {
    const plan = plans.get(n)!;
    counts.set(plan.kind, (counts.get(plan.kind) ?? 0) + 1);
    const what = `scenario ${n} (${plan.kind} over ${plan.protocol}${plan.stream ? ", stream" : ""})`;
    assert.equal(result.error?.code, plan.code, `${what}: ${result.error?.message ?? "succeeded"}`);
    if (plan.kind === "stream-cancel") assert.equal(result.deltas, plan.cancelAfter, what);
    if (result.requestId === undefined) {
      assert.ok(plan.timeoutMs !== undefined, `${what}: the caller learns the request id`);
      continue;
    }
    knownIds++;
    assert.equal(result.ids.size, 1, `${what}: one request id everywhere (${[...result.ids].join(" / ")})`);
    const line = byId.get(result.requestId);
    assert.ok(line, `${what}: logged`);
    assert.ok(plan.statuses.includes(String(line.status)), `${what}: status ${String(line.status)}`);
    if (plan.attempts !== undefined) assert.equal(line.attempts, plan.attempts, `${what}: attempts`);
    const row = rows.get(result.requestId);
    assert.equal(row !== undefined, plan.reachesUpstream, `${what}: a row iff it reached an upstream`);
    if (row) assert.equal(row.endUserId, plan.endUser || null, `${what}: the end user it named`);
    if (row && plan.usage && plan.tier) {
      const u = plan.usage;
      assert.deepEqual(
        [
          row.accuracy,
          row.inputTokens,
          row.outputTokens,
          row.cachedInputTokens,
          row.cacheWriteTokens,
          row.audioInputTokens,
          row.reasoningTokens,
          row.serviceTier,
        ],
        [
          "exact",
          u.prompt_tokens,
          u.completion_tokens,
          u.cached_tokens,
          u.cache_write_tokens,
          u.audio_tokens,
          u.reasoning_tokens,
          plan.tier,
        ],
        `${what}: the provider's usage, class by class, and its tier`,
      );
      const fake = row.backend as FakeName;
      assert.equal(
        row.costMicroUsd,
        costMicro(PRICED[fake], u, plan.tier),
        `${what}: the cost of that usage`,
      );
    } else if (row) assert.equal(row.accuracy, "estimated", `${what}: no usage reached the gateway`);
  }

  // (c) exact rows sum to what the fakes served in full (unary answers and streams run to [DONE]), in
  // every class, and cost what an invoice of those counts at the price list says.
  let servedPrompt = 0;
  const full = { prompt: 0, completion: 0, cacheRead: 0, cacheWrite: 0, audio: 0, reasoning: 0 };
  let fullCostMicro = 0;
  /** Backend a's invoice: per tier, the tokens of each class summed first, then priced (no rounding). */
  const invoiceA = { default: zeroClasses(), flex: zeroClasses() };
  let requestsA = { default: 0, flex: 0 };
  for (const f of FAKES) {
    servedPrompt += fakes[f].served.promptTokens;
    for (const rec of fakes[f].requests) {
      const script = scriptOf.get(rec) as Served | undefined;
      if (script === undefined || script.kind !== undefined || !rec.completed) continue;
      const u = script.usage;
      full.prompt += u.prompt_tokens;
      full.completion += u.completion_tokens;
      full.cacheRead += u.cached_tokens;
      full.cacheWrite += u.cache_write_tokens;
      full.audio += u.audio_tokens;
      full.reasoning += u.reasoning_tokens;
      fullCostMicro += costMicro(PRICED[f], u, script.serviceTier);
      if (f === "a") {
        for (const [k, v] of Object.entries(classes(u)))
          invoiceA[script.serviceTier][k as keyof Classes] += v;
        requestsA = { ...requestsA, [script.serviceTier]: requestsA[script.serviceTier] + 1 };
      }
    }
  }
  const exact = [...rows.values()].filter((r) => r.accuracy === "exact");
  const statuses = new Map<string, number>();
  for (const r of rows.values()) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  const declaredPrompt = FAKES.flatMap((f) => fakes[f].requests)
    .map((rec) => scriptOf.get(rec))
    .reduce((s, sc) => s + (sc?.kind === undefined ? (sc?.usage?.prompt_tokens ?? 0) : 0), 0);
  assert.equal(servedPrompt, declaredPrompt, "the fakes' own prompt count matches the scripts they ran");
  const sum = (rs: UsageRecord[], f: (r: UsageRecord) => number) => rs.reduce((s, r) => s + f(r), 0);
  assert.deepEqual(
    {
      prompt: sum(exact, (r) => r.inputTokens),
      completion: sum(exact, (r) => r.outputTokens),
      cacheRead: sum(exact, (r) => r.cachedInputTokens),
      cacheWrite: sum(exact, (r) => r.cacheWriteTokens),
      audio: sum(exact, (r) => r.audioInputTokens),
      reasoning: sum(exact, (r) => r.reasoningTokens),
    },
    full,
    "exact ledger tokens = tokens the fakes served in full, class by class",
  );
  assert.equal(
    sum(exact, (r) => r.costMicroUsd ?? 0),
    fullCostMicro,
    "exact cost = the fakes' counts × prices",
  );
  const exactA = exact.filter((r) => r.backend === "a");
  const invoice = (tier: Tier) =>
    costPico(PRICED.a, usageOfClasses(invoiceA[tier]), tier) +
    BigInt(requestsA[tier] - 1) * (tier === "flex" ? PRICED.a.flex : PRICED.a.base).perRequest;
  assert.equal(
    BigInt(sum(exactA, (r) => r.costMicroUsd ?? 0)) * 1_000_000n,
    (requestsA.default > 0 ? invoice("default") : 0n) + (requestsA.flex > 0 ? invoice("flex") : 0n),
    "backend a (whole micro-USD rates): its rows sum to its invoice, tokens summed per class and tier, then priced",
  );
  assert.ok(
    exact.some((r) => r.serviceTier === "flex") && exact.some((r) => r.reasoningTokens > 0),
    "the run mixed tiers and classes",
  );

  // GetSpend over the wire: fields 6–10 and the end-user / tier dimensions, as the ledger rows say.
  const admin = createClient(AdminService, transports(gw.url).connect);
  const { rows: spendRows } = await admin.getSpend({
    groupBy: [SpendDimension.END_USER, SpendDimension.SERVICE_TIER],
    startTime: { seconds: BigInt(Math.floor(since.getTime() / 1000)), nanos: 0 },
  });
  const all = [...rows.values()];
  const groups = new Set(all.map((r) => `${r.endUserId ?? ""}|${r.serviceTier ?? ""}`));
  assert.equal(spendRows.length, groups.size, "one spend row per end user and tier");
  for (const sr of spendRows) {
    const mine = all.filter(
      (r) => (r.endUserId ?? "") === sr.group.end_user && (r.serviceTier ?? "") === sr.group.service_tier,
    );
    assert.deepEqual(
      [
        sr.requests,
        sr.inputTokens,
        sr.outputTokens,
        sr.cacheReadTokens,
        sr.cacheWriteTokens,
        sr.reasoningTokens,
      ]
        .concat([sr.audioInputTokens, sr.imageInputTokens, BigInt(sr.costMicroUsd)])
        .map(Number),
      [
        mine.length,
        sum(mine, (r) => r.inputTokens),
        sum(mine, (r) => r.outputTokens),
        sum(mine, (r) => r.cachedInputTokens),
        sum(mine, (r) => r.cacheWriteTokens),
        sum(mine, (r) => r.reasoningTokens),
        sum(mine, (r) => r.audioInputTokens),
        sum(mine, (r) => r.imageInputTokens),
        sum(mine, (r) => r.costMicroUsd ?? 0),
      ],
      `GetSpend row ${JSON.stringify(sr.group)}`,
    );
  }
  assert.ok(exact.length > 0 && exact.length < rows.size, "the run mixed exact and estimated rows");
  for (const kind of WEIGHTS.map(([k]) => k)) {
    if (REQUESTS >= 500) assert.ok((counts.get(kind) ?? 0) > 0, `the run included ${kind}`);
  }
  t.diagnostic(
    `${REQUESTS} requests in ${elapsed} ms: ${reached.length} reached an upstream (${exact.length} exact), ` +
      `${knownIds} ids known to callers; scenarios: ${[...counts].map(([k, c]) => `${k} ${c}`).join(", ")}; ` +
      `ledger statuses: ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
});

type Classes = ReturnType<typeof classes>;

function zeroClasses(): Classes {
  return { input: 0, cacheRead: 0, cacheWrite: 0, audioInput: 0, output: 0, reasoning: 0 };
}

/** A usage whose classes are `c` (to price a sum of classes like one request). */
function usageOfClasses(c: Classes): Usage {
  return {
    prompt_tokens: c.input + c.cacheRead + c.cacheWrite + c.audioInput,
    completion_tokens: c.output + c.reasoning,
    cached_tokens: c.cacheRead,
    cache_write_tokens: c.cacheWrite,
    audio_tokens: c.audioInput,
    reasoning_tokens: c.reasoning,
  };
}

test("an error's x-request-id metadata names the request once", async () => {
  const client = createClient(InferenceService, transports(gw.url).grpc);
  const error = await client
    .generate({
      workload: "nope",
      messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "hi" } }] }],
    })
    .then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
  assert.equal(error?.code, Code.NotFound);
  assert.match(error.metadata.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
});
