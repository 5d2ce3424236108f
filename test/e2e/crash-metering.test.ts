import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { test } from "node:test";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { type GatewayProcess, spawnGateway } from "../helpers/gateway-process.ts";
import { within } from "../helpers/wait.ts";
import { startOpenAIFake } from "../upstreams/openai-fake.ts";

const M = InferenceService.method;
const PROMPT = "hello there"; // estimated 3 tokens + 4 of framing = 7
const MAX_OUTPUT = 64;
const request = {
  workload: "chat",
  messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: PROMPT } }] }],
  sampling: { maxOutputTokens: MAX_OUTPUT },
};

type Row = {
  request_id: string;
  status: string;
  accuracy: string;
  input_tokens: number;
  output_tokens: number;
  cost_micro_usd: number | null;
  backend: string | null;
  model: string | null;
};

test("kill -9 with streams in flight: after a restart, one ledger row per request the upstream received", async () => {
  const up = await startOpenAIFake();
  const dir = mkdtempSync(join(tmpdir(), "switchyard-crash-"));
  const dbPath = join(dir, "switchyard.db");
  const journalPath = join(dir, "ledger.journal");
  const configFile = join(dir, "switchyard.yaml");
  writeFileSync(
    configFile,
    [
      "server: { host: 127.0.0.1, port: 0, limits: { maxEventLoopLagMs: 0 } }", // no shedding on a busy machine
      `store: { type: sqlite, path: ${JSON.stringify(dbPath)} }`,
      "auth: { enabled: false }",
      `metering: { journalPath: ${JSON.stringify(journalPath)} }`,
      "backends:",
      `  oa: { type: openai, baseUrl: ${JSON.stringify(`${up.url}/v1`)} }`,
      "routes:",
      "  chat:",
      "    retry: { maxAttempts: 1 }",
      "    targets:",
      "      - { backend: oa, model: gpt-4o-mini }",
      "prices:",
      "  gpt-4o-mini: { input: 1, output: 2 }",
      "",
    ].join("\n"),
  );
  const spawned: GatewayProcess[] = [];
  const start = async () => {
    const gateway = await spawnGateway(configFile);
    spawned.push(gateway);
    return gateway;
  };
  const first = await start();
  const clients = allClients(first.url);
  try {
    // Three requests finish before the crash...
    up.setDefault({ text: "done in four words", usage: { prompt_tokens: 9, completion_tokens: 4 } });
    const finished: string[] = [];
    for (let i = 0; i < 3; i++)
      finished.push((await clients[0]!.unary(M.generate, request)).message.requestId);
    // ...eight are streaming (slowly) when it comes.
    up.setDefault({ chunks: Array.from({ length: 200 }, (_, i) => `w${i} `), chunkDelayMs: 100 });
    let streaming = 0;
    const outputStarted = Promise.withResolvers<void>();
    const inFlight = Array.from({ length: 8 }, (_, i) =>
      clients[i % 2 === 0 ? 1 : 0]!.serverStream(M.generateStream, request, {
        onMessage: (m) => {
          if (m.event.case === "textDelta" && m.event.value.text === "w0 " && ++streaming === 4)
            outputStarted.resolve();
        },
      }).then(
        () => "completed",
        () => "failed",
      ),
    );
    await within(up.waitForRequests(3 + 8), "all eight streams to reach the upstream", 20_000);
    await within(outputStarted.promise, "output to flow on some streams", 20_000);
    first.child.kill("SIGKILL");
    assert.equal(await first.exited, null);
    assert.deepEqual(new Set(await Promise.all(inFlight)), new Set(["failed"]));
    const received = up.served.requests;
    assert.equal(received, 11);

    // Restarted on the same store and journal: the journal is settled before it serves.
    const second = await start();
    const replayed = second.logs.find((l) => typeof l.replayed === "number")?.replayed;
    assert.ok(typeof replayed === "number" && replayed >= 8, `replayed ${String(replayed)}`);
    second.child.kill("SIGTERM");
    assert.equal(await second.exited, 0);
    assert.equal(readFileSync(journalPath, "utf8"), "", "journal empty once everything is in the store");

    const db = new DatabaseSync(dbPath, { readOnly: true });
    const rows = db.prepare("SELECT * FROM usage_records").all() as Row[];
    db.close();
    assert.equal(rows.length, received, "one row per request that reached the upstream");
    assert.equal(new Set(rows.map((r) => r.request_id)).size, rows.length);
    for (const r of rows.filter((r) => finished.includes(r.request_id)))
      assert.deepEqual([r.status, r.accuracy, r.input_tokens, r.output_tokens], ["ok", "exact", 9, 4]);
    const interrupted = rows.filter((r) => !finished.includes(r.request_id));
    assert.equal(interrupted.length, 8);
    for (const r of interrupted) {
      assert.deepEqual(
        [r.status, r.accuracy, r.input_tokens, r.output_tokens, r.cost_micro_usd, r.backend, r.model],
        ["interrupted", "estimated", 7, MAX_OUTPUT, 7 * 1 + MAX_OUTPUT * 2, "oa", "gpt-4o-mini"],
      );
    }

    // A third start finds nothing left to settle: no row is ever written twice.
    const third = await start();
    assert.equal(
      third.logs.some((l) => typeof l.replayed === "number"),
      false,
    );
    third.child.kill("SIGTERM");
    assert.equal(await third.exited, 0);
  } finally {
    for (const c of clients) c.close();
    for (const g of spawned) g.child.kill("SIGKILL");
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
