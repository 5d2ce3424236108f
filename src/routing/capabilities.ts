import type { BackendConfig } from "../config/schema.ts";

export type Capabilities = {
  generation: boolean;
  streaming: boolean;
  tools: boolean;
  jsonSchema: boolean;
  embeddings: boolean;
};

/** What each backend type can do; config may switch features off (or on) per backend. */
const DEFAULTS: Record<string, Capabilities> = {
  echo: { generation: true, streaming: true, tools: true, jsonSchema: true, embeddings: true },
  openai: { generation: true, streaming: true, tools: true, jsonSchema: true, embeddings: true },
  anthropic: { generation: true, streaming: true, tools: true, jsonSchema: true, embeddings: false },
  gemini: { generation: true, streaming: true, tools: true, jsonSchema: true, embeddings: true },
  kserve: { generation: true, streaming: true, tools: false, jsonSchema: false, embeddings: false },
  tei: { generation: false, streaming: false, tools: false, jsonSchema: false, embeddings: true },
};

export function capabilitiesOf(config: BackendConfig): Capabilities {
  const base = DEFAULTS[config.type] ?? {
    generation: false,
    streaming: false,
    tools: false,
    jsonSchema: false,
    embeddings: false,
  };
  const override = Object.fromEntries(
    Object.entries(config.capabilities ?? {}).filter(([, v]) => v !== undefined),
  );
  return { ...base, ...override };
}

/** What one request needs of a target. */
export type Needs = {
  operation: "generate" | "embed";
  streaming: boolean;
  tools: boolean;
  jsonSchema: boolean;
  /** Estimated input + max output tokens; compared with the target's context window. */
  contextTokens: number;
};

/** Why a backend cannot serve these needs, or undefined when it can. */
export function missingCapability(caps: Capabilities, needs: Needs): string | undefined {
  if (needs.operation === "embed") return caps.embeddings ? undefined : "cannot embed";
  if (!caps.generation) return "cannot generate";
  if (needs.streaming && !caps.streaming) return "cannot stream";
  if (needs.tools && !caps.tools) return "no tool calling";
  if (needs.jsonSchema && !caps.jsonSchema) return "no JSON output mode";
  return undefined;
}
