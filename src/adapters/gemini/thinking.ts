import type { GenerateInput } from "../adapter.ts";

type Json = Record<string, unknown>;

/**
 * Thinking budgets for an effort on models without thinkingLevel (Gemini 2.x), the mapping
 * Google's own OpenAI-compatible endpoint documents for `reasoning_effort`.
 */
export const EFFORT_BUDGET = { low: 1024, medium: 8192, high: 24576 } as const;

/**
 * ReasoningOptions → generationConfig.thinkingConfig. An explicit token budget is sent as
 * thinkingBudget. An effort alone is sent as thinkingLevel (Gemini 3 and later), or as the budget
 * above for Gemini 2.x models, which have no levels; never both, which the API refuses. Which levels
 * a Gemini 3 model takes is the model's (a model without "medium" answers 400, the caller's to fix).
 * includeText asks for thought summaries (includeThoughts); without it Gemini still thinks and bills.
 */
export function thinkingConfig(input: GenerateInput): Json | undefined {
  const reasoning = input.reasoning;
  if (reasoning === undefined) return undefined;
  const config: Json = {};
  if (reasoning.includeText) config.includeThoughts = true;
  if (reasoning.budgetTokens !== undefined) config.thinkingBudget = reasoning.budgetTokens;
  else if (reasoning.effort !== undefined) {
    if (hasThinkingLevels(input.model)) config.thinkingLevel = reasoning.effort.toUpperCase();
    else config.thinkingBudget = EFFORT_BUDGET[reasoning.effort];
  }
  return Object.keys(config).length > 0 ? config : undefined;
}

/** Gemini 1.x and 2.x models take budgets only; thinkingLevel came with Gemini 3. */
function hasThinkingLevels(model: string): boolean {
  const id = model.slice(model.lastIndexOf("/") + 1);
  return !/^gemini-[12](\.|-)/.test(id);
}
