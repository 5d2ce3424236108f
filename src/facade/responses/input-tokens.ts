import type { MediaLimits } from "../../api/content-parts.ts";
import type { Pipeline } from "../../pipeline/pipeline.ts";
import { estimatedInputTokens } from "../estimated-input.ts";
import type { Exchange } from "../openai/exchange.ts";
import type { ResolvedModel } from "../openai/model-mapping.ts";
import type { ResponsesBody } from "./responses-request.ts";
import { toGeneration } from "./to-generation.ts";

/** POST /v1/responses/input_tokens: `{object: "response.input_tokens", input_tokens}`, the gateway's estimate (docs/responses.md). */
export async function inputTokens(
  ex: Exchange,
  pipeline: Pipeline,
  body: ResponsesBody,
  target: ResolvedModel,
  media: MediaLimits,
): Promise<void> {
  const tokens = await estimatedInputTokens(ex, pipeline, () => toGeneration(body, target, media));
  ex.ok({ object: "response.input_tokens", input_tokens: tokens });
}
