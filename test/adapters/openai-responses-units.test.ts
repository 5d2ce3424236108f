// Pieces of the OpenAI adapter's `api: responses` mode that the fake does not reach: `error` stream events
// and their code classes, summary parts joined in a stream, a unary response that failed, and the
// backend config field that selects the mode.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fromResponse } from "../../src/adapters/openai/responses-response.ts";
import { ResponsesStreamTranslator } from "../../src/adapters/openai/responses-stream.ts";
import { backendSchema } from "../../src/config/schema.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";

function failure(run: () => unknown): UpstreamError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof UpstreamError);
    return error;
  }
  assert.fail("expected an UpstreamError");
}

describe("Responses stream translation", () => {
  it("classifies `error` events by code and never repeats their message", () => {
    const cases = [
      ["rate_limit_exceeded", "rate_limited"],
      ["server_error", "unavailable"],
      ["invalid_image_url", "bad_request"],
      ["context_length_exceeded", "bad_request"],
      [null, "unavailable"],
    ] as const;
    for (const [code, kind] of cases) {
      const translator = new ResponsesStreamTranslator("gpt");
      const error = failure(() => [
        ...translator.eventsOf({ type: "error", code, message: "Bearer sk-secret in your prompt" } as never),
      ]);
      assert.equal(error.kind, kind, String(code));
      assert.doesNotMatch(error.message, /secret|prompt/);
      assert.equal(error.afterFirstToken, false);
    }
  });

  it("marks a failure after text as after the first token", () => {
    const translator = new ResponsesStreamTranslator("gpt");
    const out = [
      ...translator.eventsOf({ type: "response.output_text.delta", delta: "Hi", output_index: 0 }),
    ];
    assert.deepEqual(out, [{ type: "text", text: "Hi" }]);
    const error = failure(() => [
      ...translator.eventsOf({
        type: "response.failed",
        response: { status: "failed", error: { code: "server_error" } },
      }),
    ]);
    assert.equal(error.afterFirstToken, true);
  });

  it("separates summary parts of one reasoning item as the unary answer joins them", () => {
    const translator = new ResponsesStreamTranslator("gpt");
    const events = [
      { type: "response.output_item.added", output_index: 0, item: { type: "reasoning", id: "rs_1" } },
      { type: "response.reasoning_summary_text.delta", output_index: 0, summary_index: 0, delta: "One." },
      { type: "response.reasoning_summary_text.delta", output_index: 0, summary_index: 1, delta: "Two" },
      { type: "response.reasoning_summary_text.delta", output_index: 0, summary_index: 1, delta: "." },
    ].flatMap((e) => [...translator.eventsOf(e)]);
    const text = events.map((e) => (e.type === "reasoning" ? (e.text ?? "") : "")).join("");
    const unary = fromResponse(
      "gpt",
      {
        output: [
          {
            type: "reasoning",
            id: "rs_1",
            summary: [
              { type: "summary_text", text: "One." },
              { type: "summary_text", text: "Two." },
            ],
          },
        ],
      },
      "m",
    );
    assert.equal(text, unary.reasoning?.[0]?.text);
    assert.equal(text, "One.\n\nTwo.");
  });

  it("refuses arguments of a call that was never added", () => {
    const translator = new ResponsesStreamTranslator("gpt");
    const error = failure(() => [
      ...translator.eventsOf({ type: "response.function_call_arguments.delta", output_index: 3, delta: "{" }),
    ]);
    assert.equal(error.kind, "protocol");
  });

  it("throws on a unary response whose status is failed", () => {
    const error = failure(() =>
      fromResponse("gpt", { status: "failed", error: { code: "server_error" } }, "m"),
    );
    assert.equal(error.kind, "unavailable");
  });
});

describe("openai backend `api` field", () => {
  const base = { type: "openai", baseUrl: "https://api.openai.com/v1" };
  it("defaults to chat and takes responses with the openai quirks", () => {
    assert.equal((backendSchema.parse(base) as { api?: string }).api, "chat");
    assert.equal((backendSchema.parse({ ...base, api: "responses" }) as { api?: string }).api, "responses");
  });
  it("refuses responses with another server's quirks, and unknown values", () => {
    const vllm = backendSchema.safeParse({ ...base, api: "responses", quirks: "vllm" });
    assert.equal(vllm.success, false);
    assert.deepEqual(vllm.error?.issues[0]?.path, ["api"]);
    assert.equal(backendSchema.safeParse({ ...base, api: "assistants" }).success, false);
  });
});
