import type { ReasoningBlock, ReasoningOptions } from "../adapter.ts";
import { invalidArgument } from "./errors.ts";

/** Anthropic's floor for `thinking.budget_tokens` (it must also stay below `max_tokens`). */
export const MIN_THINKING_BUDGET = 1024;

/**
 * Thinking budget per effort when the caller gave none: low is Anthropic's floor, each step 4× the last
 * (medium 4096, high 16384). A caller's output cap clamps it to cap − 1; without a cap the budget is
 * added on top of the backend's default `max_tokens`, so the answer keeps the room it had without thinking.
 */
export const THINKING_BUDGET_OF_EFFORT = { low: 1024, medium: 4096, high: 16384 } as const;

export type ThinkingPlan = { maxTokens: number; thinking?: Record<string, unknown> };

/**
 * `thinking: {type: "enabled", budget_tokens}` from the neutral options. An explicit budget wins over effort;
 * neither given means medium.
 * `display` says whether the thinking text comes back: "omitted" still returns each block (empty text, with
 * its signature, so the conversation can continue), "summarized" returns the text (newer models default to
 * omitted, so it is asked for explicitly).
 */
export function thinkingPlanOf(
  reasoning: ReasoningOptions | undefined,
  callerCap: number | undefined,
  defaultMaxTokens: number,
): ThinkingPlan {
  if (!reasoning) return { maxTokens: callerCap ?? defaultMaxTokens };
  let budget: number;
  if (reasoning.budgetTokens !== undefined) {
    budget = reasoning.budgetTokens;
    if (budget < MIN_THINKING_BUDGET) {
      throw invalidArgument(
        `reasoning.budget_tokens is ${budget}; Anthropic needs at least ${MIN_THINKING_BUDGET}`,
      );
    }
    if (callerCap !== undefined && budget >= callerCap) {
      throw invalidArgument(
        `reasoning.budget_tokens (${budget}) must be below sampling.max_output_tokens (${callerCap}) on Anthropic, ` +
          "where thinking counts toward the output cap",
      );
    }
  } else {
    budget = THINKING_BUDGET_OF_EFFORT[reasoning.effort ?? "medium"];
    if (callerCap !== undefined) {
      if (callerCap <= MIN_THINKING_BUDGET) {
        throw invalidArgument(
          `reasoning on Anthropic needs sampling.max_output_tokens above ${MIN_THINKING_BUDGET} ` +
            `(the smallest thinking budget must fit below it); got ${callerCap}`,
        );
      }
      budget = Math.min(budget, callerCap - 1);
    }
  }
  return {
    maxTokens: callerCap ?? defaultMaxTokens + budget,
    thinking: {
      type: "enabled",
      budget_tokens: budget,
      display: reasoning.includeText ? "summarized" : "omitted",
    },
  };
}

export type WireThinkingBlock = { type?: string; thinking?: string; signature?: string; data?: string };

/** A thinking or redacted_thinking block of a response, kept exactly as sent (it must come back unchanged). */
export function reasoningBlockOf(block: WireThinkingBlock): ReasoningBlock | undefined {
  if (block.type === "thinking") {
    return { provider: "anthropic", text: block.thinking ?? "", signature: block.signature ?? "" };
  }
  if (block.type === "redacted_thinking") {
    return { provider: "anthropic", text: "", encryptedContent: block.data ?? "", redacted: true };
  }
  return undefined;
}

/** The block that carries a reasoning part back, or undefined when it came from another provider. */
export function thinkingBlockOf(part: ReasoningBlock, where: string): Record<string, unknown> | undefined {
  if (part.provider !== "anthropic") return undefined; // another family's reasoning means nothing here
  if (part.redacted || (part.encryptedContent !== undefined && part.signature === undefined)) {
    if (!part.encryptedContent)
      throw invalidArgument(`${where}: a redacted Anthropic thinking block needs its data`);
    return { type: "redacted_thinking", data: part.encryptedContent };
  }
  if (part.signature === undefined || part.signature === "") {
    throw invalidArgument(`${where}: an Anthropic thinking block needs the signature it came with`);
  }
  return { type: "thinking", thinking: part.text, signature: part.signature };
}
