import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FinishReason, Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { UsageAccuracy } from "../../gen/switchyard/v1/usage_pb.ts";
import type { GenerationRecord } from "../engine/llama-engine.ts";
import { loadTinyEngine } from "../engine/tiny-engine.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { chatPrompt, type EngineProducer } from "../upstreams/engine-source.ts";
import { type KServeFake, startKServeFake } from "../upstreams/kserve-fake.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// A real inference engine behind the gateway: llama.cpp (node-llama-cpp, CPU prebuilt) runs a tiny llama
// model that test/engine/tiny-llama.ts writes with seeded random weights, behind the OpenAI-compatible fake
// and behind the KServe v2 fake's ModelStreamInfer (vLLM profile). Text, streaming, token counts and
// cancellation all come from llama.cpp; the fakes only keep the wire format. Greedy decoding makes every
// generation of a prompt the same, so what the clients get is compared with the engine run directly.
const M = InferenceService.method;
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const QUESTION = "hello gateway, stream the model text";
const PROMPT = chatPrompt([{ role: "user", content: QUESTION }]);
const MAX_TOKENS = 24;

const loaded = await loadTinyEngine();
const skip = "skip" in loaded ? loaded.skip : false;

describe("a real llama.cpp engine behind the gateway", { skip }, () => {
  if ("skip" in loaded) return;
  const { engine } = loaded;
  const produce: EngineProducer = (request) => engine.generate(request.prompt, request);
  let openai: OpenAIFake;
  let triton: KServeFake;
  let gw: TestGateway;
  /** The engine's own answer to PROMPT, run directly (no fake, no gateway). */
  let direct: GenerationRecord;

  before(async () => {
    const run = engine.generate(PROMPT, { maxTokens: MAX_TOKENS, signal: new AbortController().signal });
    for await (const _ of run);
    direct = engine.generations.at(-1)!;
    openai = await startOpenAIFake();
    openai.setDefault({ kind: "engine", engine: produce });
    triton = await startKServeFake({ models: { llama: { profile: "vllm" } } });
    triton.setDefault({ kind: "engine", engine: produce });
    gw = await startTestGateway(
      configYaml(
        `  llama-server:\n    type: openai\n    baseUrl: ${openai.url}/v1\n` +
          `  triton:\n    type: kserve\n    address: ${triton.address}\n    profile: vllm\n`,
        "  via-openai:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: llama-server, model: tiny-llama }\n" +
          "  via-kserve:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: triton, model: llama }\n",
      ),
    );
  });
  after(async () => {
    await gw?.stop();
    await openai?.close();
    await triton?.close();
    await loaded.close();
  });

  test("the engine itself: llama.cpp's counts and text for the prompt", (t) => {
    // Token counts from llama.cpp's tokenizer and its sequence state, not from our bookkeeping alone.
    assert.equal(direct.promptTokens, engine.tokenize(PROMPT).length);
    assert.ok(direct.promptTokens > QUESTION.split(" ").length, "BOS plus word pieces and byte fallbacks");
    assert.equal(direct.completionTokens, MAX_TOKENS);
    assert.equal(direct.finishReason, "length");
    assert.equal(direct.evaluatedTokens, direct.promptTokens + direct.completionTokens - 1);
    assert.equal(direct.pieces.join(""), engine.detokenize(direct.tokens, PROMPT));
    assert.ok(direct.pieces.every((piece) => piece.length > 0));
    assert.ok(new Set(direct.tokens).size > 1, "random weights still give more than one distinct token");
    t.diagnostic(`${direct.promptTokens} prompt tokens → ${JSON.stringify(direct.pieces.join(""))}`);
  });

  for (const [workload, backend] of [
    ["via-openai", "llama-server"],
    ["via-kserve", "triton"],
  ] as const) {
    describe(`${backend} (${workload})`, () => {
      for (const index of [0, 1, 2, 3]) {
        test(`client #${index}: unary Generate returns the engine's text and exact token counts`, async () => {
          const c = allClients(gw.url)[index]!;
          const before = engine.generations.length;
          const { message } = await c.unary(M.generate, {
            workload,
            messages: [user(QUESTION)],
            sampling: { maxOutputTokens: MAX_TOKENS },
          });
          const served = engine.generations.slice(before);
          assert.equal(served.length, 1, "one generation per request");
          assert.equal(served[0]!.prompt, PROMPT, "the backend handed the engine the rendered prompt");
          assert.equal(message.text, direct.pieces.join(""));
          assert.equal(message.routing?.backend, backend);
          assert.deepEqual(
            [message.usage?.inputTokens, message.usage?.outputTokens, message.usage?.accuracy],
            [direct.promptTokens, direct.completionTokens, UsageAccuracy.EXACT],
          );
          assert.equal(message.finishReason, FinishReason.LENGTH);
          c.close();
        });

        test(`client #${index}: GenerateStream delivers the engine's pieces in order, with its usage`, async () => {
          const c = allClients(gw.url)[index]!;
          const before = engine.generations.length;
          const { messages } = await c.serverStream(M.generateStream, {
            workload,
            messages: [user(QUESTION)],
            sampling: { maxOutputTokens: MAX_TOKENS },
          });
          const generation = engine.generations[before]!;
          const deltas = messages.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value.text] : []));
          assert.deepEqual(deltas, generation.pieces, "piece by piece, as the engine produced them");
          assert.equal(deltas.join(""), direct.pieces.join(""), "the same text as the engine run directly");
          const final = messages.at(-1)!.event;
          assert.equal(final.case, "final");
          if (final.case === "final") {
            assert.equal(final.value.usage?.inputTokens, generation.promptTokens);
            assert.equal(final.value.usage?.outputTokens, generation.completionTokens);
            assert.equal(final.value.usage?.accuracy, UsageAccuracy.EXACT);
            assert.equal(final.value.finishReason, FinishReason.LENGTH);
          }
          c.close();
        });
      }

      test("a client cancel mid-stream stops the llama.cpp generation within 100 ms", async (t) => {
        const fake = backend === "triton" ? triton : openai;
        // A slow drip between pieces keeps the generation running when the cancel arrives; the engine
        // generates only when the fake pulls, so it is idle (not racing ahead) during the pauses.
        fake.enqueue({ kind: "engine", engine: produce, chunkDelayMs: 40 });
        const c = allClients(gw.url)[1]!;
        const abort = new AbortController();
        const before = engine.generations.length;
        let abortedAt = 0;
        await assert.rejects(
          c.serverStream(
            M.generateStream,
            { workload, messages: [user(QUESTION)], sampling: { maxOutputTokens: 200 } },
            {
              signal: abort.signal,
              onMessage: (m) => {
                if (m.event.case !== "textDelta" || abort.signal.aborted) return;
                abortedAt = performance.now();
                abort.abort();
              },
            },
          ),
        );
        const generation = engine.generations[before]!;
        await generation.ended;
        assert.equal(generation.aborted, true, "the engine saw the abort");
        assert.ok(generation.completionTokens < 200, `stopped early (${generation.completionTokens} tokens)`);
        const lag = (generation.abortObservedAt ?? Number.POSITIVE_INFINITY) - abortedAt;
        t.diagnostic(
          `stopped ${lag.toFixed(1)} ms after the cancel, at ${generation.completionTokens} tokens`,
        );
        assert.ok(lag < 100, `generation stopped ${lag.toFixed(1)} ms after the client cancelled`);
        c.close();
      });
    });
  }
});
