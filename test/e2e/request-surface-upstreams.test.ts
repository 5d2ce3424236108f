// The 2026 request surface through a real gateway to each provider family's fake, over the four client
// stacks: the fake records the exact upstream request for media, reasoning, cache breakpoints,
// parallel_tool_calls and logprobs, and the gateway's unary answer and stream carry the reasoning,
// logprobs and every usage class the fake reported. Reasoning signatures round-trip unchanged (the
// Anthropic and Gemini fakes verify what they issued).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { ConnectError } from "@connectrpc/connect";
import { ReasoningEffort, Role, ServiceTier } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { UsageAccuracy } from "../../gen/switchyard/v1/usage_pb.ts";
import { allClients, Code, type TestClient } from "../helpers/clients.ts";
import { redactedDataMatches, signatureMatches } from "../upstreams/anthropic-thinking.ts";
import {
  audioTokens as audioTokensOf,
  DOCUMENT_TOKENS,
  IMAGE_TOKENS,
  logprobStep,
} from "../upstreams/gemini-wire.ts";
import { fakeLogprob } from "../upstreams/openai-extras.ts";
import { splitWords } from "../upstreams/openai-wire.ts";
import {
  audio,
  b64,
  FIVE_MINUTES,
  IMAGE_URL,
  imageBytes,
  imageUrl,
  LOOKUP,
  lastBody,
  ONE_HOUR,
  PDF,
  PDF_URL,
  PNG,
  pdf,
  pdfUrl,
  readStream,
  reasoningBlocks,
  reasoningPart,
  startUpstreams,
  system,
  text,
  textDocument,
  type Upstreams,
  user,
  WAV,
} from "./request-surface-fixtures.ts";

const M = InferenceService.method;
type Json = Record<string, unknown>;
const refusal = (e: unknown) => e as ConnectError;

let up: Upstreams;
before(async () => {
  up = await startUpstreams();
});
after(async () => {
  await up.stop();
});

/** What OpenAI's fake sends for a piece: its logprob and `top` alternatives (openai-extras.ts). */
function openAILogprobs(pieces: string[], top: number) {
  return pieces.map((token) => ({
    token,
    logprob: fakeLogprob(token),
    bytes: [...Buffer.from(token)],
    top: Array.from({ length: top }, (_, rank) => [
      rank === 0 ? token : `${token}~${rank}`,
      fakeLogprob(token, rank),
    ]),
  }));
}
const logprobsOf = (
  list: {
    token: string;
    logprob: number;
    bytes: Uint8Array;
    topLogprobs: { token: string; logprob: number }[];
  }[],
) =>
  list.map((l) => ({
    token: l.token,
    logprob: l.logprob,
    bytes: [...l.bytes],
    top: l.topLogprobs.map((t) => [t.token, t.logprob]),
  }));

for (const index of [0, 1, 2, 3]) {
  describe(`client #${index}`, () => {
    let c: TestClient;
    before(() => {
      c = allClients(up.gw.url)[index]!;
    });
    after(() => c.close());

    describe("OpenAI", () => {
      test("image by URL and by bytes, audio and a PDF become image_url, input_audio and file parts", async () => {
        up.openai.enqueue({
          text: "Seen.",
          usage: { prompt_tokens: 40, completion_tokens: 2, audio_tokens: 12 },
        });
        const { message } = await c.unary(M.generate, {
          workload: "openai",
          messages: [user(text("look"), imageUrl(), imageBytes(), audio(), pdf())],
        });
        assert.deepEqual(lastBody(up.openai).messages, [
          {
            role: "user",
            content: [
              { type: "text", text: "look" },
              { type: "image_url", image_url: { url: IMAGE_URL, detail: "low" } },
              { type: "image_url", image_url: { url: `data:image/png;base64,${b64(PNG)}` } },
              { type: "input_audio", input_audio: { data: b64(WAV), format: "wav" } },
              {
                type: "file",
                file: { file_data: `data:application/pdf;base64,${b64(PDF)}`, filename: "spec.pdf" },
              },
            ],
          },
        ]);
        assert.equal(message.text, "Seen.");
        const expected = {
          inputTokens: 40,
          outputTokens: 2,
          cachedInputTokens: 0,
          reasoningTokens: 0,
          audioInputTokens: 12,
          accuracy: UsageAccuracy.EXACT,
        };
        assert.deepEqual(pickUsage(message.usage), expected);

        up.openai.enqueue({
          text: "Seen.",
          usage: { prompt_tokens: 40, completion_tokens: 2, audio_tokens: 12 },
        });
        const { messages } = await c.serverStream(M.generateStream, {
          workload: "openai",
          messages: [user(text("look"), imageUrl(), imageBytes(), audio(), pdf())],
        });
        assert.deepEqual(pickUsage(readStream(messages).final.usage), expected);
      });

      test("effort and budget become reasoning_effort; reasoning and every usage class come back", async () => {
        const usage = {
          prompt_tokens: 30,
          completion_tokens: 9,
          reasoning_tokens: 6,
          cached_tokens: 20,
          cache_write_tokens: 4,
        };
        up.openai.enqueue({
          reasoning: "Rayleigh scattering, shorter waves",
          text: "Blue light scatters.",
          usage,
        });
        const { message } = await c.unary(M.generate, {
          workload: "openai",
          messages: [user(text("why is the sky blue"))],
          reasoning: { effort: ReasoningEffort.HIGH, includeText: true },
        });
        assert.equal(lastBody(up.openai).reasoning_effort, "high");
        assert.deepEqual(
          message.reasoning.map((r) => [r.text, r.signature, r.provider]),
          [["Rayleigh scattering, shorter waves", "", "openai"]],
        );
        const expected = {
          inputTokens: 30,
          outputTokens: 9,
          cachedInputTokens: 20,
          reasoningTokens: 6,
          cacheWriteTokens: 4,
          audioInputTokens: 0,
          accuracy: UsageAccuracy.EXACT,
        };
        assert.deepEqual(pickUsage(message.usage), expected);

        up.openai.enqueue({
          reasoning: "Rayleigh scattering, shorter waves",
          text: "Blue light scatters.",
          usage,
        });
        const { messages } = await c.serverStream(M.generateStream, {
          workload: "openai",
          messages: [user(text("why is the sky blue"))],
          reasoning: { budgetTokens: 10_000, includeText: true },
        });
        const sent = lastBody(up.openai);
        assert.equal(sent.reasoning_effort, "medium"); // Chat Completions has no budget: the nearest effort
        assert.deepEqual(sent.stream_options, { include_usage: true });
        const s = readStream(messages);
        assert.equal(s.reasoningText, "Rayleigh scattering, shorter waves");
        assert.deepEqual([...new Set(s.reasoning.map((d) => d.provider))], ["openai"]);
        assert.ok(s.reasoning.length > 1 && s.thoughtsBeforeText, messages.map((m) => m.event.case).join());
        assert.equal(s.text, "Blue light scatters.");
        assert.deepEqual(pickUsage(s.final.usage), expected);

        up.openai.enqueue({ text: "ok" });
        await c.unary(M.generate, {
          workload: "openai",
          messages: [user(text("small"))],
          reasoning: { budgetTokens: 2000 },
        });
        assert.equal(lastBody(up.openai).reasoning_effort, "low");
      });

      test("cache breakpoints: prompt_cache_key travels, no marker leaks into the body", async () => {
        up.openai.enqueue({
          text: "cached",
          usage: { prompt_tokens: 12, completion_tokens: 1, cached_tokens: 8 },
        });
        const { message } = await c.unary(M.generate, {
          workload: "openai",
          messages: [
            system(text("You are terse.", ONE_HOUR)),
            { ...user(text("hi")), cacheControl: FIVE_MINUTES },
          ],
          tools: [{ ...LOOKUP, cacheControl: FIVE_MINUTES }],
          promptCacheKey: "tenant-7",
        });
        const sent = lastBody(up.openai);
        assert.equal(sent.prompt_cache_key, "tenant-7");
        assert.doesNotMatch(JSON.stringify(sent), /cache_control|ephemeral/);
        assert.deepEqual(sent.messages, [
          { role: "system", content: [{ type: "text", text: "You are terse." }] },
          { role: "user", content: "hi" },
        ]);
        assert.equal(message.usage?.cachedInputTokens, 8);
      });

      test("parallel_tool_calls false is sent with a tool (and dropped without one)", async () => {
        up.openai.enqueue({ toolCalls: [{ name: "lookup", arguments: '{"q":"a"}' }] });
        const { message } = await c.unary(M.generate, {
          workload: "openai",
          messages: [user(text("look up a"))],
          tools: [LOOKUP],
          parallelToolCalls: false,
        });
        const sent = lastBody(up.openai);
        assert.equal(sent.parallel_tool_calls, false);
        assert.deepEqual(sent.tools, [{ type: "function", function: LOOKUP }]);
        assert.deepEqual(
          message.toolCalls.map((t) => [t.name, t.arguments]),
          [["lookup", '{"q":"a"}']],
        );

        up.openai.enqueue({ text: "none" });
        await c.unary(M.generate, {
          workload: "openai",
          messages: [user(text("x"))],
          parallelToolCalls: false,
        });
        assert.equal("parallel_tool_calls" in lastBody(up.openai), false);
      });

      test("logprobs: sent as logprobs/top_logprobs, returned in the answer and in the stream", async () => {
        const request = {
          workload: "openai",
          messages: [user(text("count"))],
          logprobs: true,
          topLogprobs: 2,
        };
        up.openai.enqueue({ text: "one two three" });
        const { message } = await c.unary(M.generate, request);
        const sent = lastBody(up.openai);
        assert.deepEqual([sent.logprobs, sent.top_logprobs], [true, 2]);
        const expected = openAILogprobs(splitWords("one two three"), 2);
        assert.deepEqual(logprobsOf(message.logprobs), expected);

        up.openai.enqueue({ text: "one two three" });
        const s = readStream((await c.serverStream(M.generateStream, request)).messages);
        assert.deepEqual(logprobsOf(s.logprobs), expected);
      });
    });

    describe("Mistral", () => {
      test("image by URL and by bytes, audio and a PDF become image_url, input_audio and document_url chunks", async () => {
        up.mistral.enqueue({ text: "Seen.", usage: { prompt_tokens: 33, completion_tokens: 2 } });
        const { message } = await c.unary(M.generate, {
          workload: "mistral",
          messages: [user(text("look"), imageUrl(), imageBytes(), audio(), pdf())],
        });
        assert.deepEqual(lastBody(up.mistral).messages, [
          {
            role: "user",
            content: [
              { type: "text", text: "look" },
              { type: "image_url", image_url: { url: IMAGE_URL, detail: "low" } },
              { type: "image_url", image_url: { url: `data:image/png;base64,${b64(PNG)}` } },
              // Mistral sniffs the audio format: the chunk is the bare base64.
              { type: "input_audio", input_audio: b64(WAV) },
              {
                type: "document_url",
                document_url: `data:application/pdf;base64,${b64(PDF)}`,
                document_name: "spec.pdf",
              },
            ],
          },
        ]);
        assert.deepEqual(pickUsage(message.usage), {
          inputTokens: 33,
          outputTokens: 2,
          cachedInputTokens: 0,
          accuracy: UsageAccuracy.EXACT,
        });
      });

      test("effort and budget become reasoning_effort; thinking chunks come back and go back", async () => {
        const usage = { prompt_tokens: 9, completion_tokens: 7 };
        up.mistral.enqueue({ reasoning: "Light scatters by wavelength", text: "Blue.", usage });
        const { message } = await c.unary(M.generate, {
          workload: "mistral",
          messages: [user(text("why is the sky blue"))],
          reasoning: { effort: ReasoningEffort.LOW, includeText: true },
        });
        assert.equal(lastBody(up.mistral).reasoning_effort, "low");
        assert.equal(message.text, "Blue.");
        assert.deepEqual(
          message.reasoning.map((r) => [r.text, r.provider]),
          [["Light scatters by wavelength", "mistral"]],
        );
        // Mistral reports no cache or reasoning classes: they stay unset (unknown), not 0.
        assert.deepEqual(pickUsage(message.usage), {
          inputTokens: 9,
          outputTokens: 7,
          cachedInputTokens: 0,
          accuracy: UsageAccuracy.EXACT,
        });

        up.mistral.enqueue({ reasoning: "Light scatters by wavelength", text: "Blue.", usage });
        const { messages } = await c.serverStream(M.generateStream, {
          workload: "mistral",
          messages: [user(text("why is the sky blue"))],
          reasoning: { budgetTokens: 30_000 },
        });
        assert.equal(lastBody(up.mistral).reasoning_effort, "high");
        const s = readStream(messages);
        assert.equal(s.reasoningText, "Light scatters by wavelength");
        assert.deepEqual([...new Set(s.reasoning.map((d) => d.provider))], ["mistral"]);
        assert.ok(s.reasoning.length > 1 && s.thoughtsBeforeText, messages.map((m) => m.event.case).join());
        assert.equal(s.text, "Blue.");
        assert.deepEqual([s.final.usage?.inputTokens, s.final.usage?.outputTokens], [9, 7]);

        up.mistral.enqueue({ text: "Sunsets are red." });
        await c.unary(M.generate, {
          workload: "mistral",
          messages: [
            user(text("why is the sky blue")),
            {
              role: Role.ASSISTANT,
              content: [
                reasoningPart({ text: "Light scatters by wavelength", provider: "mistral" }),
                text("Blue."),
              ],
            },
            user(text("and sunsets?")),
          ],
          reasoning: { effort: ReasoningEffort.LOW },
        });
        assert.deepEqual((lastBody(up.mistral).messages as Json[])[1], {
          role: "assistant",
          content: [
            { type: "thinking", thinking: [{ type: "text", text: "Light scatters by wavelength" }] },
            { type: "text", text: "Blue." },
          ],
        });
      });

      test("parallel_tool_calls false and the cache key are sent; no cache marker; ids are Mistral's", async () => {
        up.mistral.enqueue({ toolCalls: [{ name: "lookup", arguments: '{"q":"a"}' }] });
        const { message } = await c.unary(M.generate, {
          workload: "mistral",
          messages: [{ ...user(text("look up a")), cacheControl: FIVE_MINUTES }],
          tools: [LOOKUP],
          parallelToolCalls: false,
          promptCacheKey: "tenant-7",
        });
        const sent = lastBody(up.mistral);
        assert.deepEqual([sent.parallel_tool_calls, sent.prompt_cache_key], [false, "tenant-7"]);
        assert.doesNotMatch(JSON.stringify(sent), /cache_control|ephemeral/);
        assert.match(message.toolCalls[0]?.id ?? "", /^[A-Za-z0-9]{9}$/);
      });

      test("logprobs are refused at routing: Mistral returns none", async () => {
        const before = up.mistral.requests.length;
        const e = await c
          .unary(M.generate, { workload: "mistral", messages: [user(text("x"))], logprobs: true })
          .then(() => undefined, refusal);
        assert.equal(e?.code, Code.FailedPrecondition);
        assert.equal(e.metadata.get("x-switchyard-reason"), "no_capable_target");
        assert.match(e.rawMessage, /no logprobs/);
        assert.equal(up.mistral.requests.length, before);
      });
    });

    describe("Anthropic", () => {
      const ephemeral = (ttl?: string) => ({ type: "ephemeral", ...(ttl ? { ttl } : {}) });

      test("image by URL and by bytes and a PDF become image and document blocks", async () => {
        up.anthropic.enqueue({ text: "Seen." });
        await c.unary(M.generate, {
          workload: "claude",
          messages: [user(text("look"), imageUrl(), imageBytes(), pdf())],
        });
        assert.deepEqual(lastBody(up.anthropic).messages, [
          {
            role: "user",
            content: [
              { type: "text", text: "look" },
              { type: "image", source: { type: "url", url: IMAGE_URL } },
              { type: "image", source: { type: "base64", media_type: "image/png", data: b64(PNG) } },
              {
                type: "document",
                source: { type: "base64", media_type: "application/pdf", data: b64(PDF) },
                title: "spec",
              },
            ],
          },
        ]);
      });

      test("audio: routing skips Anthropic, refuses a route of only Anthropic, and the adapter backstops", async () => {
        const before = up.anthropic.requests.length;
        const hear = (workload: string) =>
          c.unary(M.generate, { workload, messages: [user(text("hear"), audio())] });
        const { message } = await hear("claude-or-echo");
        assert.equal(message.routing?.backend, "echo");
        assert.match(message.routing?.reason ?? "", /skipped claude \(no audio input/);

        const routed = await hear("claude").then(() => undefined, refusal);
        assert.equal(routed?.code, Code.FailedPrecondition);
        assert.equal(routed.metadata.get("x-switchyard-reason"), "no_capable_target");
        assert.match(routed.rawMessage, /no audio input/);

        // A backend configured to hear anyway: the adapter refuses before any call, naming the part.
        const refused = await hear("claude-hears").then(() => undefined, refusal);
        assert.equal(refused?.code, Code.InvalidArgument);
        assert.match(refused.rawMessage, /messages\[0\]\.parts\[1\]: Anthropic takes no audio input/);
        assert.equal(up.anthropic.requests.length, before);
      });

      test("effort and budget become thinking budgets; signed thinking and every usage class come back", async () => {
        const usage = {
          input_tokens: 10,
          output_tokens: 20,
          cache_read_input_tokens: 100,
          cache_creation: { ephemeral_5m_input_tokens: 30, ephemeral_1h_input_tokens: 50 },
          thinking_tokens: 6,
        };
        const thought = "The sky scatters blue light most";
        up.anthropic.enqueue({ thinking: [{ text: thought }], text: "Rayleigh.", usage });
        const { message } = await c.unary(M.generate, {
          workload: "claude",
          messages: [user(text("why is the sky blue"))],
          reasoning: { effort: ReasoningEffort.HIGH, includeText: true },
        });
        const sent = lastBody(up.anthropic);
        assert.deepEqual(sent.thinking, { type: "enabled", budget_tokens: 16_384, display: "summarized" });
        assert.equal(sent.max_tokens, 4096 + 16_384); // the budget on top of the backend's default cap
        assert.equal(message.reasoning.length, 1);
        const [block] = message.reasoning;
        assert.deepEqual([block?.text, block?.provider], [thought, "anthropic"]);
        assert.ok(signatureMatches(thought, block?.signature ?? ""), "the signature the fake issued");
        const expected = {
          inputTokens: 10 + 100 + 80, // Anthropic's input_tokens exclude cache reads and writes
          outputTokens: 20,
          cachedInputTokens: 100,
          reasoningTokens: 6,
          cacheWriteTokens: 80,
          cacheWrite1hTokens: 50,
          accuracy: UsageAccuracy.EXACT,
        };
        assert.deepEqual(pickUsage(message.usage), expected);

        up.anthropic.enqueue({ thinking: [{ text: thought }], text: "Rayleigh.", usage });
        const { messages } = await c.serverStream(M.generateStream, {
          workload: "claude",
          messages: [user(text("why is the sky blue"))],
          sampling: { maxOutputTokens: 3000 },
          reasoning: { budgetTokens: 2048, includeText: true },
        });
        const streamed = lastBody(up.anthropic);
        assert.deepEqual(streamed.thinking, { type: "enabled", budget_tokens: 2048, display: "summarized" });
        assert.equal(streamed.max_tokens, 3000);
        const s = readStream(messages);
        assert.equal(s.reasoningText, thought);
        assert.ok(s.reasoning.length > 1 && s.thoughtsBeforeText, messages.map((m) => m.event.case).join());
        assert.equal(s.signatures.length, 1);
        assert.ok(signatureMatches(thought, s.signatures[0] ?? ""));
        assert.equal(s.text, "Rayleigh.");
        assert.deepEqual(pickUsage(s.final.usage), expected);
      });

      test("cache breakpoints on a tool, a system part, a user part and a message become cache_control", async () => {
        up.anthropic.enqueue({ text: "ok", usage: { input_tokens: 3, cache_creation_input_tokens: 40 } });
        const { message } = await c.unary(M.generate, {
          workload: "claude",
          messages: [
            system(text("You are terse.", ONE_HOUR)),
            { ...user(text("a long document", FIVE_MINUTES), text("the question")), cacheControl: {} },
          ],
          tools: [{ ...LOOKUP, cacheControl: ONE_HOUR }],
        });
        const sent = lastBody(up.anthropic);
        assert.deepEqual(sent.tools, [
          {
            name: "lookup",
            description: LOOKUP.description,
            input_schema: LOOKUP.parameters,
            cache_control: ephemeral("1h"),
          },
        ]);
        assert.deepEqual(sent.system, [
          { type: "text", text: "You are terse.", cache_control: ephemeral("1h") },
        ]);
        assert.deepEqual(sent.messages, [
          {
            role: "user",
            content: [
              { type: "text", text: "a long document", cache_control: ephemeral("5m") },
              { type: "text", text: "the question", cache_control: ephemeral() },
            ],
          },
        ]);
        assert.deepEqual(
          [message.usage?.inputTokens, message.usage?.cacheWriteTokens, message.usage?.cacheWrite1hTokens],
          [43, 40, 0],
        );
      });

      test("parallel_tool_calls false becomes disable_parallel_tool_use; logprobs are refused at routing", async () => {
        up.anthropic.enqueue({ toolUses: [{ name: "lookup", input: { q: "a" } }] });
        const { message } = await c.unary(M.generate, {
          workload: "claude",
          messages: [user(text("look up a"))],
          tools: [LOOKUP],
          parallelToolCalls: false,
        });
        assert.deepEqual(lastBody(up.anthropic).tool_choice, {
          type: "auto",
          disable_parallel_tool_use: true,
        });
        assert.deepEqual(
          message.toolCalls.map((t) => [t.name, t.arguments]),
          [["lookup", '{"q":"a"}']],
        );

        const e = await c
          .unary(M.generate, { workload: "claude", messages: [user(text("x"))], logprobs: true })
          .then(() => undefined, refusal);
        assert.equal(e?.code, Code.FailedPrecondition);
        assert.match(e.rawMessage, /no logprobs/);
      });

      test("a reasoning conversation with a tool call sends the thinking signature back unchanged", async () => {
        const thought = "I should look the city up";
        up.anthropic.enqueue({
          thinking: [{ text: thought }],
          toolUses: [{ name: "lookup", input: { q: "paris" } }],
        });
        const first = {
          workload: "claude",
          messages: [user(text("where is paris"))],
          tools: [LOOKUP],
          reasoning: { effort: ReasoningEffort.LOW, includeText: true },
        };
        const s = readStream((await c.serverStream(M.generateStream, first)).messages);
        const blocks = reasoningBlocks(s.reasoning);
        const call = {
          id: s.toolCalls[0]?.id ?? "",
          name: "lookup",
          arguments: s.toolCalls.map((t) => t.argumentsDelta).join(""),
        };
        const turn = (reasoning: typeof blocks) => ({
          ...first,
          messages: [
            ...first.messages,
            { role: Role.ASSISTANT, content: reasoning.map(reasoningPart), toolCalls: [call] },
            { role: Role.TOOL, toolCallId: call.id, content: [text("France")] },
          ],
        });
        up.anthropic.enqueue({ text: "In France." });
        const { message } = await c.unary(M.generate, turn(blocks));
        assert.equal(message.text, "In France.");
        const sent = lastBody<{ messages: Json[] }>(up.anthropic).messages;
        assert.deepEqual(sent[1], {
          role: "assistant",
          content: [
            { type: "thinking", thinking: thought, signature: s.signatures[0] },
            { type: "tool_use", id: call.id, name: "lookup", input: { q: "paris" } },
          ],
        });

        // One byte off and the fake (like the API) refuses the turn.
        const tampered = blocks.map((b) => ({ ...b, text: `${b.text}.` }));
        const e = await c.unary(M.generate, turn(tampered)).then(() => undefined, refusal);
        assert.equal(e?.code, Code.InvalidArgument);
        assert.equal(e.metadata.get("x-switchyard-reason"), "upstream_rejected_request");
      });

      test("thinking text omitted: the empty, still signed block streams and round-trips", async () => {
        up.anthropic.enqueue({
          thinking: [{ text: "hidden reasoning" }],
          toolUses: [{ name: "lookup", input: {} }],
        });
        const first = {
          workload: "claude",
          messages: [user(text("look it up"))],
          tools: [LOOKUP],
          reasoning: { effort: ReasoningEffort.MEDIUM, includeText: false },
        };
        const s = readStream((await c.serverStream(M.generateStream, first)).messages);
        assert.deepEqual(lastBody(up.anthropic).thinking, {
          type: "enabled",
          budget_tokens: 4096,
          display: "omitted",
        });
        const blocks = reasoningBlocks(s.reasoning);
        assert.equal(blocks.length, 1);
        assert.equal(blocks[0]?.text, "");
        assert.ok(signatureMatches("", blocks[0]?.signature ?? ""));
        const id = s.toolCalls[0]?.id ?? "";
        up.anthropic.enqueue({ text: "Found." });
        const { message } = await c.unary(M.generate, {
          ...first,
          messages: [
            ...first.messages,
            {
              role: Role.ASSISTANT,
              content: blocks.map(reasoningPart),
              toolCalls: [{ id, name: "lookup", arguments: "{}" }],
            },
            { role: Role.TOOL, toolCallId: id, content: [text("nothing")] },
          ],
        });
        assert.equal(message.text, "Found.");
        assert.deepEqual(
          ((lastBody<{ messages: Json[] }>(up.anthropic).messages[1] as Json).content as Json[])[0],
          {
            type: "thinking",
            thinking: "",
            signature: blocks[0]?.signature,
          },
        );
      });

      test("a redacted thinking block comes back in the answer and the stream, and goes back as it came", async () => {
        up.anthropic.enqueue({ thinking: [{ redacted: true }, { text: "visible" }], text: "Done." });
        const request = {
          workload: "claude",
          messages: [user(text("think"))],
          reasoning: { effort: ReasoningEffort.LOW, includeText: true },
        };
        const { message } = await c.unary(M.generate, request);
        const [redacted, visible] = message.reasoning;
        assert.equal(redacted?.redacted, true);
        assert.ok(redactedDataMatches(redacted?.encryptedContent ?? ""));
        assert.ok(signatureMatches("visible", visible?.signature ?? ""));

        up.anthropic.enqueue({ thinking: [{ redacted: true }, { text: "visible" }], text: "Done." });
        const s = readStream((await c.serverStream(M.generateStream, request)).messages);
        const [streamedRedacted, streamedVisible] = reasoningBlocks(s.reasoning);
        assert.equal(streamedRedacted?.redacted, true);
        assert.ok(redactedDataMatches(streamedRedacted?.encryptedContent ?? ""));
        assert.equal(streamedVisible?.text, "visible");
        assert.ok(signatureMatches("visible", streamedVisible?.signature ?? ""));

        up.anthropic.enqueue({ text: "Again." });
        await c.unary(M.generate, {
          ...request,
          messages: [
            ...request.messages,
            { role: Role.ASSISTANT, content: [...message.reasoning.map(reasoningPart), text("Done.")] },
            user(text("again")),
          ],
        });
        assert.deepEqual((lastBody<{ messages: Json[] }>(up.anthropic).messages[1] as Json).content, [
          { type: "redacted_thinking", data: redacted?.encryptedContent },
          { type: "thinking", thinking: "visible", signature: visible?.signature },
          { type: "text", text: "Done." },
        ]);
      });
    });

    describe("Gemini", () => {
      const SIG = {
        thought: Buffer.from("gemini thought signature").toString("base64"),
        text: Buffer.from("gemini text signature").toString("base64"),
        call: Buffer.from("gemini call signature").toString("base64"),
      };

      test("image by URL and by bytes, audio and a PDF become fileData and inlineData parts, counted by modality", async () => {
        up.gemini.enqueue({ text: "Seen." });
        const { message } = await c.unary(M.generate, {
          workload: "gemini",
          messages: [user(text("look"), imageUrl(), imageBytes(), audio(), pdf())],
        });
        assert.deepEqual(lastBody(up.gemini).contents, [
          {
            role: "user",
            parts: [
              { text: "look" },
              {
                fileData: { mimeType: "image/png", fileUri: IMAGE_URL },
                mediaResolution: { level: "MEDIA_RESOLUTION_LOW" },
              },
              { inlineData: { mimeType: "image/png", data: b64(PNG) } },
              { inlineData: { mimeType: "audio/wav", data: b64(WAV) } },
              { inlineData: { mimeType: "application/pdf", data: b64(PDF) } },
            ],
          },
        ]);
        const audioTokens = audioTokensOf(b64(WAV));
        const expected = {
          inputTokens: 1 + 2 * IMAGE_TOKENS + audioTokens + DOCUMENT_TOKENS,
          outputTokens: 1,
          cachedInputTokens: 0,
          audioInputTokens: audioTokens,
          imageInputTokens: 2 * IMAGE_TOKENS,
          accuracy: UsageAccuracy.EXACT,
        };
        assert.deepEqual(pickUsage(message.usage), expected);

        up.gemini.enqueue({ text: "Seen." });
        const { messages } = await c.serverStream(M.generateStream, {
          workload: "gemini",
          messages: [user(text("look"), imageUrl(), imageBytes(), audio(), pdf())],
        });
        assert.deepEqual(pickUsage(readStream(messages).final.usage), expected);
      });

      test("effort and budget become thinkingConfig; thoughts, signatures and every usage class come back", async () => {
        const usage = {
          promptTokenCount: 8,
          candidatesTokenCount: 2,
          cachedContentTokenCount: 5,
          thoughtsTokenCount: 4,
        };
        const script = {
          thoughts: [{ text: "Consider the scattering", signature: SIG.thought }],
          chunks: ["Blue", " light."],
          textSignature: SIG.text,
          usage,
        };
        up.gemini.enqueue(script);
        const { message } = await c.unary(M.generate, {
          workload: "gemini",
          messages: [user(text("why is the sky blue"))],
          reasoning: { effort: ReasoningEffort.HIGH, includeText: true },
        });
        const config = (lastBody(up.gemini).generationConfig ?? {}) as Json;
        // Gemini 2.5 has no thinking levels: the effort is the budget Google's own mapping gives it.
        assert.deepEqual(config.thinkingConfig, { includeThoughts: true, thinkingBudget: 24_576 });
        assert.equal(message.text, "Blue light.");
        assert.deepEqual(
          message.reasoning.map((r) => [r.text, r.signature, r.provider]),
          [
            ["Consider the scattering", SIG.thought, "gemini"],
            ["", SIG.text, "gemini"],
          ],
        );
        const expected = {
          inputTokens: 8,
          outputTokens: 2 + 4, // thinking is billed as output
          cachedInputTokens: 5,
          reasoningTokens: 4,
          accuracy: UsageAccuracy.EXACT,
        };
        assert.deepEqual(pickUsage(message.usage), expected);

        // Sent back, the thought keeps its signature and the answer's signature returns to its text.
        up.gemini.enqueue({ text: "Red." });
        await c.unary(M.generate, {
          workload: "gemini",
          messages: [
            user(text("why is the sky blue")),
            { role: Role.ASSISTANT, content: [...message.reasoning.map(reasoningPart), text(message.text)] },
            user(text("and sunsets?")),
          ],
        });
        assert.deepEqual(lastBody<{ contents: Json[] }>(up.gemini).contents[1], {
          role: "model",
          parts: [
            { text: "Consider the scattering", thought: true, thoughtSignature: SIG.thought },
            { text: "Blue light.", thoughtSignature: SIG.text },
          ],
        });

        up.gemini.enqueue(script);
        const { messages } = await c.serverStream(M.generateStream, {
          workload: "gemini3",
          messages: [user(text("why is the sky blue"))],
          reasoning: { effort: ReasoningEffort.HIGH, includeText: true },
        });
        const streamed = (lastBody(up.gemini).generationConfig ?? {}) as Json;
        assert.deepEqual(streamed.thinkingConfig, { includeThoughts: true, thinkingLevel: "HIGH" });
        const s = readStream(messages);
        assert.equal(s.reasoningText, "Consider the scattering");
        assert.ok(s.thoughtsBeforeText, messages.map((m) => m.event.case).join());
        assert.deepEqual(s.signatures, [SIG.thought, SIG.text]);
        assert.equal(s.text, "Blue light.");
        assert.deepEqual(pickUsage(s.final.usage), expected);

        up.gemini.enqueue({ text: "ok" });
        await c.unary(M.generate, {
          workload: "gemini3",
          messages: [user(text("x"))],
          reasoning: { budgetTokens: 5000 },
        });
        assert.deepEqual(((lastBody(up.gemini).generationConfig ?? {}) as Json).thinkingConfig, {
          thinkingBudget: 5000,
        });
      });

      test("cache breakpoints and parallel_tool_calls have no Gemini field: the tool goes, nothing else", async () => {
        up.gemini.enqueue({ functionCalls: [{ name: "lookup", args: { q: "a" } }] });
        const { message } = await c.unary(M.generate, {
          workload: "gemini",
          messages: [
            system(text("Be terse.", ONE_HOUR)),
            { ...user(text("look up a")), cacheControl: FIVE_MINUTES },
          ],
          tools: [{ ...LOOKUP, cacheControl: FIVE_MINUTES }],
          parallelToolCalls: false,
          promptCacheKey: "tenant-7",
        });
        assert.deepEqual(lastBody(up.gemini), {
          contents: [{ role: "user", parts: [{ text: "look up a" }] }],
          systemInstruction: { parts: [{ text: "Be terse." }] },
          tools: [
            {
              functionDeclarations: [
                { name: "lookup", description: LOOKUP.description, parametersJsonSchema: LOOKUP.parameters },
              ],
            },
          ],
        });
        assert.deepEqual(
          message.toolCalls.map((t) => [t.name, t.arguments]),
          [["lookup", '{"q":"a"}']],
        );
      });

      test("logprobs: sent as responseLogprobs/logprobs, returned in the answer and in the stream", async () => {
        const request = {
          workload: "gemini",
          messages: [user(text("count"))],
          logprobs: true,
          topLogprobs: 2,
        };
        const pieces = ["one", " two", " three"];
        const expected = pieces.map((piece, i) => {
          const step = logprobStep(piece, i, 2);
          return {
            token: step.chosen.token,
            logprob: step.chosen.logProbability,
            bytes: [],
            top: step.top.map((t) => [t.token, t.logProbability]),
          };
        });
        up.gemini.enqueue({ chunks: pieces });
        const { message } = await c.unary(M.generate, request);
        const config = (lastBody(up.gemini).generationConfig ?? {}) as Json;
        assert.deepEqual([config.responseLogprobs, config.logprobs], [true, 2]);
        assert.deepEqual(logprobsOf(message.logprobs), expected);

        up.gemini.enqueue({ chunks: pieces });
        const s = readStream((await c.serverStream(M.generateStream, request)).messages);
        assert.deepEqual(logprobsOf(s.logprobs), expected);
      });

      test("a Gemini 3 reasoning conversation with a tool call sends the thought signature back on the call", async () => {
        up.gemini.enqueue({
          thoughts: [{ text: "Look the city up" }],
          functionCalls: [{ name: "lookup", args: { q: "paris" }, thoughtSignature: SIG.call }],
        });
        const first = {
          workload: "gemini3",
          messages: [user(text("where is paris"))],
          tools: [LOOKUP],
          reasoning: { effort: ReasoningEffort.LOW, includeText: true },
        };
        const s = readStream((await c.serverStream(M.generateStream, first)).messages);
        const call = {
          id: s.toolCalls[0]?.id ?? "",
          name: "lookup",
          arguments: s.toolCalls.map((t) => t.argumentsDelta).join(""),
        };
        const blocks = reasoningBlocks(s.reasoning);
        assert.deepEqual(
          blocks.filter((b) => b.signature).map((b) => [b.signature, b.id]),
          [[SIG.call, call.id]],
        );
        // The unary answer carries the same: the call's signature tied to the call's id.
        up.gemini.enqueue({
          functionCalls: [{ name: "lookup", args: { q: "paris" }, thoughtSignature: SIG.call }],
        });
        const unary = await c.unary(M.generate, first);
        assert.deepEqual(
          unary.message.reasoning.map((r) => [r.text, r.signature, r.id, r.provider]),
          [["", SIG.call, unary.message.toolCalls[0]?.id, "gemini"]],
        );
        const turn = (reasoning: typeof blocks) => ({
          ...first,
          messages: [
            ...first.messages,
            { role: Role.ASSISTANT, content: reasoning.map(reasoningPart), toolCalls: [call] },
            { role: Role.TOOL, toolCallId: call.id, content: [text('{"country":"France"}')] },
          ],
        });
        up.gemini.enqueue({ text: "In France." });
        const { message } = await c.unary(M.generate, turn(blocks));
        assert.equal(message.text, "In France.");
        const contents = lastBody<{ contents: Json[] }>(up.gemini).contents;
        assert.deepEqual(contents[1], {
          role: "model",
          parts: [{ functionCall: { name: "lookup", args: { q: "paris" } }, thoughtSignature: SIG.call }],
        });
        assert.deepEqual(contents[2], {
          role: "user",
          parts: [{ functionResponse: { name: "lookup", response: { country: "France" } } }],
        });

        // A signature the fake never issued, or none on the call, is refused as Gemini 3 does.
        const forged = Buffer.from("forged").toString("base64");
        for (const reasoning of [blocks.map((b) => (b.signature ? { ...b, signature: forged } : b)), []]) {
          const e = await c.unary(M.generate, turn(reasoning)).then(() => undefined, refusal);
          assert.equal(e?.code, Code.InvalidArgument);
          assert.equal(e.metadata.get("x-switchyard-reason"), "upstream_rejected_request");
        }
      });
    });

    describe("every family", () => {
      test("stop, seed, end user and service tier travel in each family's fields; the served tier comes back", async () => {
        const request = (workload: string, serviceTier: ServiceTier) => ({
          workload,
          messages: [user(text("hi"))],
          sampling: { stop: ["END"], seed: 42n },
          endUserId: "user-9",
          serviceTier,
        });
        const rows = [
          {
            workload: "openai",
            fake: up.openai,
            asked: ServiceTier.FLEX,
            sent: { stop: ["END"], seed: 42, safety_identifier: "user-9", service_tier: "flex" },
            served: ServiceTier.FLEX,
          },
          {
            workload: "mistral",
            fake: up.mistral,
            asked: ServiceTier.DEFAULT,
            sent: { stop: ["END"], random_seed: 42, service_tier: "standard_only" },
            served: ServiceTier.DEFAULT,
          },
          {
            workload: "claude",
            fake: up.anthropic,
            asked: ServiceTier.DEFAULT,
            sent: { stop_sequences: ["END"], metadata: { user_id: "user-9" }, service_tier: "standard_only" },
            served: ServiceTier.DEFAULT,
          },
          {
            workload: "gemini",
            fake: up.gemini,
            asked: ServiceTier.FLEX,
            sent: { generationConfig: { stopSequences: ["END"], seed: 42 }, serviceTier: "flex" },
            served: ServiceTier.UNSPECIFIED, // generateContent reports no tier
          },
        ];
        for (const row of rows) {
          const { message } = await c.unary(M.generate, request(row.workload, row.asked));
          const sent = lastBody(row.fake);
          for (const [field, value] of Object.entries(row.sent))
            assert.deepEqual(sent[field], value, `${row.workload}: ${field}`);
          assert.equal(message.serviceTier, row.served, row.workload);
          const { messages } = await c.serverStream(M.generateStream, request(row.workload, row.asked));
          assert.equal(readStream(messages).final.serviceTier, row.served, `${row.workload} stream`);
        }
      });

      test("reasoning of one family goes back only to that family; the others drop it", async () => {
        const thought = "Signed by Anthropic";
        up.anthropic.enqueue({ thinking: [{ text: thought }], text: "Hi." });
        const { message } = await c.unary(M.generate, {
          workload: "claude",
          messages: [user(text("hello"))],
          reasoning: { effort: ReasoningEffort.LOW, includeText: true },
        });
        const conversation = [
          user(text("hello")),
          { role: Role.ASSISTANT, content: [...message.reasoning.map(reasoningPart), text("Hi.")] },
          user(text("again")),
        ];
        for (const [workload, fake, assistant] of [
          ["openai", up.openai, { role: "assistant", content: [{ type: "text", text: "Hi." }] }],
          ["mistral", up.mistral, { role: "assistant", content: [{ type: "text", text: "Hi." }] }],
          ["gemini", up.gemini, { role: "model", parts: [{ text: "Hi." }] }],
        ] as const) {
          await c.unary(M.generate, { workload, messages: conversation });
          const body = lastBody(fake);
          assert.deepEqual(body.messages ?? body.contents, [
            ...(workload === "gemini"
              ? [{ role: "user", parts: [{ text: "hello" }] }]
              : [{ role: "user", content: "hello" }]),
            assistant,
            ...(workload === "gemini"
              ? [{ role: "user", parts: [{ text: "again" }] }]
              : [{ role: "user", content: "again" }]),
          ]);
        }
        up.anthropic.enqueue({ text: "Hi again." });
        await c.unary(M.generate, { workload: "claude", messages: conversation });
        assert.deepEqual((lastBody<{ messages: Json[] }>(up.anthropic).messages[1] as Json).content, [
          { type: "thinking", thinking: thought, signature: message.reasoning[0]?.signature },
          { type: "text", text: "Hi." },
        ]);
      });

      test("documents by URL and as text, and an image in a tool result, in each family's shape", async () => {
        const docs = user(pdfUrl(), textDocument());
        const toolTurn = [
          user(text("show me")),
          { role: Role.ASSISTANT, toolCalls: [{ id: "call1abcd", name: "lookup", arguments: "{}" }] },
          { role: Role.TOOL, toolCallId: "call1abcd", content: [text("here"), imageBytes()] },
        ];
        const png = b64(PNG);
        const send = (workload: string, messages: object[]) =>
          c.unary(M.generate, { workload, messages, tools: [LOOKUP] });

        await send("claude", [docs]);
        assert.deepEqual((lastBody<{ messages: Json[] }>(up.anthropic).messages[0] as Json).content, [
          { type: "document", source: { type: "url", url: PDF_URL }, title: "spec" },
          {
            type: "document",
            source: { type: "text", media_type: "text/plain", data: "Line one." },
            title: "notes",
          },
        ]);
        await send("claude", toolTurn);
        assert.deepEqual((lastBody<{ messages: Json[] }>(up.anthropic).messages[2] as Json).content, [
          {
            type: "tool_result",
            tool_use_id: "call1abcd",
            content: [
              { type: "text", text: "here" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
            ],
          },
        ]);

        await send("gemini", [docs]);
        assert.deepEqual(lastBody<{ contents: Json[] }>(up.gemini).contents[0], {
          role: "user",
          parts: [
            { fileData: { mimeType: "application/pdf", fileUri: PDF_URL } },
            { text: "notes\n\nLine one." },
          ],
        });
        await send("gemini", toolTurn);
        assert.deepEqual(lastBody<{ contents: Json[] }>(up.gemini).contents[2], {
          role: "user",
          parts: [
            {
              functionResponse: {
                name: "lookup",
                response: { output: "here" },
                parts: [{ inlineData: { mimeType: "image/png", data: png } }],
              },
            },
          ],
        });

        await send("mistral", [docs]);
        assert.deepEqual((lastBody<{ messages: Json[] }>(up.mistral).messages[0] as Json).content, [
          { type: "document_url", document_url: PDF_URL, document_name: "spec.pdf" },
          { type: "text", text: "notes\n\nLine one." },
        ]);
        await send("mistral", toolTurn);
        assert.deepEqual((lastBody<{ messages: Json[] }>(up.mistral).messages[2] as Json).content, [
          { type: "text", text: "here" },
          { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
        ]);

        // OpenAI takes no document by URL: refused before the call, naming the field.
        const before = up.openai.requests.length;
        const e = await send("openai", [docs]).then(() => undefined, refusal);
        assert.equal(e?.code, Code.InvalidArgument);
        assert.match(
          e.rawMessage,
          /messages\[0\]\.parts\[0\]\.source\.url: OpenAI takes documents as bytes or text/,
        );
        assert.equal(up.openai.requests.length, before);
        await send("openai", toolTurn);
        // Tool messages take text only at OpenAI: the image follows the tool results in a user message.
        assert.deepEqual((lastBody<{ messages: Json[] }>(up.openai).messages as Json[]).slice(2), [
          { role: "tool", content: [{ type: "text", text: "here" }], tool_call_id: "call1abcd" },
          {
            role: "user",
            content: [{ type: "image_url", image_url: { url: `data:image/png;base64,${png}` } }],
          },
        ]);
      });
    });
  });
}

/** The usage fields a test compares (cost is the price table's, tested elsewhere). */
function pickUsage(u: { [k: string]: unknown } | undefined): Json {
  const out: Json = {};
  for (const k of [
    "inputTokens",
    "outputTokens",
    "cachedInputTokens",
    "reasoningTokens",
    "cacheWriteTokens",
    "cacheWrite1hTokens",
    "audioInputTokens",
    "imageInputTokens",
    "accuracy",
  ])
    if (u?.[k] !== undefined) out[k] = u[k];
  return out;
}
