import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { AdminService } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway } from "../helpers/gateway.ts";
import { POSTGRES_URL, requirePostgres } from "../helpers/services.ts";

const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});

test("two replicas on one PostgreSQL store: a key minted on one works on the other; revocation reaches both", async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = `sy_test_${randomBytes(6).toString("hex")}`;
  const admin = mintKey().secret;
  const yaml = (ttl: number) =>
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: e }\n",
      "",
      `auth: { enabled: true, cacheTtlMs: ${ttl} }\n`,
    ).replace(
      "store: { type: memory }",
      `store: { type: postgres, url: "${POSTGRES_URL}", schema: ${schema} }`,
    );
  // Replica B caches lookups for 0 ms, so its revocation bound is immediate; A uses the default 5 s.
  const a = await startTestGateway(yaml(5000), { SWITCHYARD_BOOTSTRAP_KEY: admin });
  const b = await startTestGateway(yaml(0), { SWITCHYARD_BOOTSTRAP_KEY: admin });
  try {
    const ca = allClients(a.url)[1]!;
    const cb = allClients(b.url)[2]!;
    const bearer = (k: string) => ({ headers: { authorization: `Bearer ${k}` } });
    const created = await ca.unary(
      AdminService.method.createKey,
      { name: "svc", roles: ["developer"] },
      bearer(admin),
    );
    const secret = created.message.secret;
    const req = { workload: "chat", messages: [user("hello replica")] };
    assert.equal(
      (await cb.unary(InferenceService.method.generate, req, bearer(secret))).message.text,
      "hello replica",
    );

    await ca.unary(AdminService.method.revokeKey, { id: created.message.key!.id }, bearer(admin));
    await assert.rejects(
      cb.unary(InferenceService.method.generate, req, bearer(secret)),
      (e: ConnectError) => e.code === Code.Unauthenticated && /revoked/.test(e.message),
    );
    // Both replicas wrote to the same audit log.
    const events = await cb.unary(
      AdminService.method.listAuditEvents,
      { action: "keys.create" },
      bearer(admin),
    );
    assert.equal(events.message.events[0]?.target, created.message.key!.id);
    ca.close();
    cb.close();
  } finally {
    await a.stop();
    await b.stop();
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
});
