import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import pg from "pg";
import { openStore } from "../../src/store/open-store.ts";
import { POSTGRES_MIGRATIONS } from "../../src/store/postgres/migrations.ts";
import type { Store } from "../../src/store/store.ts";
import { POSTGRES_URL, requirePostgres } from "../helpers/services.ts";
import { storeContract } from "./contract.ts";
import { makeAudit, makeKey, makeUsage, newSecret } from "./fixtures.ts";

/** Every store in this file gets its own schema, so parallel test files and runs never collide. */
const schemas: string[] = [];
const freshSchema = () => {
  const schema = `sy_test_${randomBytes(6).toString("hex")}`;
  schemas.push(schema);
  return schema;
};
const open = (schema: string): Promise<Store> =>
  openStore({ type: "postgres", url: POSTGRES_URL, schema, poolSize: 4 });

async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
) {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

after(async () => {
  if (schemas.length === 0) return;
  await sql(schemas.map((s) => `DROP SCHEMA IF EXISTS "${s}" CASCADE`).join("; ")).catch(() => {});
});

storeContract("postgres", () => open(freshSchema()), requirePostgres);

const versions = async (schema: string) =>
  (await sql<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`)).map(
    (r) => r.version,
  );

test("postgres: two stores opening one fresh schema at once both succeed and migrate once", async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema();
  // allSettled: every open finishes (and is closed) before the schema is dropped, even when one fails
  const settled = await Promise.allSettled([open(schema), open(schema), open(schema)]);
  const stores = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  try {
    assert.deepEqual(
      settled.map((r) => (r.status === "rejected" ? String(r.reason) : "ok")),
      ["ok", "ok", "ok"],
    );
    const [a, b] = stores as [Store, Store, Store];
    await a.ledger.record([makeUsage({ requestId: "shared" })]);
    assert.deepEqual(await b.ledger.record([makeUsage({ requestId: "shared" })]), {
      inserted: 0,
      duplicates: 1,
    });
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
  assert.deepEqual(
    await versions(schema),
    POSTGRES_MIGRATIONS.map((m) => m.version),
  );
});

test("postgres: reopening applies no migration twice and keeps the data", async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema();
  const first = await open(schema);
  const key = makeKey();
  await first.keys.create(key);
  await first.close();
  const second = await open(schema);
  try {
    assert.deepEqual(await second.keys.get(key.id), key);
  } finally {
    await second.close();
  }
  assert.deepEqual(
    await versions(schema),
    POSTGRES_MIGRATIONS.map((m) => m.version),
  );
});

test("postgres: a ledger written before the token classes migrates in place; old rows read as no class reported", async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema();
  const v1 = POSTGRES_MIGRATIONS.find((m) => m.version === 1)!;
  const s = `"${schema}"`;
  await sql(
    `CREATE SCHEMA ${s}; ${v1.sql.replaceAll("{s}", s)};` +
      ` CREATE TABLE ${s}.schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL);` +
      ` INSERT INTO ${s}.schema_migrations VALUES (1, now());` +
      ` INSERT INTO ${s}.usage_records (request_id, occurred_at, key_id, team, workload, route, backend, model,` +
      " protocol, operation, status, input_tokens, output_tokens, cached_input_tokens, cost_micro_usd, accuracy," +
      " attempts, latency_ms, ttft_ms) VALUES ('before', '2025-01-10T12:00:00Z', 'key_a', 'search', 'chat', 'chat-default'," +
      " 'openai', 'gpt-4o-mini', 'grpc', 'generate', 'ok', 10, 20, 3, 100, 'exact', 1, 250, 80)",
  );
  const store = await open(schema);
  try {
    assert.deepEqual(
      await store.ledger.get("before"),
      makeUsage({ requestId: "before", cachedInputTokens: 3 }),
      "every old field kept, the new classes 0, no end user or tier",
    );
    const after = makeUsage({ requestId: "after", reasoningTokens: 5, endUserId: "u1", serviceTier: "flex" });
    await store.ledger.record([after]);
    assert.deepEqual(await store.ledger.get("after"), after);
  } finally {
    await store.close();
  }
  assert.deepEqual(
    await versions(schema),
    POSTGRES_MIGRATIONS.map((m) => m.version),
  );
});

test("postgres: the audit table refuses UPDATE, DELETE and TRUNCATE even through raw SQL", async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema();
  const store = await open(schema);
  try {
    const event = makeAudit();
    await store.audit.append(event);
    await assert.rejects(sql(`UPDATE "${schema}".audit_events SET outcome = 'denied'`), /append-only/);
    await assert.rejects(sql(`DELETE FROM "${schema}".audit_events`), /append-only/);
    await assert.rejects(sql(`TRUNCATE "${schema}".audit_events`), /append-only/);
    assert.deepEqual(await store.audit.list({ limit: 10 }), [event]);
  } finally {
    await store.close();
  }
});

test("postgres: the key secret appears in no table of the schema", async (t) => {
  if (!(await requirePostgres(t))) return;
  const schema = freshSchema();
  const secret = newSecret();
  const store = await open(schema);
  try {
    await store.keys.create(makeKey({ secret }));
    const tables = await sql<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
      [schema],
    );
    assert.ok(tables.some((r) => r.table_name === "api_keys"));
    for (const { table_name } of tables) {
      const dump = JSON.stringify(await sql(`SELECT * FROM "${schema}"."${table_name}"`));
      assert.ok(!dump.includes(secret.slice(0, 13)), `secret material found in ${table_name}`);
    }
  } finally {
    await store.close();
  }
});

test("postgres: a schema name that is not a plain lowercase identifier is refused before connecting", async () => {
  await assert.rejects(
    openStore({
      type: "postgres",
      url: "postgres://nobody@127.0.0.1:1/none",
      schema: 'x"; DROP TABLE y; --',
    }),
    RangeError,
  );
  await assert.rejects(
    openStore({ type: "postgres", url: "postgres://nobody@127.0.0.1:1/none", schema: "Caps" }),
    RangeError,
  );
});
