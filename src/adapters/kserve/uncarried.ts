import { UpstreamError } from "../../errors/upstream-error.ts";
import type { GenerateInput } from "../adapter.ts";

/**
 * The first thing a text-only backend (KServe raw-text profiles, TEI) cannot carry, named by its
 * field: image, audio and document parts, reasoning options and logprobs. What such a backend may
 * safely ignore is not named: cache breakpoints and the cache key (no prompt cache to steer),
 * reasoning parts (another provider's state; every adapter but its own drops it), end-user id,
 * metadata, service tier and parallelToolCalls.
 */
export function uncarriedField(input: GenerateInput): string | undefined {
  for (const [m, message] of input.messages.entries()) {
    for (const [p, part] of (message.parts ?? []).entries()) {
      if (part.type === "image" || part.type === "audio" || part.type === "document") {
        return `messages[${m}].parts[${p}]: ${part.type} parts are`;
      }
    }
  }
  const reasoning = input.reasoning;
  if (
    reasoning &&
    (reasoning.effort !== undefined || reasoning.budgetTokens !== undefined || reasoning.includeText)
  ) {
    return "reasoning: reasoning options are";
  }
  if (input.logprobs !== undefined) return "logprobs: log probabilities are";
  return undefined;
}

/**
 * Refuses, before any upstream call, a request carrying what the backend cannot. A bad_request:
 * the caller's input, which another backend of the route could not serve either (routing already
 * skipped targets without the capability), so it answers INVALID_ARGUMENT and stays out of the breaker.
 */
export function refuseUncarried(input: GenerateInput, kind: string, backend: string): void {
  const field = uncarriedField(input);
  if (field !== undefined) {
    throw new UpstreamError("bad_request", `${field} not supported by ${kind} backend ${backend}`);
  }
}
