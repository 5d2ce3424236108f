// Error replies of a hostile (or badly broken) upstream, for the canary tests: each provider's own wire
// shape, but the values of `code`, `type`, `param`, `status`, ErrorInfo `reason` and the message are the
// prompt the upstream received and the credential it was sent, raw and squeezed into the shape of a code
// (so that a charset check alone cannot catch them). Also non-JSON error pages that quote both.
import type { RecordedRequest } from "./http-fake-core.ts";

/** `s` with everything outside [A-Za-z0-9_] turned into `_`, cut to 48 characters: a code's shape. */
export function squeeze(s: string): string {
  return s.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 48);
}

/** What the upstream was sent: the last message's text and the credential header, whichever it was. */
export function received(req: RecordedRequest): { prompt: string; credential: string } {
  const h = req.headers;
  const credential = String(h.authorization ?? h["x-api-key"] ?? h["x-goog-api-key"] ?? "");
  return { prompt: lastText(req.body), credential };
}

function lastText(body: unknown): string {
  const b = (body ?? {}) as {
    messages?: { content?: unknown }[];
    contents?: { parts?: { text?: string }[] }[];
  };
  const content = b.messages?.at(-1)?.content ?? b.contents?.at(-1)?.parts?.[0]?.text;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p: { text?: string }) => p.text ?? "").join("");
  return "";
}

/** An HTML error page of a proxy in front of the provider, quoting what it got. */
export function htmlPage(req: RecordedRequest): string {
  const { prompt, credential } = received(req);
  return `<html><body><h1>400 Bad Request</h1><pre>${credential}\n${prompt}</pre></body></html>`;
}

/** OpenAI's `{"error": {message, type, param, code}}` with hostile values. */
export function openAIHostileError(req: RecordedRequest, variant: 0 | 1 = 0): Record<string, unknown> {
  const { prompt, credential } = received(req);
  return variant === 0
    ? { message: `${prompt} ${credential}`, type: squeeze(credential), param: prompt, code: credential }
    : { message: prompt, type: squeeze(prompt), param: credential, code: squeeze(credential) };
}

/** Anthropic's `{"type":"error","error":{type, message},"request_id"}` with hostile values. */
export function anthropicHostileError(req: RecordedRequest): Record<string, unknown> {
  const { prompt, credential } = received(req);
  return {
    type: "error",
    error: { type: squeeze(credential), message: `${prompt} ${credential}` },
    request_id: "req_011CanaryHostile",
  };
}

/** A google.rpc.Status (Gemini) whose status, ErrorInfo reason, domain and metadata are hostile. */
export function geminiHostileStatus(req: RecordedRequest, code = 400): Record<string, unknown> {
  const { prompt, credential } = received(req);
  return {
    code,
    message: `${prompt} ${credential}`,
    status: squeeze(credential),
    details: [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: squeeze(prompt),
        domain: credential,
        metadata: { service: prompt, key: credential },
      },
      { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: prompt }] },
    ],
  };
}
