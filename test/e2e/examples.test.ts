import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { promisify } from "node:util";
import { configYaml, startTestGateway } from "../helpers/gateway.ts";

const run = promisify(execFile);
const RUN_LINE = 'npm run example:client -- "your prompt"';

test("examples/node-client.ts streams a generation through the generated stubs", async () => {
  const gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n",
    ),
  );
  try {
    const env = { ...process.env, SWITCHYARD_URL: gw.url };
    const { stdout } = await run(process.execPath, ["examples/node-client.ts", "streamed through stubs"], {
      env,
    });
    assert.equal(stdout, "streamed through stubs\n[served by echo/echo-1; 3 output tokens]\n");
    // The command the file, the README and docs give works where the system Node is too old for .ts
    // files (< 22.18): the npm script runs the Node pinned in devDependencies.
    const viaNpm = await run("npm", ["run", "--silent", "example:client", "--", "through npm"], { env });
    assert.equal(viaNpm.stdout, "through npm\n[served by echo/echo-1; 2 output tokens]\n");
  } finally {
    await gw.stop();
  }
});

test("the example's header and the README say how to run it with the pinned Node", () => {
  const header = readFileSync("examples/node-client.ts", "utf8").split("\n").slice(0, 8).join("\n");
  assert.ok(header.includes(RUN_LINE), header);
  assert.doesNotMatch(header, /\) node examples\//, "a bare `node` may be older than 22.18");
  assert.ok(readFileSync("README.md", "utf8").includes(RUN_LINE));
});
