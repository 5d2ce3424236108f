// The 2026 request surface end to end over the four client stacks, on the built-in echo backend:
// media parts arrive intact, reasoning streams apart from text and its signed block round-trips,
// logprobs and service tier come back, bad options are refused, and routing skips targets that lack
// a capability the request needs.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { ConnectError } from "@connectrpc/connect";
import {
  AudioFormat,
  ImageDetail,
  ReasoningEffort,
  Role,
  ServiceTier,
} from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients, Code } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const M = InferenceService.method;
const text = (value: string) => ({ part: { case: "text" as const, value } });
const user = (...content: object[]) => ({ role: Role.USER, content });
const digest = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex").slice(0, 12);

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);
const WAV = Uint8Array.from(Buffer.from("RIFF....WAVEfmt fake audio"));
const PDF = Uint8Array.from(Buffer.from("%PDF-1.7 fake document"));

const yaml = configYaml(
  "  echo:\n    type: echo\n" +
    "  blind:\n    type: echo\n    capabilities: { vision: false }\n" +
    "  mute:\n    type: echo\n",
  "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n" +
    "  vision:\n    targets:\n      - { backend: blind, model: text-only }\n      - { backend: echo, model: sees }\n" +
    "  textonly:\n    targets:\n      - { backend: blind, model: text-only }\n" +
    "      - { backend: mute, model: no-logprobs, capabilities: { vision: false, logprobs: false } }\n",
  "  limits:\n    maxEventLoopLagMs: 0\n    media: { maxPartBytes: 1024, maxRequestBytes: 1500, maxParts: 3 }\n",
);

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway(yaml);
});
after(async () => {
  await gw.stop();
});

const refusal = (e: unknown) => e as ConnectError;

for (const index of [0, 1, 2, 3]) {
  describe(`client #${index}`, () => {
    const client = () => allClients(gw.url)[index]!;

    test("image (bytes, URL, data: URL), audio and document parts reach the backend intact", async () => {
      const c = client();
      const { message } = await c.unary(M.generate, {
        workload: "chat",
        messages: [
          user(
            text("look:"),
            {
              part: {
                case: "image",
                value: { source: { case: "data", value: PNG }, mediaType: "image/png" },
              },
            },
            {
              part: {
                case: "image",
                value: {
                  source: { case: "url", value: "https://example.com/cat.jpg" },
                  detail: ImageDetail.LOW,
                },
              },
            },
            {
              part: {
                case: "image",
                value: {
                  source: {
                    case: "url",
                    value: `data:image/png;base64,${Buffer.from(PNG).toString("base64")}`,
                  },
                },
              },
            },
          ),
        ],
      });
      const png = `[image image/png ${PNG.length}B ${digest(PNG)}]`;
      assert.equal(message.text, `look: ${png} [image url https://example.com/cat.jpg] ${png}`);

      const second = await c.unary(M.generate, {
        workload: "chat",
        messages: [
          user(
            { part: { case: "audio", value: { data: WAV, format: AudioFormat.WAV } } },
            {
              part: {
                case: "document",
                value: { source: { case: "data", value: PDF }, mediaType: "application/pdf", title: "spec" },
              },
            },
          ),
        ],
      });
      assert.equal(
        second.message.text,
        `[audio wav ${WAV.length}B ${digest(WAV)}] [document application/pdf ${PDF.length}B ${digest(PDF)} "spec"]`,
      );
    });

    test("reasoning streams apart from text, is signed, counted, and round-trips unchanged", async () => {
      const c = client();
      const request = {
        workload: "chat",
        messages: [user(text("why is the sky blue"))],
        reasoning: { effort: ReasoningEffort.HIGH, includeText: true },
      };
      const { messages } = await c.serverStream(M.generateStream, request);
      const cases = messages.map((m) => m.event.case);
      const firstText = cases.indexOf("textDelta");
      assert.ok(
        cases.indexOf("reasoningDelta") >= 0 && cases.lastIndexOf("reasoningDelta") < firstText,
        cases.join(),
      );
      const deltas = messages.flatMap((m) => (m.event.case === "reasoningDelta" ? [m.event.value] : []));
      const thought = deltas.map((d) => d.text).join("");
      const signature = deltas.map((d) => d.signature).join("");
      assert.equal(thought, "Thinking about: why is the sky blue");
      assert.equal(signature, `echo-${digest(thought)}`);
      const final = messages.at(-1)?.event;
      assert.ok(final?.case === "final");
      assert.equal(final.value.usage?.reasoningTokens, 7);
      assert.equal(final.value.usage?.outputTokens, 7 + 5);

      const { message } = await c.unary(M.generate, request);
      assert.deepEqual(
        message.reasoning.map((r) => [r.text, r.signature, r.provider]),
        [[thought, signature, "echo"]],
      );
      const turn = (sent: string) => ({
        workload: "chat",
        messages: [
          user(text("why is the sky blue")),
          {
            role: Role.ASSISTANT,
            content: [
              { part: { case: "reasoning" as const, value: { text: sent, signature, provider: "echo" } } },
              text("Rayleigh scattering"),
            ],
          },
          user(text("and sunsets")),
        ],
      });
      const next = await c.unary(M.generate, turn(thought));
      assert.equal(next.message.text, "and sunsets");
      const tampered = await c.unary(M.generate, turn(`${thought}!`)).then(() => undefined, refusal);
      assert.equal(tampered?.code, Code.InvalidArgument);
    });

    test("logprobs and service tier come back in the response and the stream", async () => {
      const c = client();
      const request = {
        workload: "chat",
        messages: [user(text("one two three"))],
        logprobs: true,
        topLogprobs: 2,
        serviceTier: ServiceTier.FLEX,
      };
      const { message } = await c.unary(M.generate, request);
      assert.deepEqual(
        message.logprobs.map((l) => [l.token, l.logprob, l.topLogprobs.length]),
        [
          ["one", -0.1, 2],
          [" two", -0.2, 2],
          [" three", -0.3, 2],
        ],
      );
      assert.deepEqual([...message.logprobs[1]!.bytes], [...Buffer.from(" two")]);
      assert.equal(message.serviceTier, ServiceTier.FLEX);
      const { messages } = await c.serverStream(M.generateStream, request);
      const streamed = messages.flatMap((m) => (m.event.case === "textDelta" ? m.event.value.logprobs : []));
      assert.deepEqual(
        streamed.map((l) => l.token),
        ["one", " two", " three"],
      );
      const final = messages.at(-1)?.event;
      assert.equal(final?.case === "final" && final.value.serviceTier, ServiceTier.FLEX);
    });

    test("bad options and oversized media are refused with INVALID_ARGUMENT naming the field", async () => {
      const c = client();
      const base = { workload: "chat", messages: [user(text("hi"))] };
      const cases: [object, RegExp, string][] = [
        [{ n: 2 }, /^n is 2/, "invalid_argument"],
        [{ logprobs: true, topLogprobs: 21 }, /top_logprobs is 21/, "invalid_argument"],
        [{ topLogprobs: 3 }, /top_logprobs needs logprobs/, "invalid_argument"],
        [{ reasoning: {} }, /^reasoning: set effort/, "invalid_argument"],
        [{ serviceTier: 42 }, /^service_tier: 42 is not/, "invalid_argument"],
        [
          {
            messages: [
              user({
                part: {
                  case: "image",
                  value: { source: { case: "data", value: new Uint8Array(1025) }, mediaType: "image/png" },
                },
              }),
            ],
          },
          /content\[0\]\.image\.data is 1025 bytes: at most 1024 per part/,
          "content_too_large",
        ],
        [
          {
            messages: [
              user(
                ...[0, 1].map(() => ({
                  part: { case: "audio", value: { data: new Uint8Array(800), format: AudioFormat.MP3 } },
                })),
              ),
            ],
          },
          /media add up to more than 1500 bytes/,
          "content_too_large",
        ],
        [
          {
            messages: [
              user({
                part: { case: "image", value: { source: { case: "url", value: "file:///etc/passwd" } } },
              }),
            ],
          },
          /image\.url: expected an http\(s\) URL/,
          "invalid_argument",
        ],
        [
          {
            messages: [
              {
                role: Role.SYSTEM,
                content: [{ part: { case: "audio", value: { data: WAV, format: AudioFormat.WAV } } }],
              },
            ],
          },
          /audio parts are not allowed in a system message/,
          "invalid_argument",
        ],
      ];
      for (const [extra, message, reason] of cases) {
        const e = await c.unary(M.generate, { ...base, ...extra }).then(() => undefined, refusal);
        assert.equal(e?.code, Code.InvalidArgument, `${JSON.stringify(Object.keys(extra))}: ${e?.message}`);
        assert.match(e.rawMessage, message);
        assert.equal(e.metadata.get("x-switchyard-reason"), reason);
      }
    });

    test("routing skips a target without vision, names why, and refuses when no target can serve", async () => {
      const c = client();
      const image = {
        part: { case: "image", value: { source: { case: "url", value: "https://example.com/a.png" } } },
      };
      const { message } = await c.unary(M.generate, {
        workload: "vision",
        messages: [user(text("see"), image)],
      });
      assert.equal(message.routing?.backend, "echo");
      assert.equal(message.routing?.model, "sees");
      assert.match(message.routing?.reason ?? "", /skipped blind \(no vision/);
      const plain = await c.unary(M.generate, { workload: "vision", messages: [user(text("hi"))] });
      assert.equal(plain.message.routing?.backend, "blind");

      const e = await c
        .unary(M.generate, { workload: "textonly", messages: [user(text("see"), image)] })
        .then(() => undefined, refusal);
      assert.equal(e?.code, Code.FailedPrecondition);
      assert.equal(e.metadata.get("x-switchyard-reason"), "no_capable_target");
      assert.match(e.rawMessage, /no vision/);
      // A per-target override counts: the second target's model has no logprobs.
      const lp = await c
        .unary(M.generate, { workload: "textonly", messages: [user(text("hi"))], logprobs: true })
        .then((r) => r.message.routing?.backend, refusal);
      assert.equal(lp, "blind");
    });
  });
}
