// The KServe v2 / Triton fake from test/upstreams as its own process, for the gRPC-upstream arm: model
// "llama" with the vLLM tensor profile (decoupled, answers on ModelStreamInfer). The fake records every call
// and message for tests; under load that record would only grow, so it is emptied every second.
import { startKServeFake } from "../test/upstreams/kserve-fake.ts";

const fake = await startKServeFake({ models: { llama: { profile: "vllm" } } });
const trim = setInterval(() => {
  fake.calls.length = 0;
  fake.wire.length = 0;
}, 1000);
process.stdout.write(`${JSON.stringify({ ready: true, port: fake.port })}\n`);
process.on("SIGTERM", () => {
  clearInterval(trim);
  void fake.close().finally(() => process.exit(0));
});
