// Fault matrix: for each upstream fault of the primary, with a healthy secondary, what the caller sees
// (unary Generate and streaming GenerateStream over gRPC through connect-node), how many attempts were
// made, how long it took against the route's deadline, and that no upstream request is left open.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { before, describe, test } from "node:test";
import type { ConnectError } from "@connectrpc/connect";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import {
  type GenerateStreamResponse,
  InferenceService,
} from "../../gen/switchyard/v1/inference_service_pb.ts";
import { AttemptOutcome, type RoutingInfo } from "../../gen/switchyard/v1/routing_pb.ts";
import { allClients, Code, type TestClient } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, type Script, startOpenAIFake } from "../upstreams/openai-fake.ts";

const M = InferenceService.method;
const MAX_ATTEMPTS = 3;
/** Slack allowed on top of a deadline for the gateway to answer and the client to see it. */
const SLACK_MS = 100;
const request = {
  workload: "chat",
  messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: "q" } }] }],
};

type Rig = {
  gw: TestGateway;
  primary: OpenAIFake;
  secondary: OpenAIFake;
  client: TestClient;
  close(): Promise<void>;
};

type RigOptions = {
  /** The primary's baseUrl points at a closed loopback port (connection refused). */
  refused?: boolean;
  /** The route's `timeouts` block (YAML flow mapping). */
  timeouts?: string;
  /** The primary backend's `breaker` block (YAML flow mapping). */
  breaker?: string;
};

/** A port nothing listens on: bind port 0, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A fresh gateway and fresh fakes per case, so no breaker, cool-down or budget state leaks between cases. */
async function startRig(options: RigOptions = {}): Promise<Rig> {
  const primary = await startOpenAIFake();
  const secondary = await startOpenAIFake();
  const primaryUrl = options.refused ? `http://127.0.0.1:${await closedPort()}` : primary.url;
  const breaker = options.breaker ? `    breaker: ${options.breaker}\n` : "";
  const gw = await startTestGateway(
    configYaml(
      `  primary:\n    type: openai\n    baseUrl: ${primaryUrl}/v1\n${breaker}` +
        `  secondary:\n    type: openai\n    baseUrl: ${secondary.url}/v1\n`,
      "  chat:\n    targets:\n" +
        "      - { backend: primary, model: gpt-4o-mini }\n" +
        "      - { backend: secondary, model: backup-model }\n" +
        `    retry: { maxAttempts: ${MAX_ATTEMPTS}, backoffBaseMs: 0 }\n` +
        `    timeouts: ${options.timeouts ?? "{ totalMs: 1500, ttftMs: 300 }"}\n`,
    ),
  );
  const client = allClients(gw.url)[1]!; // gRPC through connect-node
  assert.equal(client.name, "grpc-connect-node");
  return {
    gw,
    primary,
    secondary,
    client,
    async close() {
      client.close();
      await gw.stop();
      await primary.close();
      await secondary.close();
    },
  };
}

/** One throwaway request of each kind first, so JIT compilation does not count against a case's deadline. */
before(async () => {
  const rig = await startRig();
  try {
    rig.primary.enqueue({ text: "warm" }, { chunks: ["warm"] });
    await rig.client.unary(M.generate, request);
    await rig.client.serverStream(M.generateStream, request);
  } finally {
    await rig.close();
  }
});

/**
 * No upstream request is left in use: each one the fake recorded either completed or was aborted by
 * the gateway. `cut` lists requests the fake dropped itself (reset, cut mid-stream): those are neither,
 * and their socket is already destroyed by the fake.
 */
function assertSettled(fake: OpenAIFake, label: string, cut: number[] = []): void {
  for (const [i, r] of fake.requests.entries()) {
    if (cut.includes(i)) {
      assert.ok(!r.completed && !r.aborted, `${label} request #${i} was dropped by the fake itself`);
    } else {
      assert.ok(r.completed || r.aborted, `${label} request #${i} is still in use`);
    }
  }
}

function assertWithin(started: number, deadlineMs: number): number {
  const elapsed = performance.now() - started;
  assert.ok(elapsed <= deadlineMs + SLACK_MS, `took ${Math.round(elapsed)} ms, deadline ${deadlineMs} ms`);
  return elapsed;
}

/** The routing info of a request the secondary served after the primary failed with `kind`. */
function assertFailover(routing: RoutingInfo | undefined, kind: string): void {
  assert.ok(routing, "routing info is present");
  assert.equal(routing.backend, "secondary");
  assert.equal(routing.attempts, 2);
  assert.ok(routing.attempts <= MAX_ATTEMPTS);
  assert.deepEqual(
    routing.attemptDetails.map((a) => [a.backend, a.outcome, a.errorKind]),
    [
      ["primary", AttemptOutcome.FAILED, kind],
      ["secondary", AttemptOutcome.SUCCESS, ""],
    ],
  );
  assert.match(routing.reason, new RegExp(`primary failed \\(${kind}\\)`));
}

function textOf(messages: GenerateStreamResponse[]): string {
  return messages.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value.text] : [])).join("");
}

type FailoverCase = {
  name: string;
  /** The primary's script; undefined with `refused`. */
  fault?: Script;
  refused?: boolean;
  /** The error kind recorded for the primary's attempt. */
  kind: string;
  /** The fake dropped the primary's connection itself. */
  cut?: boolean;
  /** The gateway aborts the primary's request (its attempt timed out). */
  aborted?: boolean;
  /** The route's timeouts block and its totalMs (the deadline the wall time is checked against). */
  timeouts?: string;
  totalMs?: number;
  /** Lower bound of the primary attempt's duration (its timeout), per mode. */
  minPrimaryMs?: { unary: number; stream: number };
  /** Streaming only (the fake's unary answers are not SSE, so cuts and drips do not apply). */
  streamOnly?: boolean;
};

const failovers: FailoverCase[] = [
  { name: "HTTP 500", fault: { kind: "error", status: 500 }, kind: "unavailable" },
  { name: "HTTP 502", fault: { kind: "error", status: 502 }, kind: "unavailable" },
  { name: "HTTP 503", fault: { kind: "error", status: 503 }, kind: "overloaded" },
  {
    name: "HTTP 429 with retry-after-ms",
    fault: {
      kind: "error",
      status: 429,
      fixture: "rate_limit_exceeded",
      headers: { "retry-after-ms": "5000" },
    },
    kind: "rate_limited",
  },
  { name: "HTTP 529", fault: { kind: "error", status: 529 }, kind: "overloaded" },
  { name: "connection refused", refused: true, kind: "unavailable" },
  { name: "reset before headers", fault: { kind: "reset" }, kind: "unavailable", cut: true },
  {
    // Unary: the primary has a successor, so it gets attemptShare (0.5) of totalMs 1500 = 750 ms.
    // Streaming: min(ttftMs 300, 750) = 300 ms to its first event.
    name: "hang until the attempt's timeout",
    fault: { kind: "hang" },
    kind: "timeout",
    aborted: true,
    timeouts: "{ totalMs: 1500, ttftMs: 300 }",
    totalMs: 1500,
    minPrimaryMs: { unary: 750, stream: 300 },
  },
  {
    // cutAfterEvents 1: only the role chunk (no content) went out, so the stream is not committed.
    name: "cut before any content event",
    fault: { chunks: ["never ", "seen"], cutAfterEvents: 1 },
    kind: "unavailable",
    cut: true,
    streamOnly: true,
  },
];

describe("fault matrix: the primary fails before output, the secondary serves", () => {
  for (const c of failovers) {
    const totalMs = c.totalMs ?? 1500;
    const timeouts = c.timeouts ?? `{ totalMs: ${totalMs}, ttftMs: 300 }`;

    const checkUpstreams = async (rig: Rig) => {
      if (c.aborted) await rig.primary.waitForAbort(0);
      if (c.refused) assert.equal(rig.primary.requests.length, 0);
      else assert.equal(rig.primary.requests.length, 1, "the primary was tried once");
      assert.equal(rig.secondary.requests.length, 1);
      assertSettled(rig.primary, "primary", c.cut ? [0] : []);
      assertSettled(rig.secondary, "secondary");
      if (c.aborted) assert.equal(rig.primary.requests[0]?.aborted, true);
    };

    if (!c.streamOnly) {
      test(`${c.name}: unary`, async () => {
        const rig = await startRig({ timeouts, ...(c.refused ? { refused: true } : {}) });
        try {
          if (c.fault) rig.primary.enqueue(c.fault);
          rig.secondary.enqueue({ text: "from backup" });
          const started = performance.now();
          const { message, trailers } = await rig.client.unary(M.generate, request);
          assertWithin(started, totalMs);
          assert.equal(message.text, "from backup");
          assertFailover(message.routing, c.kind);
          assert.equal(trailers.get("x-switchyard-attempts"), "2");
          assert.equal(trailers.get("x-switchyard-backend"), "secondary");
          if (c.minPrimaryMs) {
            const primaryMs = message.routing?.attemptDetails[0]?.durationMs ?? 0;
            assert.ok(primaryMs >= c.minPrimaryMs.unary - 5, `primary attempt took ${primaryMs} ms`);
          }
          await checkUpstreams(rig);
        } finally {
          await rig.close();
        }
      });
    }

    test(`${c.name}: streaming`, async () => {
      const rig = await startRig({ timeouts, ...(c.refused ? { refused: true } : {}) });
      try {
        if (c.fault) rig.primary.enqueue(c.fault);
        rig.secondary.enqueue({ chunks: ["from ", "backup"] });
        const started = performance.now();
        const { messages, trailers } = await rig.client.serverStream(M.generateStream, request);
        assertWithin(started, totalMs);
        assert.equal(textOf(messages), "from backup");
        const attempts = messages.flatMap((m) => (m.event.case === "attempt" ? [m.event.value] : []));
        assert.deepEqual(
          attempts.map((a) => [a.attempt, a.backend]),
          [
            [1, "primary"],
            [2, "secondary"],
          ],
        );
        assert.notEqual(attempts[1]?.previousError, "", "the failover says why");
        const commits = messages.flatMap((m) => (m.event.case === "commit" ? [m.event.value] : []));
        assert.deepEqual(
          commits.map((m) => [m.attempt, m.backend]),
          [[2, "secondary"]],
        );
        const final = messages.at(-1)?.event;
        assert.equal(final?.case, "final");
        if (final?.case === "final") {
          assertFailover(final.value.routing, c.kind);
          if (c.minPrimaryMs) {
            const primaryMs = final.value.routing?.attemptDetails[0]?.durationMs ?? 0;
            assert.ok(primaryMs >= c.minPrimaryMs.stream - 5, `primary attempt took ${primaryMs} ms`);
          }
        }
        assert.equal(trailers.get("x-switchyard-attempts"), "2");
        await checkUpstreams(rig);
      } finally {
        await rig.close();
      }
    });
  }
});

describe("fault matrix: the primary fails after output began (streaming)", () => {
  type CommittedCase = {
    name: string;
    fault: Script;
    timeouts: string;
    totalMs: number;
    /** The fake dropped the connection itself (cut), or the gateway aborted it (idle timeout). */
    ended: "cut" | "aborted";
  };
  const cases: CommittedCase[] = [
    {
      name: "cut after a content event",
      fault: { chunks: ["one ", "two ", "three"], cutAfterEvents: 2 },
      timeouts: "{ totalMs: 1500, ttftMs: 300 }",
      totalMs: 1500,
      ended: "cut",
    },
    {
      // Role chunk at once, "one " after 600 ms (within ttftMs 1000 and half of totalMs): commit; then
      // nothing for 600 ms > streamIdleMs 200: the gateway aborts the upstream and ends the stream.
      name: "slow drip beyond the stream-idle timeout",
      fault: { chunks: ["one ", "two ", "three"], chunkDelayMs: 600 },
      timeouts: "{ totalMs: 3000, ttftMs: 1000, streamIdleMs: 200 }",
      totalMs: 3000,
      ended: "aborted",
    },
  ];

  for (const c of cases) {
    test(`${c.name}: UNAVAILABLE / stream_interrupted with the text so far, no failover`, async () => {
      const rig = await startRig({ timeouts: c.timeouts });
      try {
        rig.primary.enqueue(c.fault);
        rig.secondary.enqueue({ text: "must not be used" });
        const got: GenerateStreamResponse[] = [];
        const started = performance.now();
        const error = await rig.client
          .serverStream(M.generateStream, request, { onMessage: (m) => got.push(m) })
          .then(
            () => assert.fail("expected the stream to fail"),
            (e: ConnectError) => e,
          );
        assertWithin(started, c.totalMs);
        assert.equal(error.code, Code.Unavailable, error.message);
        assert.equal(error.metadata.get("x-switchyard-reason"), "stream_interrupted");
        assert.match(error.message, /failed after output began/);
        const attempts = Number(error.metadata.get("x-switchyard-attempts"));
        assert.equal(attempts, 1);
        assert.ok(attempts <= MAX_ATTEMPTS);
        assert.equal(textOf(got), "one ", "the caller keeps the text so far");
        assert.deepEqual(
          got.flatMap((m) => (m.event.case === "commit" ? [m.event.value.backend] : [])),
          ["primary"],
        );
        assert.equal(rig.secondary.requests.length, 0, "no failover after commit");
        if (c.ended === "aborted") await rig.primary.waitForAbort(0);
        assert.equal(rig.primary.requests.length, 1);
        assertSettled(rig.primary, "primary", c.ended === "cut" ? [0] : []);
        const line = rig.gw.logs.findLast((l) => l.msg === "request");
        assert.equal(line?.status, "stream_interrupted");
        assert.equal(line?.committed, true);
      } finally {
        await rig.close();
      }
    });
  }
});

describe("fault matrix: breaker", () => {
  const breaker = "{ volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60000 }";

  test("429s never open the breaker: past volumeThreshold the primary is still tried", async () => {
    const rig = await startRig({ breaker });
    try {
      // No Retry-After (body without the fixture's headers), so only the breaker could skip the primary.
      const limited: Script = {
        kind: "error",
        status: 429,
        body: { error: { message: "slow down", type: "requests", param: null, code: "rate_limit_exceeded" } },
      };
      for (let i = 0; i < 5; i++) {
        rig.primary.enqueue(limited);
        rig.secondary.enqueue({ text: "from backup" });
        const { message } = await rig.client.unary(M.generate, request);
        assertFailover(message.routing, "rate_limited");
      }
      rig.primary.enqueue({ text: "from primary" });
      const { message } = await rig.client.unary(M.generate, request);
      assert.equal(message.text, "from primary");
      assert.equal(message.routing?.backend, "primary");
      assert.equal(message.routing?.attempts, 1);
      assert.equal(rig.primary.requests.length, 6, "the 6th request reached the primary");
      assert.ok(!rig.gw.logs.some((l) => l.breaker === "open"), "the breaker never opened");
      assertSettled(rig.primary, "primary");
      assertSettled(rig.secondary, "secondary");
    } finally {
      await rig.close();
    }
  });

  test("5xx errors open the breaker: after volumeThreshold failures the primary is skipped", async () => {
    const rig = await startRig({ breaker });
    try {
      for (let i = 0; i < 3; i++) {
        rig.primary.enqueue({ kind: "error", status: 500 });
        rig.secondary.enqueue({ text: "from backup" });
        const { message } = await rig.client.unary(M.generate, request);
        assertFailover(message.routing, "unavailable");
      }
      assert.ok(
        rig.gw.logs.some((l) => l.breaker === "open" && l.backend === "primary"),
        "the breaker opened",
      );
      rig.primary.enqueue({ text: "must not be used" });
      rig.secondary.enqueue({ text: "from backup" });
      const { message } = await rig.client.unary(M.generate, request);
      assert.equal(message.text, "from backup");
      assert.equal(message.routing?.backend, "secondary");
      assert.equal(message.routing?.attempts, 1, "no attempt at the primary");
      assert.match(message.routing?.reason ?? "", /skipped primary \(circuit open\)/);
      assert.equal(rig.primary.requests.length, 3, "the primary saw no new request");
      const line = rig.gw.logs.findLast((l) => l.msg === "request");
      assert.deepEqual(line?.skipped, [{ backend: "primary", model: "gpt-4o-mini", reason: "circuit open" }]);
      assertSettled(rig.primary, "primary");
      assertSettled(rig.secondary, "secondary");
    } finally {
      await rig.close();
    }
  });

  test("a Retry-After cool-down skips the primary for the next request, without the breaker", async () => {
    const rig = await startRig({ breaker });
    try {
      rig.primary.enqueue({
        kind: "error",
        status: 429,
        fixture: "rate_limit_exceeded",
        headers: { "retry-after-ms": "5000" },
      });
      rig.secondary.enqueue({ text: "from backup" }, { text: "from backup" });
      const first = await rig.client.unary(M.generate, request);
      assertFailover(first.message.routing, "rate_limited");
      const { message } = await rig.client.unary(M.generate, request);
      assert.equal(message.routing?.backend, "secondary");
      assert.equal(message.routing?.attempts, 1);
      assert.match(
        message.routing?.reason ?? "",
        /skipped primary \(rate limited for \d+ ms more \(Retry-After\)\)/,
      );
      assert.equal(rig.primary.requests.length, 1);
      assertSettled(rig.primary, "primary");
      assertSettled(rig.secondary, "secondary");
    } finally {
      await rig.close();
    }
  });
});
