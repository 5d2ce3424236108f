import type { Pipeline } from "../../pipeline/pipeline.ts";
import { CHAT_COMPLETIONS_SSE, SseWriter } from "../sse-writer.ts";
import { type ChatBody, toGeneration, wantsReasoningText } from "./chat-request.ts";
import { ChunkBuilder, chatCompletion } from "./chat-response.ts";
import { renderError } from "./errors.ts";
import type { Exchange } from "./exchange.ts";
import type { ResolvedModel } from "./model-mapping.ts";

/**
 * POST /v1/chat/completions once the body is valid and the model resolved:
 * the pipeline's answer as a `chat.completion`, or with `stream: true` as
 * `chat.completion.chunk` events (attempt/commit markers are not sent:
 * OpenAI has no such events). Throws only before any output; the caller
 * renders that as an HTTP error.
 */
export async function chatCompletions(
  ex: Exchange,
  pipeline: Pipeline,
  body: ChatBody,
  target: ResolvedModel,
): Promise<void> {
  const request = toGeneration(body, target);
  const id = `chatcmpl-${ex.ctx.id}`;
  const created = Math.floor(ex.ctx.startedAt / 1000);
  const options = { reasoningText: wantsReasoningText(body) };
  if (body.stream !== true) {
    const { output, usage } = await pipeline.generate(ex.ctx, request);
    ex.ok(chatCompletion(id, created, output, usage, options), output.model, usage);
    return;
  }

  // Headers leave with the first chunk, after the commit: by then the serving backend is known,
  // and a failure before it is still an ordinary HTTP error (fallback stays invisible).
  let attempt = 0; // the serving attempt, still running when the headers leave (not yet in decision.attempts)
  const sse = new SseWriter(
    ex.res,
    CHAT_COMPLETIONS_SSE,
    () => ({
      ...ex.headers(),
      ...(attempt > 0 ? { "x-switchyard-attempts": String(attempt) } : {}),
    }),
    () => ex.ctx.deadlineSignal,
  );
  const chunks = new ChunkBuilder(id, created, body.stream_options?.include_usage === true, options);
  const model = () => ex.ctx.decision.servedBy?.model ?? body.model;
  const send = async (list: Record<string, unknown>[]) => {
    for (const chunk of list) await sse.send(chunk);
  };
  try {
    for await (const event of pipeline.stream(ex.ctx, request)) {
      switch (event.type) {
        case "text":
          await send(chunks.text(event.text, model(), event.logprobs));
          break;
        case "reasoning":
          await send(chunks.reasoning(event.text, model()));
          break;
        case "tool_call":
          await send(chunks.toolCall(event, model()));
          break;
        case "finish":
          await send(chunks.finish(event.reason, model(), event.serviceTier));
          break;
        case "final":
          await send(chunks.end(event.usage, model()));
          break;
        case "commit":
          attempt = event.attempt;
          break;
        default:
          break; // attempt markers (OpenAI has no such events); usage is settled into "final"
      }
    }
  } catch (error) {
    if (!sse.started) throw error;
    // After output began, OpenAI's way: an error event, then the end (the SDKs throw on it).
    sse.fail({ error: renderError(error, ex.ctx.id).body.error }, () => ({
      "server-timing": ex.finish(error),
    }));
    return;
  }
  await sse.done(() => ({ "server-timing": ex.finish(undefined) }));
}
