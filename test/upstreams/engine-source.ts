// What an upstream fake can serve from instead of a scripted reply: a text generator that turns a prompt into
// pieces of text with real token counts and stops when told to — a real inference engine (test/engine/) or
// anything shaped like one. The fakes keep their own wire format; only where the text comes from changes.

/** One streamed piece: its text and how many generated tokens it carries (usually 1). */
export type EnginePiece = { text: string; tokens: number };

export type EngineRequest = {
  prompt: string;
  /** Stop after this many generated tokens (finish reason "length"). */
  maxTokens: number;
  /** Aborting it stops the generation; the run's iteration then ends without a finish reason. */
  signal: AbortSignal;
};

/** One generation. Iterate it once; the counts are the engine's own, not estimates. */
export interface EngineRun extends AsyncIterable<EnginePiece> {
  /** The prompt's tokens as the engine's tokenizer counts them (BOS included), known before any output. */
  readonly promptTokens: number;
  /** Tokens generated so far; all of them once the iteration has ended. */
  readonly completionTokens: number;
  /** "stop" (end of sequence) or "length" (maxTokens) once the iteration has ended; undefined when aborted. */
  readonly finishReason: "stop" | "length" | undefined;
}

export type EngineProducer = (request: EngineRequest) => EngineRun;

/** Chat messages as one raw prompt: one `role: content` line each and an open assistant turn. */
export function chatPrompt(messages: readonly { role: string; content: string }[]): string {
  return [...messages.map((m) => `${m.role}: ${m.content}`), "assistant:"].join("\n");
}

/** Runs a generation to its end; the whole text (the counts are on the run). */
export async function collectText(run: EngineRun): Promise<string> {
  let text = "";
  for await (const piece of run) text += piece.text;
  return text;
}

/**
 * The run's pieces one behind the engine, so the last can be flagged (Triton marks it final). Yields nothing
 * more once the run was aborted.
 */
export async function* markLast(run: EngineRun): AsyncGenerator<EnginePiece & { last: boolean }> {
  let held: EnginePiece | undefined;
  for await (const piece of run) {
    if (held) yield { ...held, last: false };
    held = piece;
  }
  if (held && run.finishReason !== undefined) yield { ...held, last: true };
}
