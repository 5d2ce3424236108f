import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  ReasoningEffort,
  type ReasoningOptionsSchema,
  ServiceTier,
} from "../../../gen/switchyard/v1/generation_pb.ts";
import { invalidParam } from "./errors.ts";

/**
 * The openai SDK's ReasoningEffort (v6: none, minimal, low, medium, high, xhigh, max) onto the
 * neutral three levels: each value goes to the nearest level, so the same request means the most
 * similar thing at every provider. "none" asks for no reasoning: no reasoning options are sent.
 */
const EFFORT: Record<string, ReasoningEffort | null> = {
  none: null,
  minimal: ReasoningEffort.LOW,
  low: ReasoningEffort.LOW,
  medium: ReasoningEffort.MEDIUM,
  high: ReasoningEffort.HIGH,
  xhigh: ReasoningEffort.HIGH,
  max: ReasoningEffort.HIGH,
};
export const REASONING_EFFORTS = Object.keys(EFFORT) as [string, ...string[]];

/** OpenAI's tiers the neutral API carries; "scale" (a pre-purchased capacity tier) has no equivalent. */
const TIER: Record<string, ServiceTier> = {
  auto: ServiceTier.AUTO,
  default: ServiceTier.DEFAULT,
  flex: ServiceTier.FLEX,
  priority: ServiceTier.PRIORITY,
};

/** The proto tier for OpenAI's `service_tier`, or a 400. */
export function serviceTierOf(tier: string | null | undefined): ServiceTier {
  if (tier == null) return ServiceTier.UNSPECIFIED;
  const out = TIER[tier];
  if (out === undefined)
    throw invalidParam("service_tier", 'expected "auto", "default", "flex" or "priority"');
  return out;
}

/**
 * Reasoning options from `reasoning_effort` and the facade's `include_reasoning` extension
 * (OpenAI's chat API returns no reasoning text; with it, the text comes back as
 * `reasoning_content`). Undefined when the request asks neither. The neutral API asks reasoning
 * by how hard to think, so `include_reasoning` needs an effort (a 400 otherwise).
 */
export function reasoningOf(
  effort: string | null | undefined,
  includeText: boolean,
): MessageInitShape<typeof ReasoningOptionsSchema> | undefined {
  const level = effort == null ? undefined : EFFORT[effort];
  if (level === null || level === undefined) {
    if (includeText) {
      throw invalidParam(
        "include_reasoning",
        'needs reasoning_effort ("minimal", "low", "medium", "high", "xhigh" or "max")',
      );
    }
    return undefined;
  }
  return { effort: level, includeText };
}

/** OpenAI's metadata bounds (its API refuses beyond them; so does the facade, before any provider). */
const METADATA = { keys: 16, keyChars: 64, valueChars: 512 };

/** Checks `metadata` against OpenAI's bounds; the 400 names the field as OpenAI does. */
export function checkMetadata(metadata: Record<string, string> | null | undefined): void {
  if (metadata == null) return;
  const entries = Object.entries(metadata);
  if (entries.length > METADATA.keys) {
    throw invalidParam(
      "metadata",
      `too many properties: at most ${METADATA.keys} keys, got ${entries.length}`,
    );
  }
  for (const [key, value] of entries) {
    if (key === "") throw invalidParam("metadata", "keys must not be empty");
    if (key.length > METADATA.keyChars) {
      throw invalidParam(
        "metadata",
        `key too long: at most ${METADATA.keyChars} characters, got ${key.length}`,
      );
    }
    if (value.length > METADATA.valueChars) {
      throw invalidParam(
        `metadata.${key}`,
        `string too long: at most ${METADATA.valueChars} characters, got ${value.length}`,
      );
    }
  }
}

/** The highest `top_logprobs` OpenAI accepts. */
export const MAX_TOP_LOGPROBS = 20;
