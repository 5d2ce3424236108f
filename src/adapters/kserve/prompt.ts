import type { ChatMessage } from "../adapter.ts";

/**
 * Raw-text endpoints (Triton vLLM / TensorRT-LLM) take one prompt string, not
 * chat messages. The template is deliberately plain, one line per message and
 * an open assistant turn:
 *
 *     system: You are terse.
 *     user: Hi
 *     assistant: Hello
 *     user: Name a colour
 *     assistant:
 *
 * Models that need their own chat template should be served behind an
 * OpenAI-compatible frontend instead (type: openai).
 */
export function renderPrompt(messages: readonly ChatMessage[]): string {
  const lines = messages.map((m) => `${m.role}: ${m.content}`);
  lines.push("assistant:");
  return lines.join("\n");
}
