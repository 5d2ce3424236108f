import type { GenerateInput } from "../adapters/adapter.ts";
import { QUIRKS, type QuirkProfileName } from "../adapters/openai/quirks.ts";
import type { BackendConfig } from "../config/schema.ts";

/** What a backend (or one model on it) can do; routing skips targets that lack what a request needs. */
export type Capabilities = {
  generation: boolean;
  streaming: boolean;
  tools: boolean;
  jsonSchema: boolean;
  embeddings: boolean;
  /** Image content parts. */
  vision: boolean;
  /** Audio input parts. */
  audio: boolean;
  /** Document (PDF / text file) parts. */
  documents: boolean;
  /** Reasoning options (effort or token budget) and reasoning blocks sent back. */
  reasoning: boolean;
  /**
   * Honours prompt-cache breakpoints and cache keys. Reported, never required: a breakpoint is a hint,
   * and a backend without caching serves the request uncached (it costs more, it does not fail).
   */
  caching: boolean;
  logprobs: boolean;
};

export type CapabilityName = keyof Capabilities;

/**
 * What each backend type can do. Keyed by every backend type of the config schema, and each entry a
 * full Capabilities: a forgotten type or capability is a type error, not a silently disabled backend.
 * Config may switch features off (or on) per backend and per target (one model on a backend).
 */
const DEFAULTS: { [T in BackendConfig["type"]]: Capabilities } = {
  echo: all(true),
  openai: all(true),
  anthropic: { ...all(true), embeddings: false, audio: false, logprobs: false },
  gemini: { ...all(true), logprobs: true },
  kserve: {
    ...all(false),
    generation: true,
    streaming: true,
  },
  tei: { ...all(false), embeddings: true },
};

function all(value: boolean): Capabilities {
  return {
    generation: value,
    streaming: value,
    tools: value,
    jsonSchema: value,
    embeddings: value,
    vision: value,
    audio: value,
    documents: value,
    reasoning: value,
    caching: value,
    logprobs: value,
  };
}

export type CapabilityOverrides = Partial<Record<CapabilityName, boolean | undefined>>;

/** A backend type's defaults with the config's overrides (undefined keeps the default). */
export function capabilitiesOf(config: BackendConfig): Capabilities {
  const base =
    config.type !== "openai"
      ? DEFAULTS[config.type]
      : config.api === "responses"
        ? RESPONSES_API
        : openAICompatible(config.quirks);
  return withOverrides(base, config.capabilities);
}

/**
 * The OpenAI-compatible servers differ from OpenAI in what they take. The quirks table
 * (src/adapters/openai/quirks.ts) says so as data, and its adapter refuses the rest: the capabilities
 * are read from the same rows, so routing never picks a server whose adapter would refuse the request.
 */
function openAICompatible(quirks: QuirkProfileName): Capabilities {
  const row = QUIRKS[quirks];
  return {
    ...all(true),
    audio: row.audioFormats.length > 0,
    // PDFs travel only as OpenAI `file` or Mistral `document_url` parts (text documents work as text).
    documents: row.documents !== "none",
    logprobs: row.logprobs,
  };
}

/** OpenAI's Responses API (`api: responses`): no audio input. */
const RESPONSES_API: Capabilities = { ...all(true), audio: false };

export function withOverrides(base: Capabilities, overrides: CapabilityOverrides | undefined): Capabilities {
  if (!overrides) return base;
  const out = { ...base };
  for (const [name, value] of Object.entries(overrides) as [CapabilityName, boolean | undefined][])
    if (value !== undefined) out[name] = value;
  return out;
}

/** What one request needs of a target. */
export type Needs = {
  operation: "generate" | "embed";
  streaming: boolean;
  tools: boolean;
  jsonSchema: boolean;
  /** Content and options the request carries beyond text (each needs the capability of its name). */
  vision?: boolean;
  audio?: boolean;
  documents?: boolean;
  reasoning?: boolean;
  logprobs?: boolean;
  /** Estimated input + max output tokens; compared with the target's context window. */
  contextTokens: number;
};

const CONTENT_NEEDS: readonly [keyof Needs & CapabilityName, string][] = [
  ["vision", "no vision (image input)"],
  ["audio", "no audio input"],
  ["documents", "no document input"],
  ["reasoning", "no reasoning options"],
  ["logprobs", "no logprobs"],
];

/** Why a target with these capabilities cannot serve these needs, or undefined when it can. */
export function missingCapability(caps: Capabilities, needs: Needs): string | undefined {
  if (needs.operation === "embed") return caps.embeddings ? undefined : "cannot embed";
  if (!caps.generation) return "cannot generate";
  if (needs.streaming && !caps.streaming) return "cannot stream";
  if (needs.tools && !caps.tools) return "no tool calling";
  if (needs.jsonSchema && !caps.jsonSchema) return "no JSON output mode";
  for (const [name, text] of CONTENT_NEEDS) if (needs[name] && !caps[name]) return text;
  return undefined;
}

type ContentNeeds = Pick<Needs, "vision" | "audio" | "documents" | "reasoning" | "logprobs">;

/**
 * What a generation request's content and options need beyond text: images, audio, documents,
 * reasoning options, logprobs. Only messages with parts are looked into.
 */
export function contentNeeds(input: Omit<GenerateInput, "model">): ContentNeeds {
  const needs: ContentNeeds = {};
  if (input.reasoning) needs.reasoning = true;
  if (input.logprobs) needs.logprobs = true;
  for (const m of input.messages) {
    if (!m.parts) continue;
    // Reasoning blocks sent back need nothing: only their own provider family reads them, others
    // drop them, so a conversation can move to a backend without reasoning.
    for (const p of m.parts) {
      if (p.type === "image") needs.vision = true;
      else if (p.type === "audio") needs.audio = true;
      else if (p.type === "document") needs.documents = true;
    }
  }
  return needs;
}
