import { estimatePromptTokens, estimateTokens } from "../metering/meter.ts";
import type { GenerationRequest, Pipeline } from "../pipeline/pipeline.ts";
import type { Exchange } from "./openai/exchange.ts";

/**
 * The input tokens of a request as the gateway estimates a prompt for its admission checks (~4
 * characters per token, per-message framing, media as docs/metering.md says, plus the tools' JSON),
 * not a provider's tokenizer: the front doors' token-counting endpoints answer it, documented as an
 * estimate. No upstream is called, so nothing is metered; the key must still be allowed to generate
 * on the workload and model (checked, and a denial audited, before the body is translated).
 */
export async function estimatedInputTokens(
  ex: Exchange,
  pipeline: Pipeline,
  translate: () => GenerationRequest,
): Promise<number> {
  await pipeline.authorize(ex.ctx, "inference.generate");
  const request = translate();
  const tools = request.tools.length > 0 ? estimateTokens(JSON.stringify(request.tools)) : 0;
  return estimatePromptTokens(request.messages) + tools;
}
