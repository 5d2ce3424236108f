import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// The README's `buf curl --reflect` commands, run for real: an independent gRPC/Connect client
// (connect-go inside buf) that learns the schema through our reflection service.
const run = promisify(execFile);
const BUF = "node_modules/.bin/buf";
const body = JSON.stringify({
  workload: "chat",
  messages: [{ role: "ROLE_USER", content: [{ text: "Hello, Switchyard" }] }],
});

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n",
    ),
  );
});
after(() => gw.stop());

for (const protocol of [["grpc", "--http2-prior-knowledge"], ["connect"], ["grpcweb"]]) {
  test(`buf curl --protocol ${protocol[0]} --reflect Generate`, async () => {
    const { stdout } = await run(BUF, [
      "curl",
      "--protocol",
      ...protocol,
      "--reflect",
      "-d",
      body,
      `${gw.url}/switchyard.v1.InferenceService/Generate`,
    ]);
    const out = JSON.parse(stdout) as {
      text: string;
      routing: { backend: string };
      usage: { outputTokens: number };
    };
    assert.equal(out.text, "Hello, Switchyard");
    assert.equal(out.routing.backend, "echo");
    assert.equal(out.usage.outputTokens, 2);
  });
}

test("buf curl --list-methods over reflection lists every public method", async () => {
  const { stdout } = await run(BUF, [
    "curl",
    "--http2-prior-knowledge",
    "--reflect",
    "--list-methods",
    gw.url,
  ]);
  const methods = stdout.trim().split("\n");
  for (const m of ["Generate", "GenerateStream", "Embed", "ListModels"]) {
    assert.ok(methods.includes(`switchyard.v1.InferenceService/${m}`), stdout);
  }
  assert.ok(methods.includes("grpc.health.v1.Health/Check"));
});

// Reflection lists every service it serves, AdminService included: its schema is public (it is in
// the repository, and lookups by name always answered it), and each admin RPC still needs a key.
test("buf curl --list-services over reflection lists AdminService with the others", async () => {
  const { stdout } = await run(BUF, [
    "curl",
    "--http2-prior-knowledge",
    "--reflect",
    "--list-services",
    gw.url,
  ]);
  const services = stdout.trim().split("\n").sort();
  assert.deepEqual(services, [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "switchyard.v1.AdminService",
    "switchyard.v1.InferenceService",
  ]);
});

test("buf curl --list-methods over reflection lists the admin methods", async () => {
  const { stdout } = await run(BUF, [
    "curl",
    "--http2-prior-knowledge",
    "--reflect",
    "--list-methods",
    gw.url,
  ]);
  const methods = stdout.trim().split("\n");
  for (const m of ["CreateKey", "ListKeys", "RevokeKey", "ListRoutes", "GetSpend"]) {
    assert.ok(methods.includes(`switchyard.v1.AdminService/${m}`), stdout);
  }
});
