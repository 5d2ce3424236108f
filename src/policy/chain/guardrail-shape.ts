import type { GuardrailConfig } from "../../config/policy-schema.ts";
import type { GenerationRequest } from "../../pipeline/pipeline.ts";
import type { Exchange } from "./policy.ts";
import { contentKindsOf, imageCount } from "./request-content.ts";

/** The first size or shape rule a generation request breaks, as a rule id; undefined when none. */
export function shapeViolation(
  shape: NonNullable<GuardrailConfig["shape"]>,
  x: Exchange,
): string | undefined {
  const request = x.request as GenerationRequest;
  if (shape.maxInputTokens !== undefined && x.facts.estimate.inputTokens > shape.maxInputTokens)
    return "shape.max_input_tokens";
  if (shape.maxImages !== undefined && imageCount(request.messages) > shape.maxImages)
    return "shape.max_images";
  if (shape.allowedContent !== undefined) {
    const allowed = shape.allowedContent;
    if (contentKindsOf(request.messages).some((k) => !allowed.includes(k))) return "shape.content_kind";
  }
  if (shape.allowedTools !== undefined) {
    const allowed = shape.allowedTools;
    if (request.tools.some((t) => !allowed.includes(t.name))) return "shape.tool";
  }
  return undefined;
}
