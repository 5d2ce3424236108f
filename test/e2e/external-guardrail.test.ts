// The external guardrail service on the gateway (issue #17): the reference server (examples/) denying
// and masking; a service that times out or is down, with failMode closed (refused,
// guardrail_unavailable) and open (served, flagged). The service's words never reach the caller.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import { type GuardServer, startGuardServer } from "../../examples/guard-server.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { PolicyActionKind } from "../../gen/switchyard/v1/routing_pb.ts";
import { allClients, Code } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const M = InferenceService.method;
let guard: GuardServer;
let silent: net.Server;
let gw: TestGateway;
const ask = (workload: string, text: string) => ({
  workload,
  messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: text } }] }],
});

before(async () => {
  guard = await startGuardServer({ denyWords: ["forbidden"] });
  // Accepts connections and never answers: every check runs into its deadline.
  silent = net.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const silentUrl = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  const closedPort = await new Promise<number>((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  const route = (name: string) => `  ${name}:\n    targets:\n      - { backend: echo, model: small }\n`;
  const ext = (name: string, route: string, url: string, failMode: string, mode = "mask") =>
    `    - { name: ${name}, routes: [${route}], mode: ${mode}, failMode: ${failMode}, stages: [input, output], external: { url: "${url}", timeoutMs: 200 } }\n`;
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      route("guarded") + route("hangs-closed") + route("hangs-open") + route("down-closed"),
      "",
      "auth: { enabled: false }\npolicies:\n  guardrails:\n" +
        ext("ref", "guarded", guard.url, "closed") +
        ext("slowc", "hangs-closed", silentUrl, "closed") +
        ext("slowo", "hangs-open", silentUrl, "open") +
        ext("gone", "down-closed", `http://127.0.0.1:${closedPort}`, "closed"),
    ),
  );
});
after(async () => {
  await gw.stop();
  await guard.close();
  silent.close();
});

test("the reference service denies a forbidden word and masks an e-mail address, on input", async () => {
  const c = allClients(gw.url)[2]!;
  try {
    const error = await c.unary(M.generate, ask("guarded", "this is forbidden talk")).then(
      () => assert.fail("served"),
      (e) => e,
    );
    assert.equal(error.code, Code.InvalidArgument);
    assert.equal(error.metadata.get("x-switchyard-reason"), "guardrail_blocked");
    assert.match(error.message, /ref \(blocked_word\)/);
    const { message } = await c.unary(M.generate, ask("guarded", "reach me at ann@example.org"));
    assert.ok(message.text.includes("[REDACTED:external]"), message.text); // echo returns what it received
    assert.ok(!message.text.includes("ann@example.org"));
    assert.deepEqual(
      message.routing?.policyActions.map((a) => [a.rule, a.action]),
      [["ref:pii.email", PolicyActionKind.MASKED]],
    );
  } finally {
    c.close();
  }
});

test("a service past its deadline: failMode closed refuses (guardrail_unavailable), open serves and flags", async () => {
  const c = allClients(gw.url)[1]!;
  try {
    const error = await c.unary(M.generate, ask("hangs-closed", "hello")).then(
      () => assert.fail("served"),
      (e) => e,
    );
    assert.equal(error.code, Code.Unavailable);
    assert.equal(error.metadata.get("x-switchyard-reason"), "guardrail_unavailable");
    const { message } = await c.unary(M.generate, ask("hangs-open", "hello"));
    assert.equal(message.text.trim(), "hello");
    assert.deepEqual(
      message.routing?.policyActions.map((a) => [a.rule, a.action]),
      [
        ["slowo:external.timeout", PolicyActionKind.FLAGGED],
        ["slowo:external.timeout", PolicyActionKind.FLAGGED],
      ],
      "input and output checks both timed out and were let through",
    );
  } finally {
    c.close();
  }
});

test("a service that is down fails closed with guardrail_unavailable", async () => {
  const c = allClients(gw.url)[0]!;
  try {
    const error = await c.unary(M.generate, ask("down-closed", "hello")).then(
      () => assert.fail("served"),
      (e) => e,
    );
    assert.equal(error.metadata.get("x-switchyard-reason"), "guardrail_unavailable");
  } finally {
    c.close();
  }
});
