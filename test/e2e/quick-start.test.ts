import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);

// The README's quick start, for real: the bundled example config with no provider keys, started
// from a fresh directory; the first admin key comes from .switchyard/admin.key; buf curl calls
// Generate through reflection with that key and gets the echo backend's answer.
test("README quick start: example config, first admin key from the key file, buf curl Generate", async () => {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-quickstart-"));
  const env = { ...process.env };
  for (const name of ["OPENAI_API_KEY", "MISTRAL_API_KEY", "ANTHROPIC_API_KEY", "SWITCHYARD_BOOTSTRAP_KEY"])
    delete env[name];
  const child = spawn(
    process.execPath,
    [resolve("src/main.ts"), "serve", "--config", resolve("examples/switchyard.yaml"), "--port", "0"],
    { cwd: dir, env, stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const logs: string[] = [];
  try {
    const port = await new Promise<number>((resolvePort, reject) => {
      createInterface({ input: child.stdout }).on("line", (line) => {
        logs.push(line);
        const parsed = JSON.parse(line) as { port?: number };
        if (typeof parsed.port === "number") resolvePort(parsed.port);
      });
      child.once("exit", () => reject(new Error("gateway exited early")));
    });
    const keyFile = join(dir, ".switchyard", "admin.key");
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, "the key file is private");
    const key = readFileSync(keyFile, "utf8").trim();
    const body =
      '{"workload":"chat","messages":[{"role":"ROLE_USER","content":[{"text":"Hello, Switchyard"}]}]}';
    const url = `http://127.0.0.1:${port}/switchyard.v1.InferenceService/Generate`;
    const { stdout } = await run(resolve("node_modules/.bin/buf"), [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "--reflect",
      "-H",
      `authorization: Bearer ${key}`,
      "-d",
      body,
      url,
    ]);
    const out = JSON.parse(stdout) as { text: string; routing: { backend: string; reason: string } };
    assert.equal(out.text, "Hello, Switchyard");
    assert.equal(out.routing.backend, "echo");
    assert.match(
      out.routing.reason,
      /skipped openai \(disabled: environment variable OPENAI_API_KEY is not set\)/,
    );
    await assert.rejects(
      run(resolve("node_modules/.bin/buf"), [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--reflect",
        "-d",
        body,
        url,
      ]),
      /unauthenticated/,
    );
    assert.ok(!logs.join("\n").includes(key), "the admin key never reaches the log");
    assert.ok(
      logs.some((l) => l.includes("backend openai: disabled")),
      "start-up says which backends are off",
    );
  } finally {
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    rmSync(dir, { recursive: true, force: true });
  }
});
