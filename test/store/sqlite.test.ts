import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, test } from "node:test";
import { openStore } from "../../src/store/open-store.ts";
import { SQLITE_MIGRATIONS } from "../../src/store/sqlite/migrations.ts";
import { storeContract } from "./contract.ts";
import { makeAudit, makeKey, makeUsage, newSecret } from "./fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "sy-sqlite-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);

storeContract("sqlite", () => openStore({ type: "sqlite", path: freshPath() }));

const migrationRows = (path: string) => {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db
      .prepare("SELECT version FROM schema_migrations ORDER BY version")
      .all()
      .map((r) => r.version);
  } finally {
    db.close();
  }
};

test("sqlite: opening the same file again applies no migration twice and keeps the data", async () => {
  const path = freshPath();
  const first = await openStore({ type: "sqlite", path });
  const key = makeKey();
  await first.keys.create(key);
  await first.ledger.record([makeUsage({ requestId: "kept" })]);
  await first.close();
  const second = await openStore({ type: "sqlite", path });
  try {
    assert.deepEqual(await second.keys.get(key.id), key);
    assert.equal((await second.ledger.get("kept"))?.requestId, "kept");
  } finally {
    await second.close();
  }
  assert.deepEqual(
    migrationRows(path),
    SQLITE_MIGRATIONS.map((m) => m.version),
  );
});

test("sqlite: two stores open on one file at once both work and see each other's writes", async () => {
  const path = freshPath();
  const [a, b] = await Promise.all([
    openStore({ type: "sqlite", path }),
    openStore({ type: "sqlite", path }),
  ]);
  try {
    await a.ledger.record([makeUsage({ requestId: "shared" })]);
    assert.deepEqual(await b.ledger.record([makeUsage({ requestId: "shared" })]), {
      inserted: 0,
      duplicates: 1,
    });
    assert.equal((await b.ledger.get("shared"))?.requestId, "shared");
  } finally {
    await a.close();
    await b.close();
  }
  assert.deepEqual(
    migrationRows(path),
    SQLITE_MIGRATIONS.map((m) => m.version),
  );
});

test("sqlite: a ledger written before the token classes migrates in place; old rows read as no class reported", async () => {
  const path = freshPath();
  const v1 = SQLITE_MIGRATIONS.find((m) => m.version === 1)!;
  const old = new DatabaseSync(path);
  old.exec(v1.sql);
  old.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT");
  old.exec("INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00Z')");
  old
    .prepare(
      "INSERT INTO usage_records (request_id, time_ms, key_id, team, workload, route, backend, model, protocol," +
        " operation, status, input_tokens, output_tokens, cached_input_tokens, cost_micro_usd, accuracy, attempts," +
        " latency_ms, ttft_ms) VALUES ('before', ?, 'key_a', 'search', 'chat', 'chat-default', 'openai', 'gpt-4o-mini'," +
        " 'grpc', 'generate', 'ok', 10, 20, 3, 100, 'exact', 1, 250, 80)",
    )
    .run(Date.parse("2025-01-10T12:00:00Z"));
  old.close();
  const store = await openStore({ type: "sqlite", path });
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
    migrationRows(path),
    SQLITE_MIGRATIONS.map((m) => m.version),
  );
});

test("sqlite: WAL journal mode and foreign keys are on", async () => {
  const path = freshPath();
  const store = await openStore({ type: "sqlite", path });
  await store.close();
  const db = new DatabaseSync(path);
  try {
    assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal", "WAL persists in the file");
  } finally {
    db.close();
  }
});

test("sqlite: the audit table refuses UPDATE and DELETE even through raw SQL", async () => {
  const path = freshPath();
  const store = await openStore({ type: "sqlite", path });
  const event = makeAudit();
  await store.audit.append(event);
  await store.close();
  const db = new DatabaseSync(path);
  try {
    assert.throws(() => db.exec("UPDATE audit_events SET outcome = 'allowed'"), /append-only/);
    assert.throws(() => db.exec("DELETE FROM audit_events"), /append-only/);
  } finally {
    db.close();
  }
  const reopened = await openStore({ type: "sqlite", path });
  try {
    assert.deepEqual(await reopened.audit.list({ limit: 10 }), [event]);
  } finally {
    await reopened.close();
  }
});

test("sqlite: the key secret appears nowhere in the database files", async () => {
  const path = freshPath();
  const secret = newSecret();
  const store = await openStore({ type: "sqlite", path });
  await store.keys.create(makeKey({ secret }));
  // check while open too, so the WAL file (not yet checkpointed) is covered
  const scan = () =>
    readdirSync(dir)
      .filter((f) => f.startsWith(path.slice(dir.length + 1)))
      .map((f) => readFileSync(join(dir, f)).toString("latin1"));
  const whileOpen = scan();
  await store.close();
  for (const content of [...whileOpen, ...scan()]) {
    assert.ok(!content.includes(secret), "secret found in a database file");
    assert.ok(!content.includes(secret.slice(0, 13)), "more than the display prefix found");
  }
  assert.ok(whileOpen.length >= 2, "database and WAL files were scanned");
});

test("sqlite: a directory that does not exist yet is created", async () => {
  const store = await openStore({ type: "sqlite", path: join(dir, "nested", "deeper", "store.db") });
  try {
    assert.equal(store.kind, "sqlite");
    assert.equal(await store.keys.count(), 0);
  } finally {
    await store.close();
  }
});

test("sqlite: ledger batches commit on a writer thread; a write that fails there rejects and the next one works", async () => {
  const path = freshPath();
  const store = await openStore({ type: "sqlite", path });
  try {
    assert.deepEqual(await store.ledger.record([makeUsage({ requestId: "t-1" })]), {
      inserted: 1,
      duplicates: 0,
    });
    // Another connection holds the write lock: on the event loop, record() would wait for it synchronously
    // and fail with "database is locked"; on the writer thread it returns at once and commits once the lock is free.
    const other = new DatabaseSync(path);
    other.exec("BEGIN IMMEDIATE");
    let settled = false;
    const waiting = store.ledger.record([makeUsage({ requestId: "t-locked" })]).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, false, "the write waits for the lock off the event loop");
    other.exec("COMMIT");
    assert.deepEqual(await waiting, { inserted: 1, duplicates: 0 });
    // A write that fails on the thread rejects (the LedgerWriter keeps the batch and retries).
    other.exec("ALTER TABLE usage_records RENAME TO usage_records_moved");
    await assert.rejects(store.ledger.record([makeUsage({ requestId: "t-2" })]), /no such table/);
    other.exec("ALTER TABLE usage_records_moved RENAME TO usage_records");
    other.close();
    assert.deepEqual(await store.ledger.record([makeUsage({ requestId: "t-2" })]), {
      inserted: 1,
      duplicates: 0,
    });
    // The main connection (spend, get) sees what the thread committed.
    assert.equal((await store.ledger.get("t-2"))?.requestId, "t-2");
  } finally {
    await store.close();
  }
  const reopened = await openStore({ type: "sqlite", path });
  try {
    assert.equal((await reopened.ledger.get("t-1"))?.requestId, "t-1");
  } finally {
    await reopened.close();
  }
});
