// The OpenAI adapter's quirk profiles (openai, vllm, ollama, llama-server, mistral), each against the fake
// speaking that server's dialect: the exact request body, Mistral's tool-call id rewriting, usage where each
// server puts it (or nowhere), embeddings as base64 or float, and each server's errors classified.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { AdapterCall, AdapterEvent, GenerateInput } from "../../src/adapters/adapter.ts";
import {
  OpenAIAdapter,
  type OpenAIAdapterOptions,
  type QuirkProfileName,
} from "../../src/adapters/openai/index.ts";
import { Secret } from "../../src/config/secret.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import type { OpenAIDialect } from "../upstreams/openai-dialects.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";
import {
  MISTRAL_ERROR_FIXTURES,
  type MistralErrorFixtureName,
  mistralError,
} from "../upstreams/openai-mistral.ts";
import { embeddingVector } from "../upstreams/openai-wire.ts";

const KEY = "test-key-for-quirks";
const ALNUM9 = /^[A-Za-z0-9]{9}$/;

const DIALECT: Record<QuirkProfileName, OpenAIDialect> = {
  openai: "openai",
  vllm: "openai",
  ollama: "ollama",
  "llama-server": "llama-server",
  mistral: "mistral",
};
const MODEL: Record<QuirkProfileName, string> = {
  openai: "gpt-4o-mini",
  vllm: "meta-llama/Llama-3.1-8B-Instruct",
  ollama: "llama3.2",
  "llama-server": "qwen2.5-0.5b-instruct",
  mistral: "mistral-small-latest",
};

/** A second turn after two tool calls with foreign ids (OpenAI's and Anthropic's). */
function conversation(
  model: string,
  overrides: Partial<GenerateInput> = {},
  omit: readonly ("toolChoice" | "endUserId")[] = [],
): GenerateInput {
  const input: GenerateInput = {
    model,
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Weather and time in Paris?", name: "alice" },
      {
        role: "assistant",
        content: "",
        toolCalls: [
          { id: "call_abc123XYZ", name: "get_weather", arguments: '{"city":"Paris"}' },
          { id: "toolu_01A09q90qw90lq917835lq9", name: "get_time", arguments: "{}" },
        ],
      },
      { role: "tool", content: '{"temp":18}', toolCallId: "call_abc123XYZ", name: "get_weather" },
      { role: "tool", content: '"12:00"', toolCallId: "toolu_01A09q90qw90lq917835lq9" },
    ],
    tools: [
      { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
    ],
    toolChoice: { mode: "required" },
    sampling: { maxOutputTokens: 64, temperature: 0.5, seed: 11 },
    endUserId: "user-7",
    ...overrides,
  };
  for (const key of omit) delete input[key];
  return input;
}

function call(signal: AbortSignal = new AbortController().signal): AdapterCall {
  return { signal, deadline: Date.now() + 60_000 };
}

async function collect(events: AsyncIterable<AdapterEvent>): Promise<AdapterEvent[]> {
  const out: AdapterEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function upstreamError(run: () => Promise<unknown>): Promise<UpstreamError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

/**
 * The body every profile except Mistral sends for `conversation()` streamed; OpenAI names the end user
 * `safety_identifier` (its `user` is deprecated), the self-hosted servers know only `user`.
 */
function openAIStyleBody(model: string, endUserField = "user"): Record<string, unknown> {
  return {
    model,
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Weather and time in Paris?", name: "alice" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_abc123XYZ",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          },
          {
            id: "toolu_01A09q90qw90lq917835lq9",
            type: "function",
            function: { name: "get_time", arguments: "{}" },
          },
        ],
      },
      { role: "tool", content: '{"temp":18}', name: "get_weather", tool_call_id: "call_abc123XYZ" },
      { role: "tool", content: '"12:00"', tool_call_id: "toolu_01A09q90qw90lq917835lq9" },
    ],
    max_tokens: 64,
    temperature: 0.5,
    seed: 11,
    tools: [
      {
        type: "function",
        function: {
          name: "get_weather",
          parameters: { type: "object", properties: { city: { type: "string" } } },
        },
      },
    ],
    tool_choice: "required",
    [endUserField]: "user-7",
    stream: true,
    stream_options: { include_usage: true },
  };
}

describe("OpenAIAdapter quirk profiles", () => {
  const fakes: OpenAIFake[] = [];
  const adapters: OpenAIAdapter[] = [];
  const start = async (dialect: OpenAIDialect): Promise<OpenAIFake> => {
    const fake = await startOpenAIFake({ dialect, requireApiKey: KEY });
    fakes.push(fake);
    return fake;
  };
  const adapter = (
    fake: OpenAIFake,
    quirks: QuirkProfileName,
    options: Partial<OpenAIAdapterOptions> = {},
  ) => {
    const created = new OpenAIAdapter({
      name: quirks,
      baseUrl: `${fake.url}/v1`,
      apiKey: new Secret(KEY, "KEY"),
      quirks,
      connections: 2,
      connectTimeoutMs: 2000,
      healthPath: undefined,
      ...options,
    });
    adapters.push(created);
    return created;
  };
  const body = (fake: OpenAIFake, index = 0) => fake.requests[index]?.body as Record<string, unknown>;
  afterEach(async () => {
    await Promise.all(adapters.splice(0).map((a) => a.close()));
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });

  for (const profile of ["openai", "vllm", "ollama", "llama-server"] as const) {
    it(`${profile}: sends max_tokens, seed, tool_choice required, end user, stream_options, ids as given`, async () => {
      const fake = await start(DIALECT[profile]);
      await collect(adapter(fake, profile).stream(conversation(MODEL[profile]), call()));
      const endUserField = profile === "openai" ? "safety_identifier" : "user";
      assert.deepEqual(body(fake), openAIStyleBody(MODEL[profile], endUserField));
    });
  }

  it("mistral: random_seed, tool_choice any, no user/stream_options/participant names, 9-char tool ids", async () => {
    const fake = await start("mistral");
    const events = await collect(adapter(fake, "mistral").stream(conversation(MODEL.mistral), call()));
    assert.ok(
      events.some((e) => e.type === "finish"),
      "the strict Mistral fake accepted the request",
    );
    const sent = body(fake);
    const messages = sent.messages as Record<string, unknown>[];
    const calls = messages[2]?.tool_calls as { id: string }[];
    const [weatherId, timeId] = calls.map((c) => c.id);
    assert.ok(weatherId && timeId);
    assert.match(weatherId, ALNUM9);
    assert.match(timeId, ALNUM9);
    assert.notEqual(weatherId, timeId);
    assert.deepEqual(sent, {
      model: MODEL.mistral,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Weather and time in Paris?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: weatherId,
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Paris"}' },
            },
            { id: timeId, type: "function", function: { name: "get_time", arguments: "{}" } },
          ],
        },
        { role: "tool", content: '{"temp":18}', name: "get_weather", tool_call_id: weatherId },
        { role: "tool", content: '"12:00"', tool_call_id: timeId },
      ],
      max_tokens: 64,
      temperature: 0.5,
      random_seed: 11,
      tools: (openAIStyleBody("").tools as unknown[]) ?? [],
      tool_choice: "any",
      stream: true,
    });
  });

  it("mistral: the same foreign id maps to the same 9-char id in every request; valid ids stay as they are", async () => {
    const fake = await start("mistral");
    const mistral = adapter(fake, "mistral");
    const input = conversation(MODEL.mistral);
    const kept = conversation(MODEL.mistral, {
      messages: [
        { role: "user", content: "Weather?" },
        {
          role: "assistant",
          content: "",
          toolCalls: [{ id: "AbCdEf123", name: "get_weather", arguments: "{}" }],
        },
        { role: "tool", content: "18", toolCallId: "AbCdEf123" },
      ],
    });
    await mistral.generate(input, call());
    await mistral.generate(input, call());
    await mistral.generate(kept, call());
    const ids = (index: number) => {
      const messages = body(fake, index).messages as Record<string, unknown>[];
      return messages.flatMap((m) => [
        ...((m.tool_calls as { id: string }[] | undefined) ?? []).map((c) => c.id),
        ...(typeof m.tool_call_id === "string" ? [m.tool_call_id] : []),
      ]);
    };
    const [a, b, c, d] = ids(0);
    assert.equal(a, c, "assistant call and its tool result stay paired");
    assert.equal(b, d);
    assert.deepEqual(ids(1), ids(0), "deterministic across requests");
    assert.deepEqual(ids(2), ["AbCdEf123", "AbCdEf123"]);
    assert.equal(
      fake.requests.every((r) => r.completed && !r.aborted),
      true,
    );
  });

  it("mistral: without the rewrite, La Plateforme refuses foreign ids (400 code 3280 → bad_request)", async () => {
    const fake = await start("mistral");
    // Only what Mistral accepts from any client: no seed, user, tool_choice required or participant names.
    const messages = conversation(MODEL.mistral).messages.map((m) =>
      m.role === "user" ? { role: m.role, content: m.content } : m,
    );
    const input = conversation(MODEL.mistral, { messages, sampling: {} }, ["endUserId", "toolChoice"]);
    const error = await upstreamError(() => adapter(fake, "openai").generate(input, call()));
    assert.equal(error.kind, "bad_request");
    assert.equal(error.status, 400);
    assert.match(error.message, /^openai answered HTTP 400 \(3280\)/);
    assert.equal((await adapter(fake, "mistral").generate(input, call())).text, "Hello from fake");
  });

  it("mistral: tool calls come back with Mistral's own ids and are sent back unchanged on the next turn", async () => {
    const fake = await start("mistral");
    const mistral = adapter(fake, "mistral");
    fake.enqueue({ toolCalls: [{ name: "get_weather", arguments: '{"city":"Lyon"}' }] });
    const first = await mistral.generate(
      conversation(MODEL.mistral, { messages: [{ role: "user", content: "Lyon?" }] }),
      call(),
    );
    assert.equal(first.finishReason, "tool_calls");
    const [toolCall] = first.toolCalls;
    assert.ok(toolCall);
    assert.match(toolCall.id, ALNUM9);
    assert.deepEqual([toolCall.name, toolCall.arguments], ["get_weather", '{"city":"Lyon"}']);
    await mistral.generate(
      conversation(MODEL.mistral, {
        messages: [
          { role: "user", content: "Lyon?" },
          { role: "assistant", content: "", toolCalls: first.toolCalls },
          { role: "tool", content: "21", toolCallId: toolCall.id },
        ],
      }),
      call(),
    );
    const messages = body(fake, 1).messages as { tool_calls?: { id: string }[]; tool_call_id?: string }[];
    assert.equal(messages[1]?.tool_calls?.[0]?.id, toolCall.id);
    assert.equal(messages[2]?.tool_call_id, toolCall.id);
  });

  it("mistral: streams tool calls whole and reads usage off the finish chunk", async () => {
    const fake = await start("mistral");
    fake.enqueue({
      chunks: ["Checking"],
      toolCalls: [{ id: "Qw3rTy7u9", name: "get_weather", arguments: '{"city":"Nice"}' }],
      usage: { prompt_tokens: 31, completion_tokens: 9 },
      model: "mistral-small-2506",
    });
    const events = await collect(adapter(fake, "mistral").stream(conversation(MODEL.mistral), call()));
    assert.deepEqual(events, [
      { type: "text", text: "Checking" },
      {
        type: "tool_call",
        index: 0,
        id: "Qw3rTy7u9",
        name: "get_weather",
        argumentsDelta: '{"city":"Nice"}',
      },
      { type: "finish", reason: "tool_calls", model: "mistral-small-2506" },
      { type: "usage", usage: { inputTokens: 31, outputTokens: 9, cachedInputTokens: 0 } },
    ]);
  });

  it("mistral: embeddings as floats with output_dimension, no encoding_format", async () => {
    const fake = await start("mistral");
    const output = await adapter(fake, "mistral").embed(
      { model: "mistral-embed", inputs: ["alpha beta", "gamma"], dimensions: 4 },
      call(),
    );
    assert.deepEqual(body(fake), {
      model: "mistral-embed",
      input: ["alpha beta", "gamma"],
      output_dimension: 4,
    });
    assert.deepEqual(output, {
      vectors: [
        Float32Array.from(embeddingVector("alpha beta", 4)),
        Float32Array.from(embeddingVector("gamma", 4)),
      ],
      model: "mistral-embed",
      usage: { inputTokens: 3, outputTokens: 0, cachedInputTokens: 0 },
    });
  });

  const MISTRAL_KINDS = [
    ["unauthorized", "auth", "mistral answered HTTP 401"],
    ["rate_limited", "rate_limited", "mistral answered HTTP 429 (1300: Rate limit exceeded)"],
    [
      "capacity_exceeded",
      "overloaded",
      "mistral answered HTTP 429 (invalid_request_error: Service tier capacity",
    ],
    [
      "invalid_tool_call_id",
      "bad_request",
      "mistral answered HTTP 400 (3280: Tool call id was call_0fypS1hVX",
    ],
    [
      "extra_forbidden",
      "bad_request",
      "mistral answered HTTP 422 (3001: body.seed: Extra inputs are not permitted)",
    ],
    [
      "extra_forbidden_2024",
      "bad_request",
      "mistral answered HTTP 422 (invalid_request_error: body.messages.0.user.name: Extra inputs are not permitted)",
    ],
  ] as const satisfies readonly (readonly [MistralErrorFixtureName, string, string])[];

  it("mistral: every error fixture is classified (the table is complete)", () => {
    assert.deepEqual(MISTRAL_KINDS.map(([name]) => name).sort(), [...MISTRAL_ERROR_FIXTURES].sort());
  });

  for (const [name, kind, message] of MISTRAL_KINDS) {
    it(`mistral: the ${name} fixture is ${kind}`, async () => {
      const fake = await start("mistral");
      fake.enqueue(mistralError(name));
      const error = await upstreamError(() =>
        adapter(fake, "mistral").generate(
          conversation(MODEL.mistral, { messages: [{ role: "user", content: "hi" }] }),
          call(),
        ),
      );
      assert.equal(error.kind, kind);
      // Only the provider's code is kept: its message can quote the prompt or the key.
      assert.ok(error.message.startsWith(codeOnly(message)), error.message);
      if (kind === "auth") assert.equal(error.message, message);
    });
  }

  it("a validation error names fields but never echoes their input (prompt, end-user id)", async () => {
    const fake = await start("mistral");
    const canary = "CANARY-4f1d9e";
    const input = conversation(
      MODEL.mistral,
      {
        messages: [{ role: "user", content: `${canary} prompt`, name: canary }],
        endUserId: canary,
        sampling: { seed: 5 },
      },
      ["toolChoice"],
    );
    const error = await upstreamError(() => adapter(fake, "openai").generate(input, call()));
    assert.equal(error.kind, "bad_request");
    assert.ok(JSON.stringify(fake.requests[0]?.body).includes(canary));
    assert.equal(
      error.message,
      "openai answered HTTP 422 (3001)",
      "only the code: provider text is not passed on",
    );
    assert.doesNotMatch(error.message, new RegExp(canary));
  });

  it("ollama: an old server sends no usage in a stream (the gateway estimates); unary usage is exact", async () => {
    const fake = await start("ollama");
    fake.enqueue(
      { text: "Hi there", usage: { prompt_tokens: 14, completion_tokens: 2 } },
      { text: "Hi there", usage: { prompt_tokens: 14, completion_tokens: 2 } },
    );
    const ollama = adapter(fake, "ollama");
    const events = await collect(ollama.stream(conversation(MODEL.ollama), call()));
    assert.deepEqual(events, [
      { type: "text", text: "Hi" },
      { type: "text", text: " there" },
      { type: "finish", reason: "stop", model: MODEL.ollama },
    ]);
    const output = await ollama.generate(conversation(MODEL.ollama), call());
    assert.deepEqual(output.usage, { inputTokens: 14, outputTokens: 2, cachedInputTokens: 0 });
  });

  it("llama-server: usage on the finish chunk next to timings; tool-call fragments; timings ignored", async () => {
    const fake = await start("llama-server");
    const script = {
      toolCalls: [
        {
          id: "k3JH8sd9fKJH3sd98fJH3sd98fJH3sd9",
          name: "get_weather",
          arguments: '{"city":"Paris","unit":"c"}',
        },
      ],
      usage: { prompt_tokens: 40, completion_tokens: 12 },
    };
    fake.enqueue(script, script);
    const llama = adapter(fake, "llama-server");
    const events = await collect(llama.stream(conversation(MODEL["llama-server"]), call()));
    const args = events.flatMap((e) => (e.type === "tool_call" ? [e.argumentsDelta] : []));
    assert.ok(args.length > 2, "arguments arrive in fragments");
    assert.equal(args.join(""), '{"city":"Paris","unit":"c"}');
    assert.deepEqual(events.at(-2), { type: "finish", reason: "tool_calls", model: MODEL["llama-server"] });
    assert.deepEqual(events.at(-1), {
      type: "usage",
      usage: { inputTokens: 40, outputTokens: 12, cachedInputTokens: 0 },
    });
    const output = await llama.generate(conversation(MODEL["llama-server"]), call());
    assert.deepEqual(output.usage, { inputTokens: 40, outputTokens: 12, cachedInputTokens: 0 });
    assert.deepEqual(output.toolCalls, [
      { id: script.toolCalls[0]?.id, name: "get_weather", arguments: '{"city":"Paris","unit":"c"}' },
    ]);
  });

  it("embeddings: vllm asks base64, ollama and llama-server ask nothing (float); all decode exactly", async () => {
    for (const [profile, encoding] of [
      ["vllm", "base64"],
      ["ollama", undefined],
      ["llama-server", undefined],
    ] as const) {
      const fake = await start(DIALECT[profile]);
      const output = await adapter(fake, profile).embed(
        { model: "embedder", inputs: ["x y", "z"], dimensions: 5 },
        call(),
      );
      const sent = body(fake);
      assert.equal(sent.encoding_format, encoding, profile);
      assert.equal(sent.dimensions, 5);
      assert.deepEqual(output.vectors, [
        Float32Array.from(embeddingVector("x y", 5)),
        Float32Array.from(embeddingVector("z", 5)),
      ]);
    }
  });

  it("embeddings: a server that ignores encoding_format and answers floats still decodes (openai → Ollama)", async () => {
    const fake = await start("ollama");
    const output = await adapter(fake, "openai").embed(
      { model: "nomic-embed-text", inputs: ["solo"] },
      call(),
    );
    assert.equal(body(fake).encoding_format, "base64");
    assert.deepEqual(output.vectors, [Float32Array.from(embeddingVector("solo", 8))]);
  });

  it("max tokens field: openai picks by model, the others send max_tokens, a configured field always wins", async () => {
    const fake = await start("openai");
    const sampling = { maxOutputTokens: 8 };
    const cases: [QuirkProfileName, OpenAIAdapterOptions["maxTokensField"], string][] = [
      ["openai", undefined, "max_completion_tokens"],
      ["vllm", undefined, "max_tokens"],
      ["ollama", undefined, "max_tokens"],
      ["llama-server", undefined, "max_tokens"],
      ["mistral", undefined, "max_tokens"],
      ["vllm", "max_completion_tokens", "max_completion_tokens"],
    ];
    for (const [index, [profile, configured, field]] of cases.entries()) {
      await adapter(fake, profile, { maxTokensField: configured }).generate(
        { model: "o3-mini", messages: [{ role: "user", content: "hi" }], tools: [], sampling },
        call(),
      );
      const sent = body(fake, index);
      assert.equal(sent[field], 8, `${profile} with ${configured ?? "nothing"} configured`);
      assert.equal(sent[field === "max_tokens" ? "max_completion_tokens" : "max_tokens"], undefined);
    }
  });

  for (const [profile, status, errorBody, kind, said] of [
    [
      "vllm",
      400,
      {
        object: "error",
        message: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.",
        type: "BadRequestError",
        param: null,
        code: 400,
      },
      "bad_request",
      "400: This model's maximum context length is 4096 tokens.",
    ],
    [
      "ollama",
      404,
      {
        error: {
          message: 'model "llama9" not found, try pulling it first',
          type: "api_error",
          param: null,
          code: null,
        },
      },
      "auth",
      "",
    ],
    [
      "llama-server",
      503,
      { error: { code: 503, message: "Loading model", type: "unavailable_error" } },
      "overloaded",
      "503: Loading model",
    ],
  ] as const) {
    it(`${profile}: its ${status} error body is ${kind}`, async () => {
      const fake = await start(DIALECT[profile]);
      fake.enqueue({ kind: "error", status, body: errorBody });
      const error = await upstreamError(() =>
        adapter(fake, profile).generate(conversation(MODEL[profile]), call()),
      );
      assert.equal(error.kind, kind);
      assert.equal(error.status, status);
      assert.ok(
        error.message.startsWith(
          `${profile} answered HTTP ${status}${said ? ` (${said.split(":")[0]}` : ""}`,
        ),
        error.message,
      );
    });
  }
});

/** An expected error message with the provider's own text removed: "(code: text)" → "(code)". */
function codeOnly(message: string): string {
  return message.replace(/ \(([^:()]+): .*$/, " ($1)");
}
