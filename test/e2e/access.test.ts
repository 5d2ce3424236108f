import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import { AdminService, BreakerState } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const A = AdminService.method;
const M = InferenceService.method;
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const ADMIN = mintKey().secret;
const CANARY = "sk-provider-CANARY-5d1e";
const auth = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway(
    configYaml(
      `  echo: { type: echo }\n  paid:\n    type: openai\n    baseUrl: "http://user:pw@127.0.0.1:9/v1"\n    apiKey: \${PROVIDER_KEY}\n`,
      "  chat:\n    targets:\n      - { backend: echo, model: small }\n      - { backend: echo, model: big }\n" +
        "  secret-project:\n    targets:\n      - { backend: echo, model: small }\n",
      "",
      "auth: { enabled: true, cacheTtlMs: 60000 }\n",
    ),
    { SWITCHYARD_BOOTSTRAP_KEY: ADMIN, PROVIDER_KEY: CANARY },
  );
});
after(() => gw.stop());

const client = (i = 1) => allClients(gw.url)[i]!;
async function mint(
  creator: string,
  spec: { name: string; roles: string[]; team?: string; workloads?: string[]; models?: string[] },
) {
  const c = client();
  const { message } = await c.unary(A.createKey, spec, auth(creator));
  c.close();
  return message;
}
const denied = (code: Code, pattern?: RegExp) => (e: ConnectError) =>
  e.code === code && (!pattern || pattern.test(e.message));

describe("authentication on every client stack", () => {
  for (const i of [0, 1, 2, 3]) {
    test(`client #${i}: no key, a malformed key and an unknown key are UNAUTHENTICATED; the admin key works`, async () => {
      const c = client(i);
      const req = { workload: "chat", messages: [user("hi")] };
      await assert.rejects(c.unary(M.generate, req), denied(Code.Unauthenticated, /missing API key/));
      await assert.rejects(
        c.unary(M.generate, req, auth("sk-whatever")),
        denied(Code.Unauthenticated, /invalid API key/),
      );
      await assert.rejects(c.unary(M.generate, req, auth(mintKey().secret)), denied(Code.Unauthenticated));
      const ok = await c.unary(M.generate, req, auth(ADMIN));
      assert.equal(ok.message.text, "hi");
      c.close();
    });
  }
});

test("an unauthenticated caller learns nothing from validation: auth comes first", async () => {
  const c = client();
  await assert.rejects(c.unary(M.generate, { workload: "" }), denied(Code.Unauthenticated));
  c.close();
});

test("a developer key is limited to its workloads and models; denials are audited", async () => {
  const dev = await mint(ADMIN, {
    name: "search dev",
    roles: ["developer"],
    team: "search",
    workloads: ["chat"],
    models: ["small"],
  });
  const c = client();
  const ok = await c.unary(M.generate, { workload: "chat", messages: [user("x")] }, auth(dev.secret));
  assert.equal(ok.message.routing?.model, "small", "targets with models outside the key are never chosen");
  await assert.rejects(
    c.unary(M.generate, { workload: "secret-project", messages: [user("x")] }, auth(dev.secret)),
    denied(Code.PermissionDenied, /may not use workload "secret-project"/),
  );
  await assert.rejects(
    c.unary(M.generate, { workload: "chat", model: "big", messages: [user("x")] }, auth(dev.secret)),
    denied(Code.PermissionDenied, /may not use model "big"/),
  );
  await assert.rejects(
    c.unary(A.listKeys, {}, auth(dev.secret)),
    denied(Code.PermissionDenied, /may not keys.read/),
  );
  const models = await c.unary(M.listModels, {}, auth(dev.secret));
  assert.deepEqual(
    models.message.workloads.map((w) => [w.workload, w.models.map((m) => m.name)]),
    [["chat", ["small"]]],
    "ListModels shows only what the key may use",
  );
  const audit = await c.unary(A.listAuditEvents, { outcome: "denied", actorKeyId: dev.key!.id }, auth(ADMIN));
  const actions = audit.message.events.map((e) => e.action);
  assert.ok(actions.includes("inference.generate.denied"));
  assert.ok(actions.includes("keys.read.denied"));
  c.close();
});

test("team-admins mint within their team and scopes only; nobody escalates", async () => {
  const lead = await mint(ADMIN, {
    name: "search lead",
    roles: ["team-admin"],
    team: "search",
    workloads: ["chat"],
  });
  const c = client();
  const ok = await c.unary(A.createKey, { name: "svc", roles: ["developer"] }, auth(lead.secret));
  assert.equal(ok.message.key?.team, "search", "defaults to the creator's team");
  assert.deepEqual(ok.message.key?.workloads, ["chat"], "defaults to the creator's workloads");
  assert.match(ok.message.secret, /^sy_/);
  const refused: [{ name: string; roles: string[]; team?: string; workloads?: string[] }, RegExp][] = [
    [{ name: "x", roles: ["admin"] }, /cannot grant "admin"/],
    [{ name: "x", roles: ["developer"], team: "ads" }, /own team/],
    [{ name: "x", roles: ["developer"], workloads: ["secret-project"] }, /workloads outside/],
  ];
  for (const [spec, pattern] of refused) {
    await assert.rejects(
      c.unary(A.createKey, spec, auth(lead.secret)),
      denied(Code.PermissionDenied, pattern),
    );
  }
  const viewer = await mint(ADMIN, { name: "auditor", roles: ["viewer"] });
  await assert.rejects(
    c.unary(A.createKey, { name: "y", roles: ["viewer"] }, auth(viewer.secret)),
    denied(Code.PermissionDenied, /may not keys.create/),
  );
  // A team-admin sees only its own team's keys.
  const listed = await c.unary(A.listKeys, {}, auth(lead.secret));
  assert.ok(listed.message.keys.length > 0 && listed.message.keys.every((k) => k.team === "search"));
  c.close();
});

test("revocation takes effect at once on the replica that revoked; the audit log records it", async () => {
  const dev = await mint(ADMIN, { name: "temp", roles: ["developer"] });
  const c = client(2);
  await c.unary(M.generate, { workload: "chat", messages: [user("x")] }, auth(dev.secret)); // now cached
  const revoked = await c.unary(A.revokeKey, { id: dev.key!.id }, auth(ADMIN));
  assert.ok(revoked.message.key?.revokeTime);
  await assert.rejects(
    c.unary(M.generate, { workload: "chat", messages: [user("x")] }, auth(dev.secret)),
    denied(Code.Unauthenticated, /revoked/),
  );
  const events = await c.unary(A.listAuditEvents, { action: "keys.revoke" }, auth(ADMIN));
  assert.equal(events.message.events[0]?.target, dev.key!.id);
  c.close();
});

test("admin views: routes with backend state; config with secrets redacted; reload needs a file", async () => {
  const c = client();
  const routes = await c.unary(A.listRoutes, {}, auth(ADMIN));
  assert.deepEqual(routes.message.routes.map((r) => r.workload).sort(), ["chat", "secret-project"]);
  const echo = routes.message.backends.find((b) => b.name === "echo");
  assert.equal(echo?.breakerState, BreakerState.CLOSED);
  assert.equal(echo?.healthy, true);
  const config = await c.unary(A.getConfig, {}, auth(ADMIN));
  const text = JSON.stringify(config.message.config);
  assert.ok(text.includes("${PROVIDER_KEY}"), "secret fields show their reference");
  assert.ok(!text.includes(CANARY), "never the value");
  assert.ok(!text.includes("user:pw"), "credentials in URLs are redacted");
  await assert.rejects(
    c.unary(A.reloadConfig, {}, auth(ADMIN)),
    denied(Code.InvalidArgument, /not started from a config file/),
  );
  c.close();
});

test("canaries: neither the provider key nor any API key secret reaches logs or the audit log", async () => {
  const c = client();
  const audit = await c.unary(A.listAuditEvents, { pageSize: 1000 }, auth(ADMIN));
  const everything =
    gw.logText() + JSON.stringify(audit.message.events, (_k, v) => (typeof v === "bigint" ? String(v) : v));
  assert.ok(!everything.includes(CANARY));
  assert.ok(!everything.includes(ADMIN));
  assert.ok(!everything.includes(ADMIN.slice(20)), "not even the tail of the admin secret");
  c.close();
});
