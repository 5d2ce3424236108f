import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Http2Session } from "node:http2";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { startGuardServer } from "../../examples/guard-server.ts";
import {
  type CheckRequest,
  CheckResponseSchema,
  GuardService,
  Stage,
  Verdict,
} from "../../gen/switchyard/guard/v1/guard_service_pb.ts";
import { createExternalGuard, type GuardCheckInput, verdictOf } from "../../src/guardrails/external-guard.ts";
import { eventually, within } from "../helpers/wait.ts";

// Shaped like a real key (mixed case), as secrets mostly are.
const CANARY = "sk-Canary_7f3A9c1e-guard";
const who = { requestId: "req-1", team: "team-a", workload: "chat", model: "m-1" };
const input = (...texts: string[]): GuardCheckInput => ({
  ...who,
  stage: "input",
  segments: texts.map((text) => ({ role: "user", text })),
});

type Answer = MessageInitShape<typeof CheckResponseSchema>;
type Handler = (request: CheckRequest, ctx: HandlerContext, server: Scripted) => Promise<Answer> | Answer;
type Seen = { request: CheckRequest; headers: Headers; timeoutMs: number | undefined; signal: AbortSignal };
type Scripted = { url: string; seen: Seen[]; destroySockets(): void; close(): Promise<void> };

/** A GuardService on a loopback port (connect-node router) whose answer each test scripts. */
async function scriptedGuard(handler: Handler): Promise<Scripted> {
  const seen: Seen[] = [];
  const sessions = new Set<Http2Session>();
  const routes = (router: ConnectRouter) => {
    router.service(GuardService, {
      check: async (request, ctx) => {
        seen.push({ request, headers: ctx.requestHeader, timeoutMs: ctx.timeoutMs(), signal: ctx.signal });
        return create(CheckResponseSchema, await handler(request, ctx, scripted));
      },
    });
  };
  const server = createServer(connectNodeAdapter({ routes }));
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const scripted: Scripted = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    destroySockets: () => {
      for (const session of sessions) session.destroy();
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        scripted.destroySockets();
      }),
  };
  after(() => scripted.close());
  return scripted;
}

/** Resolves when the call's signal aborts (the client gave up or the call ended). */
const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));

function guardAt(url: string, timeoutMs = 2000, headers?: Record<string, string>) {
  const guard = createExternalGuard({ url, timeoutMs, ...(headers ? { headers } : {}) });
  after(() => guard.close());
  return guard;
}

describe("external guard against the example server", async () => {
  const server = await startGuardServer({ denyWords: ["Project-X"] });
  after(() => server.close());
  const guard = guardAt(server.url);

  test("allows plain text", async () => {
    assert.deepEqual(await guard.check(input("hello there", "how are you")), { verdict: "allow" });
  });

  test("denies a configured word (any case) with a rule id, never the word", async () => {
    const verdict = await guard.check(input("fine", "tell me about project-x please"));
    assert.deepEqual(verdict, { verdict: "deny", reason: "blocked_word" });
  });

  test("masks e-mail addresses with UTF-16 spans in the right segment", async () => {
    const texts = ["no address here", "mail 😀 a.b@example.com or c@d.org now"];
    const verdict = await guard.check(input(...texts));
    assert.equal(verdict.verdict, "mask");
    if (verdict.verdict !== "mask") return;
    assert.equal(verdict.reason, "pii.email");
    assert.deepEqual(
      verdict.spans.map(({ segment, start, end }) => texts[segment]!.slice(start, end)),
      ["a.b@example.com", "c@d.org"],
    );
    assert.ok(verdict.spans.every((span) => span.segment === 1));
  });

  test("judges an output chunk", async () => {
    const chunk = { text: "write to x@y.io", offset: 120, final: false };
    const verdict = await guard.check({ ...who, stage: "output", chunk });
    assert.deepEqual(verdict, {
      verdict: "mask",
      reason: "pii.email",
      spans: [{ segment: 0, start: 9, end: 15 }],
    });
  });
});

describe("external guard against a scripted server", () => {
  test("sends who asked, the segments, the output offset, our headers and a deadline", async () => {
    const server = await scriptedGuard(() => ({ verdict: Verdict.ALLOW }));
    const guard = guardAt(server.url, 1500, { authorization: "Bearer guard-key" });
    await guard.check(input("one", "two"));
    await guard.check({ ...who, stage: "output", chunk: { text: "tail", offset: 42, final: true } });
    const [first, second] = server.seen;
    assert.equal(first?.request.stage, Stage.INPUT);
    assert.deepEqual(
      first?.request.segments.map((s) => [s.role, s.text]),
      [
        ["user", "one"],
        ["user", "two"],
      ],
    );
    assert.deepEqual(
      [first?.request.requestId, first?.request.team, first?.request.workload, first?.request.model],
      ["req-1", "team-a", "chat", "m-1"],
    );
    assert.equal(first?.headers.get("authorization"), "Bearer guard-key");
    // grpc-timeout carries our deadline: positive and at most timeoutMs.
    assert.ok(first?.timeoutMs !== undefined && first.timeoutMs > 0 && first.timeoutMs <= 1500);
    assert.equal(second?.request.stage, Stage.OUTPUT);
    assert.deepEqual(
      [second?.request.segments[0]?.role, second?.request.segments[0]?.text],
      ["output", "tail"],
    );
    assert.deepEqual([second?.request.outputOffset, second?.request.outputFinal], [42, true]);
  });

  test("an untrusted reason carrying a secret is replaced; a rule id passes", async () => {
    const reasons = [`leak ${CANARY}`, CANARY, "UPPER", "a".repeat(65), "rule\nid", "", "pii.email:v2"];
    const server = await scriptedGuard((request) => ({
      verdict: Verdict.DENY,
      reason: reasons[Number(request.requestId)] ?? "",
    }));
    const guard = guardAt(server.url);
    const got = [];
    for (let i = 0; i < reasons.length; i++)
      got.push(await guard.check({ ...input("x"), requestId: String(i) }));
    assert.deepEqual(
      got.map((verdict) => (verdict.verdict === "deny" ? verdict.reason : verdict.verdict)),
      ["external", "external", "external", "external", "external", "external", "pii.email:v2"],
    );
    assert.ok(!JSON.stringify(got).includes(CANARY));
  });

  test("a lowercase secret shaped like a rule id passes the charset, but not a configured reason list", async () => {
    const shaped = "sk-live-4b1d9e0c7a2f";
    const server = await scriptedGuard((request) => ({ verdict: Verdict.DENY, reason: request.requestId }));
    const open = guardAt(server.url);
    const listed = createExternalGuard({ url: server.url, timeoutMs: 2000, reasons: ["blocked_word"] });
    after(() => listed.close());
    const ask = (guard: typeof open, reason: string) => guard.check({ ...input("x"), requestId: reason });
    assert.deepEqual(await ask(open, shaped), { verdict: "deny", reason: shaped });
    assert.deepEqual(await ask(listed, shaped), { verdict: "deny", reason: "external" });
    assert.deepEqual(await ask(listed, "blocked_word"), { verdict: "deny", reason: "blocked_word" });
  });

  test("a mask reason is bounded the same way and the spans pass", async () => {
    const server = await scriptedGuard(() => ({
      verdict: Verdict.MASK,
      reason: CANARY.toUpperCase(),
      spans: [{ segment: 0, start: 2, end: 4 }],
    }));
    const verdict = await guardAt(server.url).check(input("abcdef"));
    assert.deepEqual(verdict, {
      verdict: "mask",
      reason: "external",
      spans: [{ segment: 0, start: 2, end: 4 }],
    });
  });

  test("an error status from the service is unavailable, its message never repeated", async () => {
    const server = await scriptedGuard(() => {
      throw new ConnectError(`failed on prompt ${CANARY}`, Code.Internal);
    });
    const verdict = await guardAt(server.url).check(input("x"));
    assert.deepEqual(verdict, { verdict: "error", error: "unavailable" });
  });

  test("a service hanging past the deadline is a timeout, returned near the deadline, and cancelled", async () => {
    const server = await scriptedGuard((_, ctx) => untilAborted(ctx.signal));
    const guard = guardAt(server.url, 150);
    // Generous bound: the deadline plus scheduling slack on a shared 2-core machine, far below "hangs".
    const verdict = await within(guard.check(input("x")), "check to give up at its deadline", 150 + 3000);
    assert.deepEqual(verdict, { verdict: "error", error: "timeout" });
    assert.ok(await eventually(() => server.seen[0]?.signal.aborted === true), "the server saw the cancel");
  });

  test("the caller's abort ends the call as a timeout", async () => {
    const server = await scriptedGuard((_, ctx) => untilAborted(ctx.signal));
    const guard = guardAt(server.url, 60_000);
    const caller = new AbortController();
    const pending = guard.check(input("x"), caller.signal);
    assert.ok(await eventually(() => server.seen.length === 1));
    caller.abort();
    assert.deepEqual(await within(pending, "check to end on abort"), { verdict: "error", error: "timeout" });
  });

  test("a server whose socket is destroyed mid-call is unavailable", async () => {
    const server = await scriptedGuard((_, ctx, self) => {
      setImmediate(() => self.destroySockets());
      return untilAborted(ctx.signal);
    });
    const verdict = await within(guardAt(server.url, 10_000).check(input("x")), "check after a crash");
    assert.deepEqual(verdict, { verdict: "error", error: "unavailable" });
  });

  test("a refused connection is unavailable", async () => {
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const verdict = await within(guardAt(`http://127.0.0.1:${port}`).check(input("x")), "refused check");
    assert.deepEqual(verdict, { verdict: "error", error: "unavailable" });
  });

  test("a peer that accepts the connection but never speaks HTTP/2 is a timeout at the deadline", async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
    }).listen(0, "127.0.0.1");
    await once(silent, "listening");
    after(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });
    const guard = guardAt(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, 150);
    const verdict = await within(guard.check(input("x")), "check against a silent peer", 150 + 3000);
    assert.deepEqual(verdict, { verdict: "error", error: "timeout" });
  });

  test("an HTTP/2 server that is not a guard service (404 HTML) is bad_response", async () => {
    const other = createServer((_, res) => {
      res.writeHead(404, { "content-type": "text/html" });
      res.end("<html>not here</html>");
    }).listen(0, "127.0.0.1");
    await once(other, "listening");
    const guard = guardAt(`http://127.0.0.1:${(other.address() as AddressInfo).port}`);
    assert.deepEqual(await guard.check(input("x")), { verdict: "error", error: "bad_response" });
    guard.close();
    await new Promise((resolve) => other.close(resolve));
  });

  test("unusable answers are bad_response: garbage spans, a mask without spans, unknown verdicts", async () => {
    const text = "a😀b"; // length 4 in UTF-16: a, high, low, b
    const answers: Answer[] = [
      { verdict: Verdict.MASK, spans: [{ segment: 1, start: 0, end: 1 }] },
      { verdict: Verdict.MASK, spans: [{ segment: 0, start: 0, end: 5 }] },
      { verdict: Verdict.MASK, spans: [{ segment: 0, start: 2, end: 2 }] },
      { verdict: Verdict.MASK, spans: [{ segment: 0, start: 3, end: 1 }] },
      { verdict: Verdict.MASK, spans: [{ segment: 0, start: 2, end: 4 }] }, // starts inside the emoji
      { verdict: Verdict.MASK, spans: [{ segment: 0, start: 0, end: 2 }] }, // ends inside the emoji
      { verdict: Verdict.MASK, spans: [] },
      {
        verdict: Verdict.MASK,
        spans: Array.from({ length: 4097 }, () => ({ segment: 0, start: 0, end: 1 })),
      },
      { verdict: 7 as Verdict },
      { verdict: Verdict.UNSPECIFIED },
    ];
    const server = await scriptedGuard((request) => answers[Number(request.requestId)] ?? {});
    const guard = guardAt(server.url);
    for (let i = 0; i < answers.length; i++) {
      const verdict = await guard.check({ ...input(text), requestId: String(i) });
      assert.deepEqual(verdict, { verdict: "error", error: "bad_response" }, `answer ${i}`);
    }
    // The same emoji masked whole is fine.
    assert.deepEqual(
      verdictOf(
        create(CheckResponseSchema, { verdict: Verdict.MASK, spans: [{ segment: 0, start: 1, end: 3 }] }),
        [{ text }],
      ),
      { verdict: "mask", reason: "external", spans: [{ segment: 0, start: 1, end: 3 }] },
    );
  });

  test("after close() a check is unavailable, without a call", async () => {
    const server = await scriptedGuard(() => ({ verdict: Verdict.ALLOW }));
    const guard = guardAt(server.url);
    assert.deepEqual(await guard.check(input("x")), { verdict: "allow" });
    guard.close();
    guard.close();
    assert.deepEqual(await guard.check(input("x")), { verdict: "error", error: "unavailable" });
    assert.equal(server.seen.length, 1);
  });
});

test("the example server's process killed: the next check is unavailable", async () => {
  const child = spawn(process.execPath, ["examples/guard-server.ts", "--port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  after(() => child.kill("SIGKILL"));
  let out = "";
  child.stdout.setEncoding("utf8");
  const url = await within(
    new Promise<string>((resolve) =>
      child.stdout.on("data", (data: string) => {
        out += data;
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match?.[1]) resolve(match[1]);
      }),
    ),
    "the example server to listen",
    15_000,
  );
  const guard = guardAt(url);
  assert.deepEqual(await guard.check(input("hi")), { verdict: "allow" });
  child.kill("SIGKILL");
  await once(child, "exit");
  assert.deepEqual(await within(guard.check(input("hi")), "check after the kill"), {
    verdict: "error",
    error: "unavailable",
  });
});
