import type { MediaLimits } from "../../api/content-parts.ts";
import { estimatePromptTokens } from "../../metering/meter.ts";
import type { Pipeline } from "../../pipeline/pipeline.ts";
import type { Exchange } from "../openai/exchange.ts";
import type { ResolvedModel } from "../openai/model-mapping.ts";
import { NAMED_EVENTS_SSE, SseWriter } from "../sse-writer.ts";
import { renderAnthropicError } from "./errors.ts";
import type { MessagesBody } from "./messages-request.ts";
import { messageOf } from "./messages-response.ts";
import { type AnthropicEvent, StreamEventBuilder } from "./stream-events.ts";
import { toGeneration } from "./to-generation.ts";

/**
 * POST /v1/messages once the body is valid and the model resolved: the pipeline's answer as a
 * `message`, or with `stream: true` as Anthropic's event sequence. Throws only before any output;
 * the caller renders that as an HTTP error in Anthropic's shape.
 */
export async function messages(
  ex: Exchange,
  pipeline: Pipeline,
  body: MessagesBody,
  target: ResolvedModel,
  media: MediaLimits,
): Promise<void> {
  const request = toGeneration(body, target, media);
  const id = `msg_${ex.ctx.id.replaceAll("-", "")}`;
  if (body.stream !== true) {
    const { output, usage } = await pipeline.generate(ex.ctx, request);
    ex.ok(messageOf(id, output, usage), output.model, usage);
    return;
  }

  // Headers leave with message_start, at the first content event: a failure before it (fallback
  // included) is still an ordinary HTTP error.
  let attempt = 0;
  const sse = new SseWriter(
    ex.res,
    NAMED_EVENTS_SSE,
    () => ({ ...ex.headers(), ...(attempt > 0 ? { "x-switchyard-attempts": String(attempt) } : {}) }),
    () => ex.ctx.deadlineSignal,
  );
  const events = new StreamEventBuilder(id, estimatePromptTokens(request.messages));
  const model = () => ex.ctx.servedModel ?? ex.ctx.decision.servedBy?.model ?? body.model;
  const send = async (list: AnthropicEvent[]) => {
    for (const event of list) await sse.send(event);
  };
  try {
    for await (const event of pipeline.stream(ex.ctx, request)) {
      switch (event.type) {
        case "text":
          await send(events.text(event.text, model()));
          break;
        case "reasoning":
          await send(events.reasoning(event, model()));
          break;
        case "tool_call":
          await send(events.toolCall(event, model()));
          break;
        case "finish":
          events.finish(event.reason, event.serviceTier);
          break;
        case "final":
          await send(events.end(event.usage, model()));
          break;
        case "commit":
          attempt = event.attempt;
          break;
        default:
          break; // attempt markers have no Anthropic event; usage is settled into "final"
      }
    }
  } catch (error) {
    if (!sse.started) throw error;
    // After output began, Anthropic's way: an error event, then the end (the SDKs throw on it).
    sse.fail(renderAnthropicError(error, ex.ctx.id).body, () => ({ "server-timing": ex.finish(error) }));
    return;
  }
  await sse.done(() => ({ "server-timing": ex.finish(undefined) }));
}
