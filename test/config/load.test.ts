import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ConfigError } from "../../src/config/config-error.ts";
import { parseConfig } from "../../src/config/load.ts";

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, "test.yaml", env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail("config was accepted");
}

const base = (targets: string) => `
backends:
  echo: { type: echo }
  oa: { type: openai, baseUrl: "http://127.0.0.1:1/v1" }
routes:
  chat:
    targets:
${targets}`;

test("an unknown backend is reported at its exact path, with the known ones", () => {
  const found = problems(base(`      - { backend: echo, model: m }\n      - { backend: gpt, model: m }\n`));
  assert.deepEqual(found, ['routes.chat.targets[1].backend: unknown backend "gpt" (known: echo, oa)']);
});

test("type errors, unknown keys and missing fields name their paths", () => {
  const found = problems(`
server: { port: "eighty", extra: 1 }
backends:
  oa: { type: openai, baseUrl: "not a url" }
routes:
  chat: { targets: [] }
`);
  assert.ok(
    found.some((p) => p.startsWith("server.port:")),
    found.join("\n"),
  );
  assert.ok(
    found.some((p) => p.startsWith("server:") && p.includes("extra")),
    found.join("\n"),
  );
  assert.ok(
    found.some((p) => p.startsWith("backends.oa.baseUrl:")),
    found.join("\n"),
  );
  assert.ok(
    found.some((p) => p.startsWith("routes.chat.targets:")),
    found.join("\n"),
  );
});

test("an unknown backend type is reported at backends.NAME.type", () => {
  const found = problems(`backends:\n  x: { type: carrier-pigeon }\nroutes: {}\n`);
  assert.ok(
    found.some((p) => p.startsWith("backends.x.type:")),
    found.join("\n"),
  );
});

test("YAML syntax errors give a line number", () => {
  const found = problems("backends:\n  echo: { type: echo\nroutes: {}\n");
  assert.match(found[0] ?? "", /^YAML line \d+:/);
});

test("secrets must be references, and never appear in errors", () => {
  const found = problems(`
backends:
  oa: { type: openai, baseUrl: "http://127.0.0.1:1/v1", apiKey: sk-live-CANARY123 }
routes:
  chat: { targets: [{ backend: oa, model: m }] }
`);
  assert.deepEqual(found, [
    "backends.oa.apiKey: secrets must be given by reference to an environment variable, e.g. ${OPENAI_API_KEY}",
  ]);
  assert.ok(!found.join("").includes("CANARY123"));
});

test("a missing variable fails the config unless the backend is optional, which disables it", () => {
  const yaml = (optional: boolean) => `
backends:
  oa: { type: openai, baseUrl: "http://127.0.0.1:1/v1", apiKey: "\${OA_KEY}", optional: ${optional} }
  echo: { type: echo }
routes:
  chat: { targets: [{ backend: oa, model: m }, { backend: echo, model: e }] }
`;
  assert.deepEqual(problems(yaml(false)), ["backends.oa.apiKey: environment variable OA_KEY is not set"]);
  const loaded = parseConfig(yaml(true), "t", {});
  assert.equal(loaded.disabled.get("oa"), "environment variable OA_KEY is not set");
  const withKey = parseConfig(yaml(true), "t", { OA_KEY: "sk-x" });
  assert.equal(withKey.disabled.size, 0);
  assert.equal(
    withKey.config.backends.oa?.type === "openai" && withKey.config.backends.oa.apiKey,
    "${OA_KEY}",
  );
});

test("non-secret strings are interpolated from the environment", () => {
  const loaded = parseConfig(
    `backends:\n  oa: { type: openai, baseUrl: "\${OA_URL}/v1" }\nroutes:\n  c: { targets: [{ backend: oa, model: m }] }\n`,
    "t",
    { OA_URL: "http://127.0.0.1:9" },
  );
  const oa = loaded.config.backends.oa;
  assert.equal(oa?.type === "openai" ? oa.baseUrl : "", "http://127.0.0.1:9/v1");
});

test("defaults fill in server limits and route timeouts", () => {
  const loaded = parseConfig(base("      - { backend: echo, model: m }\n"), "t", {});
  assert.equal(loaded.config.server.limits.maxRequestBytes, 4 * 1024 * 1024);
  assert.equal(loaded.config.server.limits.maxConcurrentStreams, 1000);
  assert.equal(loaded.config.routes.chat?.timeouts.totalMs, 120_000);
  assert.deepEqual(loaded.config.routes.chat?.operations, ["generate"]);
});

test("the bundled example config is valid with and without provider keys", async () => {
  const { loadConfigFile } = await import("../../src/config/load.ts");
  const bare = loadConfigFile("examples/switchyard.yaml", {});
  assert.deepEqual([...bare.disabled.keys()].sort(), ["anthropic", "mistral", "openai"]);
  const keyed = loadConfigFile("examples/switchyard.yaml", {
    OPENAI_API_KEY: "x",
    MISTRAL_API_KEY: "y",
    ANTHROPIC_API_KEY: "z",
  });
  assert.equal(keyed.disabled.size, 0);
});

test("the reference in docs/config.md is a valid config", () => {
  const doc = readFileSync("docs/config.md", "utf8");
  const start = doc.indexOf("```yaml\nserver:");
  const yaml = doc.slice(start + "```yaml\n".length, doc.indexOf("```", start + 7));
  const loaded = parseConfig(yaml, "docs/config.md", {
    OPENAI_API_KEY: "x",
    ANTHROPIC_API_KEY: "y",
    GEMINI_API_KEY: "z",
  });
  assert.deepEqual(Object.keys(loaded.config.routes), ["chat", "chat-economy"]);
  assert.equal(loaded.config.routes.chat?.variants[0]?.name, "long-context");
});

test("budgetDowngrade must name a workload", () => {
  const found = problems(
    base("      - { backend: echo, model: m }\n").replace(
      "  chat:\n",
      "  chat:\n    budgetDowngrade: cheap\n",
    ),
  );
  assert.deepEqual(found, ['routes.chat.budgetDowngrade: unknown workload "cheap"']);
});
