import assert from "node:assert/strict";
import { test } from "node:test";
import { compileConfig } from "../../src/config/compile.ts";
import { parseConfig } from "../../src/config/load.ts";
import { GatewayError } from "../../src/errors/gateway-error.ts";
import { resolveModel } from "../../src/facade/openai/model-mapping.ts";
import { findModel, listModels } from "../../src/facade/openai/models.ts";
import { createLogger } from "../../src/telemetry/logger.ts";

const yaml = `
store: { type: memory }
auth: { enabled: false }
backends:
  a: { type: echo }
  b: { type: echo }
routes:
  chat:
    targets:
      - { backend: a, model: shared-model, alias: fast }
      - { backend: b, model: chat-only }
    variants:
      - name: long
        when: { minInputTokens: 5000 }
        targets: [{ backend: b, model: long-model }]
  summaries:
    targets:
      - { backend: b, model: shared-model, alias: sum }
  vectors:
    operations: [embed]
    targets: [{ backend: a, model: shared-embed }, { backend: a, model: chat-only }]
`;
const { compiled } = compileConfig(parseConfig(yaml, "t", {}), {}, createLogger("silent"));

const reasonOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error instanceof GatewayError ? error.reason : "not a GatewayError";
  }
  return "no error";
};

test("switchyard/<workload> lets the route choose; switchyard/<workload>/<model> requests that model", () => {
  assert.deepEqual(resolveModel(compiled, "switchyard/chat", "generate"), {
    workload: "chat",
    requestedModel: "",
  });
  assert.deepEqual(resolveModel(compiled, "switchyard/chat/fast", "generate"), {
    workload: "chat",
    requestedModel: "fast",
  });
  // Model ids may contain slashes: everything after the workload is the model.
  assert.deepEqual(resolveModel(compiled, "switchyard/chat/org/model-x", "generate"), {
    workload: "chat",
    requestedModel: "org/model-x",
  });
  assert.equal(
    reasonOf(() => resolveModel(compiled, "switchyard/nowhere", "generate")),
    "model_not_found",
  );
  assert.equal(
    reasonOf(() => resolveModel(compiled, "switchyard/", "generate")),
    "model_not_found",
  );
  assert.equal(
    reasonOf(() => resolveModel(compiled, "switchyard/chat/", "generate")),
    "model_not_found",
  );
});

test("a model id or alias goes to the first route in config order that has it", () => {
  assert.deepEqual(resolveModel(compiled, "shared-model", "generate"), {
    workload: "chat",
    requestedModel: "shared-model",
  });
  assert.deepEqual(resolveModel(compiled, "sum", "generate"), {
    workload: "summaries",
    requestedModel: "sum",
  });
  // Variant targets count too.
  assert.equal(resolveModel(compiled, "long-model", "generate").workload, "chat");
  assert.equal(
    reasonOf(() => resolveModel(compiled, "gpt-4o", "generate")),
    "model_not_found",
  );
});

test("a route that serves the operation wins over an earlier one that does not", () => {
  assert.equal(resolveModel(compiled, "chat-only", "generate").workload, "chat");
  assert.equal(resolveModel(compiled, "chat-only", "embed").workload, "vectors");
  // Only in a chat route: the pipeline then answers operation_not_served, which says more than not found.
  assert.equal(resolveModel(compiled, "sum", "embed").workload, "summaries");
});

test("listModels and findModel follow the visibility filter (the access-control seam)", () => {
  const all = { workload: () => true, model: () => true };
  assert.deepEqual(
    listModels(compiled, all, 1).map((m) => m.id),
    [
      "switchyard/chat",
      "fast",
      "shared-model",
      "chat-only",
      "long-model",
      "switchyard/summaries",
      "sum",
      "switchyard/vectors",
      "shared-embed",
    ],
  );
  const narrow = { workload: (w: string) => w === "summaries", model: (m: string) => m === "sum" };
  assert.deepEqual(
    listModels(compiled, narrow, 1).map((m) => m.id),
    ["switchyard/summaries", "sum"],
  );
  assert.equal(findModel(compiled, narrow, "sum", 1).id, "sum");
  assert.equal(
    reasonOf(() => findModel(compiled, narrow, "fast", 1)),
    "model_not_found",
  );
  assert.equal(
    reasonOf(() => findModel(compiled, narrow, "switchyard/chat/fast", 1)),
    "model_not_found",
  );
  assert.equal(findModel(compiled, all, "switchyard/chat/chat-only", 1).id, "switchyard/chat/chat-only");
});
