import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { openStore } from "../../src/store/open-store.ts";
import type { UsageRecord } from "../../src/store/store.ts";

const run = promisify(execFile);

test("switchyard spend exports the ledger as CSV and JSON, grouped and filtered", async () => {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-spend-"));
  try {
    const db = join(dir, "ledger.db");
    const config = join(dir, "switchyard.yaml");
    writeFileSync(
      config,
      `store: { type: sqlite, path: ${db} }\nbackends:\n  e: { type: echo }\nroutes:\n  chat: { targets: [{ backend: e, model: m }] }\n`,
    );
    const store = await openStore({ type: "sqlite", path: db });
    const rec = (id: string, team: string, day: string, cost: number, tier = "default"): UsageRecord => ({
      requestId: id,
      time: new Date(`${day}T12:00:00Z`),
      keyId: "key_1",
      team,
      workload: "chat",
      route: "chat",
      backend: "e",
      model: "m",
      protocol: "grpc",
      operation: "generate",
      status: "ok",
      inputTokens: 10,
      outputTokens: 5,
      cachedInputTokens: 4,
      cacheWriteTokens: 3,
      cacheWrite1hTokens: 1,
      reasoningTokens: 2,
      audioInputTokens: 0,
      imageInputTokens: 1,
      costMicroUsd: cost,
      accuracy: "exact",
      attempts: 1,
      latencyMs: 3,
      ttftMs: 1,
      endUserId: `user-${id}`,
      serviceTier: tier,
    });
    await store.ledger.record([
      rec("r1", "ml", "2026-11-01", 1000),
      rec("r2", "ml", "2026-11-02", 2500),
      rec("r3", "web", "2026-11-02", 500, "flex"),
    ]);
    await store.close();
    const cli = [
      "src/main.ts",
      "spend",
      "--config",
      config,
      "--since",
      "2026-11-01",
      "--until",
      "2026-11-03",
    ];
    const csv = await run(process.execPath, [...cli, "--group-by", "team,day"]);
    assert.equal(
      csv.stdout,
      [
        "team,day,requests,cached_requests,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens," +
          "cache_write_1h_tokens,reasoning_tokens,audio_input_tokens,image_input_tokens,cost_micro_usd,cost_usd",
        "ml,2026-11-01,1,0,10,5,4,3,1,2,0,1,1000,0.001000",
        "ml,2026-11-02,1,0,10,5,4,3,1,2,0,1,2500,0.002500",
        "web,2026-11-02,1,0,10,5,4,3,1,2,0,1,500,0.000500",
        "",
      ].join("\n"),
    );
    const json = await run(process.execPath, [
      ...cli,
      "--group-by",
      "team",
      "--team",
      "ml",
      "--format",
      "json",
    ]);
    assert.deepEqual(JSON.parse(json.stdout), [
      {
        group: { team: "ml" },
        requests: 2,
        cachedRequests: 0,
        inputTokens: 20,
        outputTokens: 10,
        cacheReadTokens: 8,
        cacheWriteTokens: 6,
        cacheWrite1hTokens: 2,
        reasoningTokens: 4,
        audioInputTokens: 0,
        imageInputTokens: 2,
        costMicroUsd: 3500,
        costUsd: 0.0035,
      },
    ]);
    const tiers = await run(process.execPath, [...cli, "--group-by", "service_tier,end_user"]);
    assert.deepEqual(
      tiers.stdout.split("\n").map((line) => line.split(",").slice(0, 3).join(",")),
      ["service_tier,end_user,requests", "default,user-r1,1", "default,user-r2,1", "flex,user-r3,1", ""],
    );
    await assert.rejects(run(process.execPath, [...cli, "--group-by", "planet"]), /unknown planet/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
