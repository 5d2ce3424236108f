// The KServe / Triton fake serving from a live engine (engine-source.ts) instead of scripted text: how an
// engine's generation becomes the fake's responses. The fake itself (kserve-fake.ts) keeps the wire format.
import { collectText, type EngineProducer, type EngineRun, markLast } from "./engine-source.ts";
import type { Decoded, FakeModel, Piece } from "./kserve-fake.ts";

/**
 * ModelStreamInfer served by a live engine instead of scripted text (engine-source.ts): `text_input` is the
 * prompt, `sampling_parameters.max_tokens` (vLLM) or `max_tokens` (TensorRT-LLM) the cap, and each response
 * carries what the engine made, one token's text per response, with the engine's own token counts. Responses
 * and final flags follow the model's profile as for scripted text; a client cancel stops the engine.
 */
export type EngineScript = {
  kind: "engine";
  engine: EngineProducer;
  delayMs?: number;
  /** Pause between responses; the engine generates nothing meanwhile (it runs only when pulled). */
  chunkDelayMs?: number;
  /** As TextScript.emptyFinal. */
  emptyFinal?: boolean;
};

/** The same pieces, made by an engine as they are sent: one token's text each, the last one flagged final. */
export async function* enginePlan(
  run: EngineRun,
  script: EngineScript,
  d: Decoded,
  model: FakeModel,
): AsyncGenerator<Piece> {
  if (!d.stream || !(model.decoupled ?? model.profile === "vllm")) {
    const text = await collectText(run);
    const prefix = d.flags.has("exclude_input_in_output") ? "" : d.prompt;
    const finish = run.finishReason;
    if (finish !== undefined)
      yield { text: prefix + text, tokens: run.completionTokens, finish, final: true };
    return;
  }
  const emptyFinal = script.emptyFinal ?? model.profile === "tensorrt-llm";
  for await (const piece of markLast(run)) {
    const final = piece.last && !emptyFinal;
    yield { text: piece.text, tokens: piece.tokens, finish: final ? run.finishReason : undefined, final };
  }
  if (run.finishReason !== undefined && (emptyFinal || run.completionTokens === 0))
    yield { text: "", tokens: 0, finish: run.finishReason, final: true };
}
