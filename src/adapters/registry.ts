import { refName } from "../config/env-refs.ts";
import type { BackendConfig } from "../config/schema.ts";
import { Secret } from "../config/secret.ts";
import type { Adapter } from "./adapter.ts";
import { AnthropicAdapter } from "./anthropic/index.ts";
import { EchoAdapter } from "./echo/index.ts";
import { GeminiAdapter } from "./gemini/index.ts";
import { KServeAdapter } from "./kserve/index.ts";
import { OpenAIAdapter } from "./openai/index.ts";
import { TeiAdapter } from "./tei/index.ts";

/** Builds the adapter for one configured backend. Secrets are resolved here, at the point of use. */
export function createAdapter(name: string, config: BackendConfig, env: NodeJS.ProcessEnv): Adapter {
  switch (config.type) {
    case "echo":
      return new EchoAdapter({ chunkDelayMs: config.chunkDelayMs, dimensions: config.dimensions });
    case "openai":
      return new OpenAIAdapter({
        name,
        baseUrl: config.baseUrl,
        apiKey: secretOf(config.apiKey, env),
        quirks: config.quirks,
        api: config.api,
        maxTokensField: config.maxTokensField,
        connections: config.connections,
        connectTimeoutMs: config.connectTimeoutMs,
        healthPath: config.healthCheck?.path,
      });
    case "anthropic":
      return new AnthropicAdapter({
        name,
        baseUrl: config.baseUrl,
        apiKey: secretOf(config.apiKey, env),
        apiVersion: config.apiVersion,
        defaultMaxTokens: config.defaultMaxTokens,
        connections: config.connections,
        connectTimeoutMs: config.connectTimeoutMs,
      });
    case "gemini":
      return new GeminiAdapter({
        name,
        baseUrl: config.baseUrl,
        apiKey: secretOf(config.apiKey, env),
        connections: config.connections,
        connectTimeoutMs: config.connectTimeoutMs,
      });
    case "kserve":
      return new KServeAdapter({
        name,
        address: config.address,
        apiKey: secretOf(config.apiKey, env),
        profile: config.profile,
        decoupled: config.decoupled ?? config.profile === "vllm",
        defaultMaxTokens: config.defaultMaxTokens,
        maxMessageBytes: config.maxMessageBytes,
      });
    case "tei":
      return new TeiAdapter({
        name,
        address: config.address,
        apiKey: secretOf(config.apiKey, env),
        normalize: config.normalize,
        truncate: config.truncate,
        truncationDirection: config.truncationDirection,
        promptName: config.promptName,
        maxMessageBytes: config.maxMessageBytes,
      });
  }
}

function secretOf(ref: string | undefined, env: NodeJS.ProcessEnv): Secret | undefined {
  if (ref === undefined) return undefined;
  const variable = refName(ref);
  const value = variable === undefined ? undefined : env[variable];
  return value === undefined || variable === undefined ? undefined : new Secret(value, variable);
}

/** One line for the start-up log, e.g. "openai https://api.openai.com/v1". Never includes a secret. */
export function describeBackend(config: BackendConfig): string {
  switch (config.type) {
    case "openai":
      return `openai ${config.baseUrl}`;
    case "anthropic":
      return `anthropic ${config.baseUrl} (API ${config.apiVersion})`;
    case "gemini":
      return `gemini ${config.baseUrl}`;
    case "kserve":
      return `kserve ${config.address} (${config.profile})`;
    case "tei":
      return `tei ${config.address}`;
    default:
      return config.type;
  }
}
