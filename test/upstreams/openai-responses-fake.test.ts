// Fidelity of the OpenAI fake's Responses API: the official `openai` SDK (`responses.create`,
// `responses.stream`) must understand what it serves, and it must verify the encrypted reasoning it issued.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import OpenAI, { BadRequestError, NotFoundError } from "openai";
import type { ResponseInputItem } from "openai/resources/responses/responses";
import { type OpenAIFake, startOpenAIFake } from "./openai-fake.ts";

function sdk(fake: OpenAIFake): OpenAI {
  return new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 });
}

const REASONING = "First I weigh the options.\n\nThen I pick the weather tool.";

describe("OpenAI fake Responses API, driven by the official openai SDK", () => {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await startOpenAIFake({ requireApiKey: "sk-test" });
  });
  afterEach(async () => {
    await fake.close();
  });

  it("answers a unary response with text, reasoning summary, encrypted content and usage", async () => {
    fake.enqueue({ text: "It is sunny.", reasoning: REASONING });
    const response = await sdk(fake).responses.create({
      model: "gpt-5-mini",
      input: "Weather in Paris?",
      reasoning: { effort: "low", summary: "auto" },
      include: ["reasoning.encrypted_content"],
      store: false,
    });
    assert.match(response.id, /^resp_[0-9a-f]{48}$/);
    assert.equal(response.status, "completed");
    assert.equal(response.output_text, "It is sunny.");
    const reasoning = response.output[0];
    assert.equal(reasoning?.type, "reasoning");
    if (reasoning?.type !== "reasoning") return;
    assert.match(reasoning.id, /^rs_/);
    assert.deepEqual(
      reasoning.summary.map((s) => s.text),
      REASONING.split("\n\n"),
    );
    assert.match(reasoning.encrypted_content ?? "", /^gAAAAAB[A-Za-z0-9_-]+=*$/);
    assert.equal(response.usage?.output_tokens_details.reasoning_tokens, 11);
    assert.equal(response.usage?.input_tokens, 3);
    assert.equal(response.reasoning?.effort, "low");
  });

  it("sends no summary text unless asked, and no encrypted content unless included", async () => {
    fake.enqueue({ text: "ok", reasoning: REASONING });
    const response = await sdk(fake).responses.create({ model: "gpt-5-mini", input: "hi" });
    const reasoning = response.output[0];
    assert.equal(reasoning?.type, "reasoning");
    if (reasoning?.type !== "reasoning") return;
    assert.deepEqual(reasoning.summary, []);
    assert.equal(reasoning.encrypted_content, undefined);
  });

  it("streams named events the SDK's stream helper assembles into the final response", async () => {
    fake.enqueue({
      reasoning: REASONING,
      toolCalls: [{ name: "get_weather", arguments: '{"city":"Paris","unit":"celsius"}' }],
    });
    const stream = sdk(fake).responses.stream({
      model: "gpt-5-mini",
      input: [{ role: "user", content: "Weather in Paris?" }],
      reasoning: { effort: "medium", summary: "auto" },
      include: ["reasoning.encrypted_content"],
      tools: [{ type: "function", name: "get_weather", parameters: { type: "object" }, strict: false }],
      store: false,
    });
    const types: string[] = [];
    let summaryText = "";
    let argumentsText = "";
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.reasoning_summary_text.delta") summaryText += event.delta;
      if (event.type === "response.function_call_arguments.delta") argumentsText += event.delta;
    }
    const final = await stream.finalResponse();
    assert.equal(types[0], "response.created");
    assert.equal(types.at(-1), "response.completed");
    assert.equal(summaryText, REASONING.replace("\n\n", ""));
    assert.equal(argumentsText, '{"city":"Paris","unit":"celsius"}');
    const call = final.output.find((item) => item.type === "function_call");
    assert.equal(call?.type === "function_call" ? call.name : undefined, "get_weather");
    assert.match(call?.type === "function_call" ? call.call_id : "", /^call_[A-Za-z0-9]{24}$/);
    const reasoning = final.output[0];
    assert.match(reasoning?.type === "reasoning" ? (reasoning.encrypted_content ?? "") : "", /^gAAAAAB/);
  });

  it("returns log probabilities of output text only when included", async () => {
    fake.enqueue({ text: "Hi there" }, { text: "Hi there" });
    const client = sdk(fake);
    const plain = await client.responses.create({ model: "gpt-4o-mini", input: "hi" });
    const withLogprobs = await client.responses.create({
      model: "gpt-4o-mini",
      input: "hi",
      include: ["message.output_text.logprobs"],
      top_logprobs: 2,
    });
    const partOf = (r: typeof plain) => {
      const item = r.output[0];
      return item?.type === "message" ? item.content[0] : undefined;
    };
    const plainPart = partOf(plain);
    assert.deepEqual(plainPart?.type === "output_text" ? plainPart.logprobs : undefined, []);
    const part = partOf(withLogprobs);
    const logprobs = part?.type === "output_text" ? (part.logprobs ?? []) : [];
    assert.deepEqual(
      logprobs.map((l) => [l.token, l.top_logprobs.length]),
      [
        ["Hi", 2],
        [" there", 2],
      ],
    );
  });

  it("reports max_output_tokens as an incomplete response", async () => {
    fake.enqueue({ text: "It is", finishReason: "length" });
    const response = await sdk(fake).responses.create({
      model: "gpt-4o-mini",
      input: "hi",
      max_output_tokens: 2,
    });
    assert.equal(response.status, "incomplete");
    assert.equal(response.incomplete_details?.reason, "max_output_tokens");
  });

  it("accepts its encrypted reasoning back unchanged and refuses a changed byte with the API's 400", async () => {
    const client = sdk(fake);
    fake.enqueue({
      reasoning: REASONING,
      toolCalls: [{ id: "call_abc", name: "get_weather", arguments: "{}" }],
    });
    const first = await client.responses.create({
      model: "gpt-5-mini",
      input: "Weather?",
      reasoning: { effort: "low", summary: "auto" },
      include: ["reasoning.encrypted_content"],
      store: false,
      tools: [{ type: "function", name: "get_weather", parameters: { type: "object" }, strict: false }],
    });
    const reasoning = first.output[0];
    assert.ok(reasoning?.type === "reasoning" && reasoning.encrypted_content);
    const token = reasoning.encrypted_content;
    const turn = (encrypted: string): ResponseInputItem[] => [
      { role: "user", content: "Weather?" },
      { type: "reasoning", id: reasoning.id, summary: reasoning.summary, encrypted_content: encrypted },
      { type: "function_call", call_id: "call_abc", name: "get_weather", arguments: "{}" },
      { type: "function_call_output", call_id: "call_abc", output: "sunny" },
    ];
    fake.enqueue({ text: "It is sunny." });
    const second = await client.responses.create({ model: "gpt-5-mini", input: turn(token), store: false });
    assert.equal(second.output_text, "It is sunny.");

    const at = Math.floor(token.length / 2);
    const changed = `${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`;
    const refused = await client.responses
      .create({ model: "gpt-5-mini", input: turn(changed), store: false })
      .catch((e: unknown) => e);
    assert.ok(refused instanceof BadRequestError);
    assert.equal(refused.code, "invalid_encrypted_content");
    assert.match(refused.message, /The encrypted content gAAA\.\.\..{4} could not be verified\./);

    const forgotten = await client.responses
      .create({
        model: "gpt-5-mini",
        input: [
          { role: "user", content: "hi" },
          { type: "reasoning", id: reasoning.id, summary: [] },
          { role: "user", content: "again" },
        ],
        store: false,
      })
      .catch((e: unknown) => e);
    assert.ok(forgotten instanceof NotFoundError);
  });

  it("refuses what the API refuses: audio parts, input_text from the assistant, reasoning on gpt-4o", async () => {
    const client = sdk(fake);
    const refusal = (body: Record<string, unknown>) =>
      client.responses.create(body as never).then(
        () => assert.fail("expected a 400"),
        (e: unknown) => {
          assert.ok(e instanceof BadRequestError);
          return e;
        },
      );
    const audio = await refusal({
      model: "gpt-4o-mini",
      input: [
        { role: "user", content: [{ type: "input_audio", input_audio: { data: "AA==", format: "wav" } }] },
      ],
    });
    assert.equal(audio.param, "input[0].content[0]");
    assert.equal(audio.code, "invalid_value");
    const assistant = await refusal({
      model: "gpt-4o-mini",
      input: [{ role: "assistant", content: [{ type: "input_text", text: "hi" }] }],
    });
    assert.match(assistant.message, /Supported values are: 'output_text' and 'refusal'/);
    const effort = await refusal({ model: "gpt-4o-mini", input: "hi", reasoning: { effort: "low" } });
    assert.equal(effort.code, "unsupported_parameter");
    const orphan = await refusal({
      model: "gpt-4o-mini",
      input: [{ type: "function_call_output", call_id: "call_x", output: "1" }],
    });
    assert.match(orphan.message, /No tool call found for function call output with call_id call_x/);
  });
});
