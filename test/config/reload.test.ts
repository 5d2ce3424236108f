import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { watchConfig } from "../../src/config/watch.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const M = InferenceService.method;
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const config = (model: string, delay: number) =>
  configYaml(
    `  slow: { type: echo, chunkDelayMs: ${delay} }\n  fast: { type: echo }\n`,
    `  chat:\n    targets:\n      - { backend: slow, model: ${model} }\n  quick:\n    targets:\n      - { backend: fast, model: q }\n`,
  );

let dir: string;
let file: string;
let gw: TestGateway;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "switchyard-reload-"));
  file = join(dir, "switchyard.yaml");
  writeFileSync(file, config("model-a", 40));
  gw = await startTestGateway(config("model-a", 40));
});
after(async () => {
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves when a log line matching `predicate` appears (event-driven: polls the captured log). */
function logLine(
  predicate: (l: Record<string, unknown>) => boolean,
  from = 0,
): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const check = () => {
      const found = gw.logs.slice(from).find(predicate);
      if (found) resolve(found);
      else setImmediate(check);
    };
    check();
  });
}

test("a reload swaps atomically: the stream in flight finishes on the old config, new requests use the new", async () => {
  const c = allClients(gw.url)[1]!;
  const words = "one two three four five six seven eight";
  let reloaded: Promise<unknown> | undefined;
  const stream = c.serverStream(
    M.generateStream,
    { workload: "chat", messages: [user(words)] },
    {
      onMessage: (m) => {
        if (m.event.case === "textDelta" && reloaded === undefined) {
          writeFileSync(file, config("model-b", 0));
          reloaded = Promise.resolve(gw.gateway.config.reloadFromFile(file));
        }
      },
    },
  );
  const { messages } = await stream;
  assert.equal(await reloaded, true);
  const text = messages.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value.text] : [])).join("");
  assert.equal(text, words, "the in-flight stream is complete");
  const final = messages.at(-1)!.event;
  assert.equal(final.case === "final" && final.value.routing?.model, "model-a");

  const after = await c.unary(M.generate, { workload: "chat", messages: [user("hi")] });
  assert.equal(after.message.routing?.model, "model-b");
  c.close();
});

test("unchanged backends keep their adapter across a reload; changed ones are replaced", () => {
  const before = gw.gateway.config.current;
  writeFileSync(file, config("model-c", 5));
  assert.equal(gw.gateway.config.reloadFromFile(file), true);
  const now = gw.gateway.config.current;
  assert.equal(now.backends.get("fast")?.adapter, before.backends.get("fast")?.adapter);
  assert.equal(
    now.backends.get("fast")?.state,
    before.backends.get("fast")?.state,
    "breaker and latency state kept",
  );
  assert.notEqual(now.backends.get("slow")?.adapter, before.backends.get("slow")?.adapter);
  assert.notEqual(now.backends.get("slow")?.state, before.backends.get("slow")?.state);
  assert.equal(now.generation, before.generation + 1);
});

test("an invalid reload is rejected with the exact path, and the old config keeps serving", async () => {
  const generation = gw.gateway.config.current.generation;
  writeFileSync(file, config("model-d", 0).replace("backend: fast", "backend: fastest"));
  assert.equal(gw.gateway.config.reloadFromFile(file), false);
  assert.equal(gw.gateway.config.current.generation, generation);
  const line = gw.logs.findLast((l) => l.msg === "config reload rejected; the previous config keeps serving");
  assert.deepEqual(line?.problems, [
    'routes.quick.targets[0].backend: unknown backend "fastest" (known: slow, fast)',
  ]);
  const c = allClients(gw.url)[0]!;
  const { message } = await c.unary(M.generate, { workload: "quick", messages: [user("still here")] });
  assert.equal(message.text, "still here");
  c.close();
});

test("saving the file triggers a reload (file watch)", async () => {
  const stop = watchConfig(gw.gateway.config, file, 20);
  try {
    const from = gw.logs.length;
    writeFileSync(file, config("model-watched", 0));
    await logLine((l) => l.msg === "config reloaded", from);
    const c = allClients(gw.url)[0]!;
    const { message } = await c.unary(M.generate, { workload: "chat", messages: [user("hi")] });
    assert.equal(message.routing?.model, "model-watched");
    c.close();
  } finally {
    stop();
  }
});
