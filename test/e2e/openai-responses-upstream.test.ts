// OpenAI's encrypted reasoning through the gateway, over the four client stacks: a backend with
// `api: responses` returns reasoning blocks carrying encrypted_content, the caller sends them back in
// the next turn of a tool loop, and they reach the OpenAI fake byte for byte (it refuses a changed one).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ConnectError } from "@connectrpc/connect";
import { ReasoningEffort, Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients, Code } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const M = InferenceService.method;
const THOUGHT = "The user wants the weather.\n\nI should call get_weather.";
const tool = {
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};
const question = {
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: "Weather in Paris?" } }],
};

let fake: OpenAIFake;
let gw: TestGateway;
before(async () => {
  fake = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  oa:\n    type: openai\n    api: responses\n    baseUrl: ${fake.url}/v1\n`,
      "  chat:\n    targets:\n      - { backend: oa, model: gpt-5-mini }\n",
    ),
  );
});
after(async () => {
  await gw.stop();
  await fake.close();
});

for (const index of [0, 1, 2, 3]) {
  describe(`client #${index}`, () => {
    test("encrypted reasoning round-trips unchanged through a tool loop; a changed byte is refused", async () => {
      const c = allClients(gw.url)[index]!;
      const reasoning = { effort: ReasoningEffort.LOW, includeText: true };
      fake.enqueue({
        reasoning: THOUGHT,
        toolCalls: [{ name: "get_weather", arguments: '{"city":"Paris"}' }],
      });
      const { messages } = await c.serverStream(M.generateStream, {
        workload: "chat",
        messages: [question],
        tools: [tool],
        reasoning,
      });
      const deltas = messages.flatMap((m) => (m.event.case === "reasoningDelta" ? [m.event.value] : []));
      const encrypted = deltas.map((d) => d.encryptedContent).join("");
      const id = deltas.map((d) => d.id).find((x) => x !== "") ?? "";
      assert.match(encrypted, /^gAAAAAB/);
      assert.equal(deltas.map((d) => d.text).join(""), THOUGHT);
      const call = messages.flatMap((m) => (m.event.case === "toolCallDelta" ? [m.event.value] : []));
      const callId = call.find((d) => d.id !== "")?.id ?? "";
      const args = call.map((d) => d.argumentsDelta).join("");
      const final = messages.at(-1)?.event;
      assert.ok(final?.case === "final" && (final.value.usage?.reasoningTokens ?? 0) > 0);

      const turn = (sent: string) => ({
        workload: "chat",
        tools: [tool],
        reasoning,
        messages: [
          question,
          {
            role: Role.ASSISTANT,
            content: [
              {
                part: {
                  case: "reasoning" as const,
                  value: { text: THOUGHT, encryptedContent: sent, id, provider: "openai" },
                },
              },
            ],
            toolCalls: [{ id: callId, name: "get_weather", arguments: args }],
          },
          {
            role: Role.TOOL,
            toolCallId: callId,
            content: [{ part: { case: "text" as const, value: '{"temp_c":21}' } }],
          },
        ],
      });
      fake.enqueue({ text: "It is 21 °C in Paris." });
      const { message } = await c.unary(M.generate, turn(encrypted));
      assert.equal(message.text, "It is 21 °C in Paris.");
      const input = fake.requests.at(-1)?.body as { input: Record<string, unknown>[] };
      assert.deepEqual(input.input[1], {
        type: "reasoning",
        id,
        encrypted_content: encrypted,
        summary: [{ type: "summary_text", text: THOUGHT }],
      });

      const at = Math.floor(encrypted.length / 2);
      const changed = `${encrypted.slice(0, at)}${encrypted[at] === "x" ? "y" : "x"}${encrypted.slice(at + 1)}`;
      const refused = await c.unary(M.generate, turn(changed)).then(
        () => undefined,
        (e: ConnectError) => e,
      );
      assert.equal(refused?.code, Code.InvalidArgument);
      assert.equal(refused.metadata.get("x-switchyard-reason"), "upstream_rejected_request");
      assert.doesNotMatch(refused.rawMessage, /gAAA/);
      c.close();
    });
  });
}
