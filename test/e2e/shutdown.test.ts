import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../../gen/grpc/health/v1/health_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway } from "../helpers/gateway.ts";

const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const yaml = configYaml(
  "  echo: { type: echo, chunkDelayMs: 60 }\n",
  "  chat:\n    targets:\n      - { backend: echo, model: e }\n",
  "  shutdownGraceMs: 10000\n",
);

test("SIGTERM with a stream in flight: the stream completes, then the process exits 0", async () => {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-sigterm-"));
  const file = join(dir, "switchyard.yaml");
  writeFileSync(file, yaml);
  const child = spawn(process.execPath, ["src/main.ts", "serve", "--config", file, "--port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      if (typeof parsed.port === "number") resolve(parsed.port);
    });
    child.once("exit", () => reject(new Error("gateway exited before listening")));
  });
  try {
    const c = allClients(`http://127.0.0.1:${port}`)[1]!;
    const words = "a b c d e f g h i j";
    let signalled = false;
    const { messages } = await c.serverStream(
      InferenceService.method.generateStream,
      { workload: "chat", messages: [user(words)] },
      {
        onMessage: (m) => {
          if (m.event.case === "textDelta" && !signalled) {
            signalled = true;
            child.kill("SIGTERM");
          }
        },
      },
    );
    assert.ok(signalled);
    const text = messages.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value.text] : [])).join("");
    assert.equal(text, words);
    assert.equal(messages.at(-1)?.event.case, "final");
    assert.equal(await exited, 0);
    assert.ok(lines.some((l) => l.msg === "shutdown complete" && l.forced === false));
    c.close();
  } finally {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("shutdown reports NOT_SERVING to health watchers, then ends their streams", async () => {
  const gw = await startTestGateway(yaml);
  const c = allClients(gw.url)[2]!;
  const statuses: Serving[] = [];
  const watch = c.serverStream(
    Health.method.watch,
    { service: "" },
    {
      onMessage: (m) => {
        statuses.push(m.status);
        if (statuses.length === 1) void gw.gateway.shutdown(2000);
      },
    },
  );
  await watch;
  assert.deepEqual(statuses, [Serving.SERVING, Serving.NOT_SERVING]);
  const result = await gw.gateway.shutdown();
  assert.equal(result.forced, false);
  c.close();
});

test("a call that outlives the grace period is cancelled, and shutdown still completes", async () => {
  const gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo, chunkDelayMs: 1000 }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: e }\n",
    ),
  );
  const c = allClients(gw.url)[0]!;
  let started: () => void = () => {};
  const inHandler = new Promise<void>((resolve) => {
    started = resolve;
  });
  const stream = c.serverStream(
    InferenceService.method.generateStream,
    { workload: "chat", messages: [user("x y z")] },
    { onMessage: () => started() }, // the attempt event: the call is in the handler
  );
  const outcome = stream.then(
    () => "completed",
    () => "failed",
  );
  await inHandler;
  const result = await gw.gateway.shutdown(100);
  assert.equal(result.forced, true);
  assert.equal(await outcome, "failed");
  c.close();
});
