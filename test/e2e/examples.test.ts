import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { configYaml, startTestGateway } from "../helpers/gateway.ts";

const run = promisify(execFile);

test("examples/node-client.ts streams a generation through the generated stubs", async () => {
  const gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n",
    ),
  );
  try {
    const { stdout } = await run(process.execPath, ["examples/node-client.ts", "streamed through stubs"], {
      env: { ...process.env, SWITCHYARD_URL: gw.url },
    });
    assert.equal(stdout, "streamed through stubs\n[served by echo/echo-1; 3 output tokens]\n");
  } finally {
    await gw.stop();
  }
});
