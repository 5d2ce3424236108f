import { mintKey } from "../../src/policy/api-key.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

/**
 * The gateway every language's SDK suite runs against: auth on, an echo backend, an OpenAI-compatible
 * fake upstream, a slow workload for deadlines and a workload limited to one request per minute.
 * The suites get it through environment variables (see `sdkEnv`), so Python and Go read the same.
 */
export type SdkGateway = {
  gateway: TestGateway;
  fake: OpenAIFake;
  adminKey: string;
  /** Variables handed to a language's test process. */
  env: Record<string, string>;
  stop(): Promise<void>;
};

const backends =
  "  echo:\n    type: echo\n    dimensions: 8\n" +
  "  slow:\n    type: echo\n    chunkDelayMs: 400\n" +
  "  fake:\n    type: openai\n    baseUrl: ${FAKE_URL}/v1\n";
const routes =
  "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n" +
  "  vectors:\n    operations: [embed]\n    targets:\n      - { backend: echo, model: echo-embed }\n" +
  "  upstream:\n    targets:\n      - { backend: fake, model: gpt-4o-mini }\n" +
  "  slow:\n    targets:\n      - { backend: slow, model: echo-slow }\n" +
  "  limited:\n    targets:\n      - { backend: echo, model: echo-1 }\n";
const limits = "limits:\n  rules:\n    - { scope: workload, match: limited, requestsPerMinute: 1 }\n";

export async function startSdkGateway(): Promise<SdkGateway> {
  const fake = await startOpenAIFake();
  const adminKey = mintKey().secret;
  const gateway = await startTestGateway(
    configYaml(backends, routes, "", `auth: { enabled: true }\n${limits}`),
    { SWITCHYARD_BOOTSTRAP_KEY: adminKey, FAKE_URL: fake.url },
  );
  const { port } = gateway.gateway;
  return {
    gateway,
    fake,
    adminKey,
    env: {
      SWITCHYARD_URL: gateway.url,
      SWITCHYARD_TARGET: `127.0.0.1:${port}`,
      SWITCHYARD_ADMIN_KEY: adminKey,
      // Workloads, named once here for every suite.
      SWITCHYARD_CHAT: "chat",
      SWITCHYARD_EMBED: "vectors",
      SWITCHYARD_UPSTREAM: "upstream",
      SWITCHYARD_SLOW: "slow",
      SWITCHYARD_LIMITED: "limited",
    },
    stop: async () => {
      await gateway.stop();
      await fake.close();
    },
  };
}
