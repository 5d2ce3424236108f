import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../../gen/grpc/health/v1/health_pb.ts";
import { ServerReflection as ReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { ServerReflection as ReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { FinishReason, Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService, Operation } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { UsageAccuracy } from "../../gen/switchyard/v1/usage_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const M = InferenceService.method;
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});

const yaml = configYaml(
  `  echo:\n    type: echo\n    dimensions: 12\n`,
  `  chat:\n    description: test chat\n    targets:\n      - { backend: echo, model: echo-1, alias: small }\n` +
    `  vectors:\n    operations: [embed]\n    targets:\n      - { backend: echo, model: echo-embed }\n`,
);

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway(yaml);
});
after(async () => {
  await gw.stop();
});

for (const makeClient of [0, 1, 2, 3]) {
  describe(`client #${makeClient}`, () => {
    const client = () => allClients(gw.url)[makeClient]!;

    test("Generate returns the echo, usage, routing info and trailers", async (t) => {
      const c = client();
      t.diagnostic(c.name);
      const { message, headers, trailers } = await c.unary(M.generate, {
        workload: "chat",
        messages: [user("the quick brown fox")],
      });
      assert.equal(message.text, "the quick brown fox");
      assert.equal(message.finishReason, FinishReason.STOP);
      assert.equal(message.usage?.inputTokens, 4);
      assert.equal(message.usage?.outputTokens, 4);
      assert.equal(message.usage?.accuracy, UsageAccuracy.EXACT);
      assert.equal(message.routing?.backend, "echo");
      assert.equal(message.routing?.model, "echo-1");
      assert.equal(message.routing?.attempts, 1);
      assert.match(message.requestId, /^[0-9a-f-]{36}$/);
      assert.equal(headers.get("x-request-id"), message.requestId);
      assert.equal(trailers.get("x-switchyard-backend"), "echo");
      assert.equal(trailers.get("x-switchyard-attempts"), "1");
      assert.equal(trailers.get("x-switchyard-output-tokens"), "4");
      c.close();
    });

    test("GenerateStream sends attempt, commit, deltas, then the final event", async () => {
      const c = client();
      const { messages, trailers } = await c.serverStream(M.generateStream, {
        workload: "chat",
        model: "small",
        messages: [user("one two three")],
      });
      const kinds = messages.map((m) => m.event.case);
      assert.deepEqual(kinds, ["attempt", "commit", "textDelta", "textDelta", "textDelta", "final"]);
      const text = messages.map((m) => (m.event.case === "textDelta" ? m.event.value.text : "")).join("");
      assert.equal(text, "one two three");
      const final = messages.at(-1)!.event;
      assert.equal(final.case, "final");
      if (final.case === "final") {
        assert.equal(final.value.finishReason, FinishReason.STOP);
        assert.equal(final.value.usage?.outputTokens, 3);
        assert.equal(final.value.routing?.backend, "echo");
      }
      assert.equal(trailers.get("x-switchyard-output-tokens"), "3");
      c.close();
    });

    test("Embed returns one vector per input, in order", async () => {
      const c = client();
      const { message } = await c.unary(M.embed, { workload: "vectors", inputs: ["alpha", "beta", "alpha"] });
      assert.equal(message.embeddings.length, 3);
      assert.equal(message.embeddings[0]!.values.length, 12);
      assert.deepEqual(message.embeddings[0]!.values, message.embeddings[2]!.values);
      assert.notDeepEqual(message.embeddings[0]!.values, message.embeddings[1]!.values);
      assert.equal(message.usage?.inputTokens, 3);
      c.close();
    });

    test("ListModels lists workloads with their operations and models", async () => {
      const c = client();
      const { message } = await c.unary(M.listModels, {});
      assert.deepEqual(
        message.workloads.map((w) => [w.workload, w.operations, w.models.map((m) => m.name)]),
        [
          ["chat", [Operation.GENERATE], ["small"]],
          ["vectors", [Operation.EMBED], ["echo-embed"]],
        ],
      );
      c.close();
    });

    test("health Check reports SERVING overall and per service, NOT_FOUND for unknown", async () => {
      const c = client();
      const overall = await c.unary(Health.method.check, { service: "" });
      assert.equal(overall.message.status, Serving.SERVING);
      const svc = await c.unary(Health.method.check, { service: "switchyard.v1.InferenceService" });
      assert.equal(svc.message.status, Serving.SERVING);
      await assert.rejects(c.unary(Health.method.check, { service: "nope.Service" }), { code: 5 });
      c.close();
    });

    test("reflection lists services and serves descriptors (both v1 and v1alpha)", async (t) => {
      const c = client();
      if (!c.http2) {
        // Reflection is a bidi stream, which needs HTTP/2: over HTTP/1.1 the server refuses it
        // cleanly (HTTP 505) instead of hanging. Reflection tools (grpcurl, buf curl) use HTTP/2.
        t.diagnostic(`${c.name}: bidi over HTTP/1.1 is refused`);
        await assert.rejects(
          c.bidi(ReflectionV1.method.serverReflectionInfo, [
            { messageRequest: { case: "listServices", value: "" } },
          ]),
          /505/,
        );
        return;
      }
      // The two versions share field names and numbers; the cast only unifies their TS types.
      const v1 = ReflectionV1.method.serverReflectionInfo;
      for (const method of [v1, ReflectionV1alpha.method.serverReflectionInfo as unknown as typeof v1]) {
        const [list, file] = await c.bidi(method, [
          { messageRequest: { case: "listServices", value: "" } },
          {
            messageRequest: {
              case: "fileContainingSymbol",
              value: "switchyard.v1.InferenceService.Generate",
            },
          },
        ]);
        assert.equal(list?.messageResponse.case, "listServicesResponse");
        if (list?.messageResponse.case === "listServicesResponse") {
          const names = list.messageResponse.value.service.map((s) => s.name);
          assert.ok(names.includes("switchyard.v1.InferenceService"));
          assert.ok(names.includes("grpc.health.v1.Health"));
        }
        assert.equal(file?.messageResponse.case, "fileDescriptorResponse");
        if (file?.messageResponse.case === "fileDescriptorResponse") {
          const protos = file.messageResponse.value.fileDescriptorProto.map((b) =>
            fromBinary(FileDescriptorProtoSchema, b),
          );
          assert.equal(protos[0]?.name, "switchyard/v1/inference_service.proto");
          assert.ok(
            protos.some((p) => p.name === "google/protobuf/struct.proto"),
            "dependencies included",
          );
        }
      }
      c.close();
    });
  });
}
