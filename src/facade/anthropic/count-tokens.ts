import type { MediaLimits } from "../../api/content-parts.ts";
import type { Pipeline } from "../../pipeline/pipeline.ts";
import { estimatedInputTokens } from "../estimated-input.ts";
import type { Exchange } from "../openai/exchange.ts";
import type { ResolvedModel } from "../openai/model-mapping.ts";
import type { MessagesBody } from "./messages-request.ts";
import { toGeneration } from "./to-generation.ts";

/** POST /v1/messages/count_tokens: `{input_tokens}`, the gateway's estimate (docs/anthropic-messages.md). */
export async function countTokens(
  ex: Exchange,
  pipeline: Pipeline,
  body: MessagesBody,
  target: ResolvedModel,
  media: MediaLimits,
): Promise<void> {
  const tokens = await estimatedInputTokens(ex, pipeline, () => toGeneration(body, target, media));
  ex.ok({ input_tokens: tokens });
}
