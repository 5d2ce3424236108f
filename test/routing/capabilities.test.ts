import assert from "node:assert/strict";
import { test } from "node:test";
import type { GenerateInput } from "../../src/adapters/adapter.ts";
import { parseConfig } from "../../src/config/load.ts";
import type { BackendConfig } from "../../src/config/schema.ts";
import {
  capabilitiesOf,
  contentNeeds,
  missingCapability,
  type Needs,
} from "../../src/routing/capabilities.ts";

function backend(yaml: string): BackendConfig {
  const loaded = parseConfig(
    `store: { type: memory }\nauth: { enabled: false }\nbackends:\n  b:\n${yaml}routes:\n  r:\n    targets: [{ backend: b, model: m }]\n`,
    "test",
    {},
  );
  return loaded.config.backends.b!;
}

const input = (over: Partial<Omit<GenerateInput, "model">>): Omit<GenerateInput, "model"> => ({
  messages: [{ role: "user", content: "hi" }],
  tools: [],
  sampling: {},
  ...over,
});
const needs = (over: Partial<Needs>): Needs => ({
  operation: "generate",
  streaming: false,
  tools: false,
  jsonSchema: false,
  contextTokens: 0,
  ...over,
});

test("each OpenAI-compatible server row has its own defaults; config overrides them", () => {
  const openai = capabilitiesOf(backend("    type: openai\n    baseUrl: http://127.0.0.1:1/v1\n"));
  assert.equal(openai.audio, true);
  const ollama = capabilitiesOf(
    backend("    type: openai\n    quirks: ollama\n    baseUrl: http://127.0.0.1:1/v1\n"),
  );
  assert.deepEqual([ollama.audio, ollama.documents, ollama.vision], [false, false, true]);
  const mistral = capabilitiesOf(
    backend("    type: openai\n    quirks: mistral\n    baseUrl: http://127.0.0.1:1/v1\n"),
  );
  assert.equal(mistral.logprobs, false);
  const tuned = capabilitiesOf(
    backend(
      "    type: openai\n    quirks: ollama\n    baseUrl: http://127.0.0.1:1/v1\n    capabilities: { audio: true, vision: false }\n",
    ),
  );
  assert.deepEqual([tuned.audio, tuned.vision, tuned.documents], [true, false, false]);
  const anthropic = capabilitiesOf(backend("    type: anthropic\n"));
  assert.deepEqual([anthropic.audio, anthropic.logprobs, anthropic.documents], [false, false, true]);
});

test("a request's content and options become needs; text-only asks for nothing more", () => {
  assert.deepEqual(contentNeeds(input({})), {});
  const media = contentNeeds(
    input({
      messages: [
        {
          role: "user",
          content: "",
          parts: [
            { type: "image", source: { url: "https://x/a.png" } },
            { type: "document", source: { text: "t" } },
          ],
        },
        {
          role: "assistant",
          content: "",
          parts: [{ type: "reasoning", text: "r", provider: "anthropic", signature: "s" }],
        },
      ],
      logprobs: { top: 0 },
    }),
  );
  // Reasoning blocks sent back need nothing: other families drop them.
  assert.deepEqual(media, { vision: true, documents: true, logprobs: true });
  assert.deepEqual(contentNeeds(input({ reasoning: { effort: "low", includeText: false } })), {
    reasoning: true,
  });
});

test("missingCapability names the first capability a target lacks", () => {
  const tei = capabilitiesOf(backend("    type: tei\n    address: http://127.0.0.1:1\n"));
  assert.equal(missingCapability(tei, needs({})), "cannot generate");
  const kserve = capabilitiesOf(
    backend("    type: kserve\n    address: http://127.0.0.1:1\n    profile: vllm\n"),
  );
  assert.equal(missingCapability(kserve, needs({ vision: true })), "no vision (image input)");
  assert.equal(missingCapability(kserve, needs({ reasoning: true })), "no reasoning options");
  assert.equal(missingCapability(kserve, needs({ logprobs: true })), "no logprobs");
  assert.equal(missingCapability(kserve, needs({})), undefined);
});
