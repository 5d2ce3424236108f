// Calling Switchyard from Node with the generated stubs (gen/), over gRPC.
// Run the gateway (`npm start`), then, from the repository root:
//   SWITCHYARD_KEY=$(cat .switchyard/admin.key) npm run example:client -- "your prompt"
// The npm script (like `npx node examples/node-client.ts …`) runs the Node pinned in devDependencies;
// a plain `node` runs this .ts file only from Node 22.18 on.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Role } from "../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../gen/switchyard/v1/inference_service_pb.ts";

const baseUrl = process.env.SWITCHYARD_URL ?? "http://127.0.0.1:8080";
const client = createClient(InferenceService, createGrpcTransport({ baseUrl }));
const prompt = process.argv[2] ?? "Hello from the Node client";

// Stream a generation: attempt/commit events, text deltas, then a final event with usage and routing.
for await (const event of client.generateStream(
  { workload: "chat", messages: [{ role: Role.USER, content: [{ part: { case: "text", value: prompt } }] }] },
  { timeoutMs: 30_000, headers: { authorization: `Bearer ${process.env.SWITCHYARD_KEY ?? ""}` } },
)) {
  if (event.event.case === "textDelta") process.stdout.write(event.event.value.text);
  if (event.event.case === "final") {
    const { usage, routing } = event.event.value;
    process.stdout.write(
      `\n[served by ${routing?.backend}/${routing?.model}; ${usage?.outputTokens} output tokens]\n`,
    );
  }
}
