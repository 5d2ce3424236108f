import type { MediaLimits } from "../../api/content-parts.ts";
import type { Pipeline } from "../../pipeline/pipeline.ts";
import { renderError } from "../openai/errors.ts";
import type { Exchange } from "../openai/exchange.ts";
import type { ResolvedModel } from "../openai/model-mapping.ts";
import { NAMED_EVENTS_SSE, SseWriter } from "../sse-writer.ts";
import { envelope, responseOf } from "./response-object.ts";
import type { ResponsesBody } from "./responses-request.ts";
import { type ResponsesEvent, ResponsesEventBuilder } from "./stream-events.ts";
import { toGeneration, wantsLogprobs } from "./to-generation.ts";

/**
 * POST /v1/responses once the body is valid and the model resolved: the pipeline's answer as a
 * `response`, or with `stream: true` as the Responses event sequence. Throws only before any
 * output; the caller renders that as an HTTP error in OpenAI's shape. Nothing is stored.
 */
export async function responses(
  ex: Exchange,
  pipeline: Pipeline,
  body: ResponsesBody,
  target: ResolvedModel,
  media: MediaLimits,
): Promise<void> {
  const request = toGeneration(body, target, media);
  const id = `resp_${ex.ctx.id.replaceAll("-", "")}`;
  const createdAt = Math.floor(Date.now() / 1000);
  const logprobs = wantsLogprobs(body);
  if (body.stream !== true) {
    const { output, usage } = await pipeline.generate(ex.ctx, request);
    ex.ok(responseOf(id, createdAt, body, output, usage, logprobs), output.model, usage);
    return;
  }

  // Headers leave with response.created, at the first content event: a failure before it
  // (failover included) is still an ordinary HTTP error.
  let attempt = 0;
  const sse = new SseWriter(
    ex.res,
    NAMED_EVENTS_SSE,
    () => ({ ...ex.headers(), ...(attempt > 0 ? { "x-switchyard-attempts": String(attempt) } : {}) }),
    () => ex.ctx.deadlineSignal,
  );
  const model = () => ex.ctx.servedModel ?? ex.ctx.decision.servedBy?.model ?? body.model;
  const events = new ResponsesEventBuilder(
    (status, tier) => ({ ...envelope(id, createdAt, model(), body, tier), status }),
    logprobs,
  );
  const send = async (list: ResponsesEvent[]) => {
    for (const event of list) await sse.send(event);
  };
  try {
    for await (const event of pipeline.stream(ex.ctx, request)) {
      switch (event.type) {
        case "text":
          await send(events.text(event.text, event.logprobs));
          break;
        case "reasoning":
          await send(events.reasoning(event));
          break;
        case "tool_call":
          await send(events.toolCall(event));
          break;
        case "finish":
          events.finish(event.reason, event.serviceTier);
          break;
        case "final":
          await send(events.end(event.usage));
          break;
        case "commit":
          attempt = event.attempt;
          break;
        default:
          break; // attempt markers have no Responses event; usage is settled into "final"
      }
    }
  } catch (error) {
    if (!sse.started) throw error;
    // After output began, OpenAI's way: an error event, then response.failed (the SDK throws).
    const { body: rendered } = renderError(error, ex.ctx.id);
    await send(events.fail(rendered.error.code ?? "server_error", rendered.error.message));
    await sse.done(() => ({ "server-timing": ex.finish(error) }));
    return;
  }
  await sse.done(() => ({ "server-timing": ex.finish(undefined) }));
}
