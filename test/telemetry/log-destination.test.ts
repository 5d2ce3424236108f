import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createLogger, logDestination } from "../../src/telemetry/logger.ts";
import { eventually } from "../helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "sy-log-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const lines = (path: string): string[] => {
  try {
    return readFileSync(path, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
};

test("log lines are batched per write, yet a lone line reaches the file without a flush call", async () => {
  const path = join(dir, "lone.log");
  const logger = createLogger("info", logDestination(path));
  logger.info({ n: 1 }, "first");
  assert.ok(await eventually(() => lines(path).length === 1, 3000), "the timer flush wrote the line");
  assert.equal(JSON.parse(lines(path)[0]!).msg, "first");
  logger.flush();
});

test("lines logged one request at a time share writes, all complete and in order", async () => {
  const path = join(dir, "burst.log");
  const dest = logDestination(path);
  let writes = 0;
  (dest as unknown as NodeJS.EventEmitter).on("write", () => writes++);
  const logger = createLogger("info", dest);
  await eventually(() => (dest as unknown as { fd: number }).fd >= 0, 3000);
  // One line per event-loop turn, as requests finish: unbatched, each would be a write of its own.
  for (let i = 0; i < 60; i++) {
    logger.info({ i }, "request finished");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.ok(await eventually(() => lines(path).length === 60, 3000), `${lines(path).length} of 60 lines`);
  assert.deepEqual(
    lines(path).map((l) => (JSON.parse(l) as { i: number }).i),
    Array.from({ length: 60 }, (_, i) => i),
  );
  assert.ok(writes <= 10, `${writes} writes for 60 lines: batched`);
});
