// What the Gemini API checks in the parts of `contents` and in generationConfig.thinkingConfig /
// logprobs / serviceTier before any model runs. Each check returns the google.rpc.Status message
// (and the field) of the 400 the real API sends, or undefined when the request passes.
import { isObject, type Json } from "./openai-http.ts";

export type Violation = { message: string; field?: string };

/** The members of Part's `data` oneof: exactly one must be set. */
const DATA_FIELDS = [
  "text",
  "inlineData",
  "fileData",
  "functionCall",
  "functionResponse",
  "executableCode",
  "codeExecutionResult",
];
const PART_FIELDS = new Set([
  ...DATA_FIELDS,
  "thought",
  "thoughtSignature",
  "videoMetadata",
  "mediaResolution",
]);
const MEDIA_RESOLUTIONS = new Set([
  "MEDIA_RESOLUTION_LOW",
  "MEDIA_RESOLUTION_MEDIUM",
  "MEDIA_RESOLUTION_HIGH",
  "MEDIA_RESOLUTION_ULTRA_HIGH",
]);
/** The input types Gemini documents (images, audio, video, PDF and text documents). */
const SUPPORTED_MIME =
  /^(image\/(png|jpeg|webp|heic|heif)|audio\/(wav|mp3|mpeg|aiff|aac|ogg|flac)|video\/[a-z0-9.+-]+|application\/pdf|text\/[a-z0-9.+-]+|application\/json)$/;
const THINKING_FIELDS = new Set(["includeThoughts", "thinkingBudget", "thinkingLevel"]);
const THINKING_LEVELS = new Set(["MINIMAL", "LOW", "MEDIUM", "HIGH"]);
const SERVICE_TIERS = new Set(["standard", "flex", "priority"]);
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
export const MAX_LOGPROBS = 20;

function camel(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Checks one part of contents[c].parts[p]; `model` tells whether it is in a model turn. */
export function checkPart(part: unknown, at: string): Violation | undefined {
  if (!isObject(part)) return { message: `Invalid JSON payload received. Expected an object at '${at}'.` };
  const keys = Object.keys(part).map(camel);
  const unknown = keys.find((k) => !PART_FIELDS.has(k));
  if (unknown !== undefined) {
    return {
      message: `Invalid JSON payload received. Unknown name "${unknown}" at '${at}': Cannot find field.`,
    };
  }
  const data = keys.filter((k) => DATA_FIELDS.includes(k));
  if (data.length === 0) {
    return {
      message: `* GenerateContentRequest.${at}.data: required oneof field 'data' must have one initialized field\n`,
    };
  }
  if (data.length > 1) {
    return {
      message: `Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '${data[1]}'`,
    };
  }
  const signature = part.thoughtSignature ?? part.thought_signature;
  if (signature !== undefined && (typeof signature !== "string" || !BASE64.test(signature))) {
    return { message: `Invalid value at '${at}.thought_signature' (TYPE_BYTES), Base64 decoding failed` };
  }
  const inline = part.inlineData ?? part.inline_data;
  if (inline !== undefined) return checkInline(inline, `${at}.inline_data`);
  const file = part.fileData ?? part.file_data;
  if (file !== undefined) return checkFile(file, `${at}.file_data`);
  const response = part.functionResponse ?? part.function_response;
  if (isObject(response) && response.parts !== undefined)
    return checkResponseParts(response.parts, `${at}.function_response`);
  const resolution = part.mediaResolution ?? part.media_resolution;
  if (
    resolution !== undefined &&
    !(isObject(resolution) && MEDIA_RESOLUTIONS.has(String(resolution.level)))
  ) {
    return { message: `Invalid value at '${at}.media_resolution.level'` };
  }
  return undefined;
}

/** FunctionResponsePart: media only, one of inlineData or fileData each. */
function checkResponseParts(parts: unknown, at: string): Violation | undefined {
  for (const [i, part] of (Array.isArray(parts) ? parts : [parts]).entries()) {
    const here = `${at}.parts[${i}]`;
    if (!isObject(part))
      return { message: `Invalid JSON payload received. Expected an object at '${here}'.` };
    const unknown = Object.keys(part)
      .map(camel)
      .find((k) => k !== "inlineData" && k !== "fileData");
    if (unknown !== undefined) {
      return {
        message: `Invalid JSON payload received. Unknown name "${unknown}" at '${here}': Cannot find field.`,
      };
    }
    const inline = part.inlineData ?? part.inline_data;
    const violation =
      inline !== undefined
        ? checkInline(inline, `${here}.inline_data`)
        : checkFile(part.fileData ?? part.file_data, `${here}.file_data`);
    if (violation) return violation;
  }
  return undefined;
}

function checkInline(inline: unknown, at: string): Violation | undefined {
  if (!isObject(inline)) return { message: `Invalid JSON payload received. Expected an object at '${at}'.` };
  const mime = inline.mimeType ?? inline.mime_type;
  const data = inline.data;
  if (typeof data !== "string" || data === "") {
    return { message: `* GenerateContentRequest.${at}.data: data is not specified\n` };
  }
  if (!BASE64.test(data))
    return { message: `Invalid value at '${at}.data' (TYPE_BYTES), Base64 decoding failed` };
  if (typeof mime !== "string" || mime === "") {
    return { message: `* GenerateContentRequest.${at}.mime_type: mime_type is not specified\n` };
  }
  if (!SUPPORTED_MIME.test(mime)) return { message: `Unsupported MIME type: ${mime}` };
  return undefined;
}

function checkFile(file: unknown, at: string): Violation | undefined {
  if (!isObject(file)) return { message: `Invalid JSON payload received. Expected an object at '${at}'.` };
  const uri = file.fileUri ?? file.file_uri;
  const mime = file.mimeType ?? file.mime_type;
  if (typeof uri !== "string" || uri === "") {
    return { message: `* GenerateContentRequest.${at}.file_uri: file_uri is not specified\n` };
  }
  if (typeof mime !== "string" || mime === "") {
    return { message: `* GenerateContentRequest.${at}.mime_type: mime_type is not specified\n` };
  }
  if (!SUPPORTED_MIME.test(mime)) return { message: `Unsupported MIME type: ${mime}` };
  return undefined;
}

/** thinkingConfig, responseLogprobs/logprobs of a generationConfig. */
export function checkGenerationExtras(config: Json): Violation | undefined {
  const thinking = config.thinkingConfig ?? config.thinking_config;
  if (thinking !== undefined) {
    if (!isObject(thinking))
      return { message: "Invalid JSON payload received. Expected an object at 'thinking_config'." };
    const unknown = Object.keys(thinking)
      .map(camel)
      .find((k) => !THINKING_FIELDS.has(k));
    if (unknown !== undefined) {
      return {
        message: `Invalid JSON payload received. Unknown name "${unknown}" at 'generation_config.thinking_config': Cannot find field.`,
        field: "generation_config.thinking_config",
      };
    }
    const level = thinking.thinkingLevel ?? thinking.thinking_level;
    const budget = thinking.thinkingBudget ?? thinking.thinking_budget;
    if (level !== undefined && !THINKING_LEVELS.has(String(level))) {
      return {
        message: `Invalid value at 'generation_config.thinking_config.thinking_level' (type.googleapis.com/google.ai.generativelanguage.v1beta.ThinkingConfig.ThinkingLevel), "${String(level)}"`,
        field: "generation_config.thinking_config.thinking_level",
      };
    }
    if (level !== undefined && budget !== undefined) {
      return { message: "You can only set only one of thinking budget and thinking level." };
    }
    if (budget !== undefined && (!Number.isInteger(budget) || (budget as number) < -1)) {
      return {
        message:
          "* GenerateContentRequest.generation_config.thinking_config.thinking_budget: must be -1 or >= 0\n",
      };
    }
  }
  const logprobs = config.logprobs;
  if (logprobs !== undefined) {
    if (!Number.isInteger(logprobs) || (logprobs as number) < 0 || (logprobs as number) > MAX_LOGPROBS) {
      return { message: `logprobs must be between 0 and ${MAX_LOGPROBS}, inclusive.` };
    }
    if ((config.responseLogprobs ?? config.response_logprobs) !== true) {
      return { message: "logprobs is only valid if response_logprobs is true." };
    }
  }
  return undefined;
}

export function checkServiceTier(tier: unknown): Violation | undefined {
  if (tier === undefined || (typeof tier === "string" && SERVICE_TIERS.has(tier.toLowerCase())))
    return undefined;
  return {
    message: `Invalid value at 'service_tier' (type.googleapis.com/google.ai.generativelanguage.v1beta.ServiceTier), "${String(tier)}"`,
    field: "service_tier",
  };
}

/**
 * Gemini 3 models refuse a conversation whose current turn (the model turns after the last user
 * text) has a function call without the thought signature the model gave it. `issued` holds the
 * signatures this fake handed out: any other one is refused as corrupted.
 */
export function checkSignatures(
  model: string,
  contents: unknown[],
  issued: Set<string>,
): Violation | undefined {
  for (const [c, content] of contents.entries()) {
    const parts: unknown = (content as Json | null)?.parts;
    for (const [p, part] of (Array.isArray(parts) ? parts : []).entries()) {
      const signature = (part as Json).thoughtSignature ?? (part as Json).thought_signature;
      if (typeof signature === "string" && !issued.has(signature)) {
        return { message: `Corrupted thought signature at contents[${c}].parts[${p}].` };
      }
    }
  }
  if (!/^gemini-3/.test(model)) return undefined;
  const lastUserText = contents.findLastIndex(
    (c) =>
      (c as Json | null)?.role !== "model" &&
      ((c as Json).parts as unknown[] | undefined)?.some((p) => typeof (p as Json).text === "string"),
  );
  for (const [c, content] of contents.entries()) {
    if (c <= lastUserText || (content as Json | null)?.role !== "model") continue;
    const parts = ((content as Json).parts as Json[] | undefined) ?? [];
    const call = parts.find((p) => isObject(p.functionCall));
    if (call !== undefined && call.thoughtSignature === undefined) {
      return {
        message:
          `Function call is missing a thought_signature in functionCall parts. This is required for tools to work ` +
          `correctly. Additional data, function call \`${String((call.functionCall as Json).name)}\`, ` +
          `position ${c + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
      };
    }
  }
  return undefined;
}
