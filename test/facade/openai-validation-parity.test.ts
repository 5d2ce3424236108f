import assert from "node:assert/strict";
import { test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import {
  ReasoningEffort,
  ResponseFormatType,
  Role,
  ServiceTier,
  ToolChoiceMode,
  type ToolChoiceSchema,
} from "../../gen/switchyard/v1/generation_pb.ts";
import { GenerateRequestSchema } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { toGenerationRequest } from "../../src/api/validate.ts";
import { GatewayError } from "../../src/errors/gateway-error.ts";
import { parseChatBody, toGeneration, toWireRequest } from "../../src/facade/openai/chat-request.ts";

// The same request, written once for the gRPC API and once for the OpenAI facade, must be accepted
// or rejected by both (with the same reason) and, when accepted, become the same pipeline request.

type Msg = {
  role: "system" | "user" | "assistant" | "tool";
  text: string;
  calls: number;
  callId: string;
  nullContent: boolean;
};
type Spec = {
  messages: Msg[];
  tools: { name: string; strict: boolean }[];
  toolChoice: undefined | "auto" | "none" | "required" | { name: string };
  temperature: number | undefined;
  topP: number | undefined;
  max: { value: number; field: "max_tokens" | "max_completion_tokens" } | undefined;
  stop: { list: string[]; asString: boolean } | undefined;
  seed: number | undefined;
  format: undefined | "text" | "json_object" | { name: string; schema: boolean; strict: boolean };
  user: string;
  metadata: Record<string, string>;
  /** The issue #15 options, always valid here: each front-end's own range checks are unit-tested. */
  options: {
    effort: "low" | "medium" | "high" | undefined;
    includeReasoning: boolean;
    top: number | undefined;
    parallel: boolean | undefined;
    cacheKey: string;
    tier: "auto" | "default" | "flex" | "priority" | undefined;
  };
};

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
/** Mostly valid values, sometimes an invalid one: so that both outcomes are common. */
const mostly = <T>(valid: T[], invalid: T[]) =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...valid), weight: 12 },
    { arbitrary: fc.constantFrom(...invalid), weight: 1 },
  );
const message: fc.Arbitrary<Msg> = fc.record({
  role: fc.constantFrom("system", "user", "assistant", "tool"),
  text: mostly(["hi", "hello world"], [""]),
  calls: fc.constantFrom(0, 0, 1, 2),
  callId: mostly(["call_1"], [""]),
  nullContent: fc.boolean(),
});
const spec: fc.Arbitrary<Spec> = fc.record({
  messages: mostly([1, 2, 3], [0]).chain((n) => fc.array(message, { minLength: n, maxLength: n })),
  tools: fc.array(
    fc.record({ name: mostly(["get_weather", "ok-1"], ["bad name!", "x".repeat(65)]), strict: fc.boolean() }),
    { maxLength: 2 },
  ),
  toolChoice: mostly<Spec["toolChoice"]>(
    [undefined, "auto", "none", "required", { name: "get_weather" }],
    [{ name: "missing" }],
  ),
  temperature: optional(mostly([0, 0.7, 2], [2.5, -0.1])),
  topP: optional(mostly([0.5, 1], [0, 1.5])),
  max: optional(
    fc.record({
      value: mostly([1, 100], [-3, 0]),
      field: fc.constantFrom("max_tokens" as const, "max_completion_tokens" as const),
    }),
  ),
  stop: optional(
    fc.record({
      list: fc
        .array(mostly(["a", "END"], [""]), { maxLength: 4 })
        .chain((l) => mostly([l], [[...l, "x", "y", "z", "w"]])),
      asString: fc.boolean(),
    }),
  ),
  seed: optional(fc.constantFrom(0, 42, -1)),
  format: mostly<Spec["format"]>(
    [undefined, "text", "json_object", { name: "out", schema: true, strict: true }],
    [
      { name: "out", schema: false, strict: false },
      { name: "bad name", schema: true, strict: false },
    ],
  ),
  user: fc.constantFrom("", "u1"),
  metadata: fc.constantFrom({}, { tier: "gold" }),
  options: fc.record({
    effort: fc.constantFrom(undefined, "low" as const, "medium" as const, "high" as const),
    includeReasoning: fc.boolean(),
    top: fc.constantFrom(undefined, 0, 5, 20),
    parallel: fc.constantFrom(undefined, true, false),
    cacheKey: fc.constantFrom("", "k1"),
    tier: fc.constantFrom(
      undefined,
      "auto" as const,
      "default" as const,
      "flex" as const,
      "priority" as const,
    ),
  }),
});

const calls = (m: Msg) =>
  Array.from({ length: m.role === "assistant" ? m.calls : 0 }, (_, i) => ({
    id: `call_${i}`,
    name: "get_weather",
    arguments: '{"city":"Paris"}',
  }));
const SCHEMA = { type: "object", properties: { a: { type: "string" } } };

function openAIBody(s: Spec): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: "switchyard/chat",
    messages: s.messages.map((m) => {
      const out: Record<string, unknown> = {
        role: m.role,
        content: m.text === "" && m.nullContent ? null : m.text,
      };
      const c = calls(m);
      if (c.length > 0)
        out.tool_calls = c.map((x) => ({
          id: x.id,
          type: "function",
          function: { name: x.name, arguments: x.arguments },
        }));
      if (m.role === "tool" && m.callId) out.tool_call_id = m.callId;
      return out;
    }),
  };
  if (s.tools.length > 0)
    body.tools = s.tools.map((t) => ({
      type: "function",
      function: { name: t.name, parameters: SCHEMA, strict: t.strict },
    }));
  if (s.toolChoice !== undefined) {
    body.tool_choice =
      typeof s.toolChoice === "string"
        ? s.toolChoice
        : { type: "function", function: { name: s.toolChoice.name } };
  }
  if (s.temperature !== undefined) body.temperature = s.temperature;
  if (s.topP !== undefined) body.top_p = s.topP;
  if (s.max) body[s.max.field] = s.max.value;
  if (s.stop) body.stop = s.stop.asString && s.stop.list.length === 1 ? s.stop.list[0] : s.stop.list;
  if (s.seed !== undefined) body.seed = s.seed;
  if (s.format === "text" || s.format === "json_object") body.response_format = { type: s.format };
  else if (s.format) {
    body.response_format = {
      type: "json_schema",
      json_schema: {
        name: s.format.name,
        strict: s.format.strict,
        ...(s.format.schema ? { schema: SCHEMA } : {}),
      },
    };
  }
  if (s.user) body.user = s.user;
  body.metadata = s.metadata;
  const o = s.options;
  if (o.effort) body.reasoning_effort = o.effort;
  if (o.includeReasoning && o.effort) body.include_reasoning = true; // it needs an effort (unit-tested)
  if (o.top !== undefined) {
    body.logprobs = true;
    body.top_logprobs = o.top;
  }
  if (o.parallel !== undefined) body.parallel_tool_calls = o.parallel;
  if (o.cacheKey) body.prompt_cache_key = o.cacheKey;
  if (o.tier) body.service_tier = o.tier;
  return body;
}

const EFFORT = { low: ReasoningEffort.LOW, medium: ReasoningEffort.MEDIUM, high: ReasoningEffort.HIGH };
const TIER = {
  auto: ServiceTier.AUTO,
  default: ServiceTier.DEFAULT,
  flex: ServiceTier.FLEX,
  priority: ServiceTier.PRIORITY,
};

const ROLE = { system: Role.SYSTEM, user: Role.USER, assistant: Role.ASSISTANT, tool: Role.TOOL };
const MODE = { auto: ToolChoiceMode.AUTO, none: ToolChoiceMode.NONE, required: ToolChoiceMode.REQUIRED };

function grpcRequest(s: Spec) {
  const choice: MessageInitShape<typeof ToolChoiceSchema> | undefined =
    s.toolChoice === undefined
      ? undefined
      : typeof s.toolChoice === "string"
        ? { choice: { case: "mode", value: MODE[s.toolChoice] } }
        : { choice: { case: "functionName", value: s.toolChoice.name } };
  return create(GenerateRequestSchema, {
    workload: "chat",
    messages: s.messages.map((m) => ({
      role: ROLE[m.role],
      content: m.text === "" ? [] : [{ part: { case: "text" as const, value: m.text } }],
      toolCalls: calls(m),
      toolCallId: m.role === "tool" ? m.callId : "",
    })),
    tools: s.tools.map((t) => ({ name: t.name, parameters: SCHEMA, strict: t.strict })),
    ...(choice ? { toolChoice: choice } : {}),
    sampling: {
      stop: s.stop?.list ?? [],
      ...(s.max ? { maxOutputTokens: s.max.value } : {}),
      ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
      ...(s.topP !== undefined ? { topP: s.topP } : {}),
      ...(s.seed !== undefined ? { seed: BigInt(s.seed) } : {}),
    },
    ...(s.format === "json_object" ? { responseFormat: { type: ResponseFormatType.JSON_OBJECT } } : {}),
    ...(s.format === "text" ? { responseFormat: { type: ResponseFormatType.TEXT } } : {}),
    ...(typeof s.format === "object"
      ? {
          responseFormat: {
            type: ResponseFormatType.JSON_SCHEMA,
            schemaName: s.format.name,
            strict: s.format.strict,
            ...(s.format.schema ? { schema: SCHEMA } : {}),
          },
        }
      : {}),
    endUserId: s.user,
    metadata: s.metadata,
    providerMetadata: s.metadata,
    ...(s.options.effort
      ? { reasoning: { effort: EFFORT[s.options.effort], includeText: s.options.includeReasoning } }
      : {}),
    logprobs: s.options.top !== undefined,
    topLogprobs: s.options.top ?? 0,
    ...(s.options.parallel !== undefined ? { parallelToolCalls: s.options.parallel } : {}),
    promptCacheKey: s.options.cacheKey,
    ...(s.options.tier ? { serviceTier: TIER[s.options.tier] } : {}),
  });
}

function outcome(run: () => unknown): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    return { ok: false, reason: error.reason };
  }
}

test("the facade and the gRPC API accept and reject the same requests, and agree on the result", () => {
  let accepted = 0;
  let rejected = 0;
  fc.assert(
    fc.property(spec, (s) => {
      const viaFacade = outcome(() =>
        toGeneration(parseChatBody(openAIBody(s)), { workload: "chat", requestedModel: "" }),
      );
      const viaGrpc = outcome(() => toGenerationRequest(grpcRequest(s)));
      assert.deepEqual(viaFacade, viaGrpc);
      // The facade's own checks (messages named by OpenAI's field paths) catch everything first.
      assert.equal(outcome(() => parseChatBody(openAIBody(s))).ok, viaGrpc.ok);
      if (viaFacade.ok) {
        // The issue #15 fields, compared on the wire too: the same GenerateRequest fields as gRPC's.
        const wire = toWireRequest(parseChatBody(openAIBody(s)), { workload: "chat", requestedModel: "" });
        const grpc = grpcRequest(s);
        const pick = (r: typeof grpc) => ({
          reasoning: r.reasoning
            ? { effort: r.reasoning.effort, includeText: r.reasoning.includeText }
            : null,
          logprobs: r.logprobs,
          topLogprobs: r.topLogprobs,
          parallelToolCalls: r.parallelToolCalls,
          promptCacheKey: r.promptCacheKey,
          serviceTier: r.serviceTier,
          providerMetadata: { ...r.providerMetadata },
          endUserId: r.endUserId,
        });
        assert.deepEqual(pick(wire), pick(grpc));
      }
      if (viaFacade.ok) accepted++;
      else rejected++;
    }),
    { numRuns: 600 },
  );
  // Both branches were exercised, not just one.
  assert.ok(accepted > 100 && rejected > 100, `accepted ${accepted}, rejected ${rejected}`);
});
