import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  AudioFormat,
  CacheTtl,
  type ContentPartSchema,
  ImageDetail,
} from "../../../gen/switchyard/v1/generation_pb.ts";
import { decodeBase64, isDataUrl, parseDataUrl } from "./data-url.ts";
import { invalidParam } from "./errors.ts";

export type WirePart = MessageInitShape<typeof ContentPartSchema>;
type Role = "system" | "developer" | "user" | "assistant" | "tool";
type RawPart = { type: string; [key: string]: unknown };

/** Part types each role may send: media in user turns, images in tool results too (issue #15). */
const ALLOWED: Record<Role, readonly string[]> = {
  system: ["text"],
  developer: ["text"],
  assistant: ["text", "refusal"],
  user: ["text", "image_url", "input_audio", "file"],
  tool: ["text", "image_url"],
};
const KNOWN = new Set(["text", "image_url", "input_audio", "file", "refusal"]);

/** The image types every vision provider takes (OpenAI, Anthropic and Gemini agree on these four). */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
/** PDF or any text type (text/plain, text/markdown, text/csv…), as the gRPC API takes them. */
const DOCUMENT_TYPE = /^(?:application\/pdf|text\/[a-z0-9.+-]+)$/;
const DETAIL: Record<string, ImageDetail> = {
  auto: ImageDetail.AUTO,
  low: ImageDetail.LOW,
  high: ImageDetail.HIGH,
};
const AUDIO: Record<string, AudioFormat> = {
  wav: AudioFormat.WAV,
  mp3: AudioFormat.MP3,
  flac: AudioFormat.FLAC,
  ogg: AudioFormat.OGG,
};
const TTL: Record<string, CacheTtl> = { "5m": CacheTtl.FIVE_MINUTES, "1h": CacheTtl.ONE_HOUR };

/**
 * One message's content as proto parts, in order. Every problem is a 400 whose param is OpenAI's
 * path to the field, e.g. `messages[0].content[1].image_url.url`.
 */
export function toWireParts(
  role: Role,
  content: string | RawPart[] | null | undefined,
  i: number,
): WirePart[] {
  if (content == null) return [];
  if (typeof content === "string") return content === "" ? [] : [{ part: { case: "text", value: content } }];
  return content.map((part, j) => toWirePart(role, part, `messages[${i}].content[${j}]`));
}

function toWirePart(role: Role, part: RawPart, path: string): WirePart {
  if (!KNOWN.has(part.type)) {
    throw invalidParam(
      `${path}.type`,
      `unknown content part type "${bounded(part.type)}": use text, image_url, input_audio or file`,
    );
  }
  if (!ALLOWED[role].includes(part.type)) {
    throw invalidParam(
      `${path}.type`,
      `"${part.type}" parts are not allowed in ${role} messages (${ALLOWED[role].join(", ")} only)`,
    );
  }
  const cacheControl = cacheOf(part, path);
  const withCache = (p: NonNullable<WirePart["part"]>): WirePart =>
    cacheControl ? { part: p, cacheControl } : { part: p };
  switch (part.type) {
    case "image_url":
      return withCache({ case: "image", value: imageOf(part.image_url, `${path}.image_url`) });
    case "input_audio":
      return withCache({ case: "audio", value: audioOf(part.input_audio, `${path}.input_audio`) });
    case "file":
      return withCache({ case: "document", value: documentOf(part.file, `${path}.file`) });
    case "refusal": // an assistant turn's refusal, sent back as the text it was
      return withCache({ case: "text", value: stringAt(part.refusal, `${path}.refusal`) });
    default:
      return withCache({ case: "text", value: stringAt(part.text, `${path}.text`) });
  }
}

function imageOf(raw: unknown, path: string) {
  const image = objectAt(raw, path);
  const url = stringAt(image.url, `${path}.url`);
  const detail = image.detail == null ? ImageDetail.UNSPECIFIED : DETAIL[String(image.detail)];
  if (detail === undefined) throw invalidParam(`${path}.detail`, 'expected "auto", "low" or "high"');
  if (isDataUrl(url)) {
    const { mediaType, data } = parseDataUrl(url, `${path}.url`);
    if (!IMAGE_TYPES.has(mediaType)) {
      throw invalidParam(
        `${path}.url`,
        `${bounded(mediaType)} is not a supported image type: use image/png, image/jpeg, image/gif or image/webp`,
      );
    }
    return { source: { case: "data" as const, value: data }, mediaType, detail };
  }
  if (!/^https?:\/\/[^\s]+$/i.test(url)) {
    throw invalidParam(`${path}.url`, "expected an http(s) URL or a base64 data: URL");
  }
  // Passed to the provider as is: the gateway never fetches a caller's URL.
  return { source: { case: "url" as const, value: url }, detail };
}

function audioOf(raw: unknown, path: string) {
  const audio = objectAt(raw, path);
  const format = AUDIO[stringAt(audio.format, `${path}.format`)];
  if (format === undefined) throw invalidParam(`${path}.format`, 'expected "wav", "mp3", "flac" or "ogg"');
  return { data: decodeBase64(stringAt(audio.data, `${path}.data`), `${path}.data`), format };
}

function documentOf(raw: unknown, path: string) {
  const file = objectAt(raw, path);
  if (file.file_id != null) {
    throw invalidParam(`${path}.file_id`, "file_id is not supported; send file_data (a base64 data: URL)");
  }
  const filename = file.filename == null ? "" : stringAt(file.filename, `${path}.filename`);
  const url = stringAt(file.file_data, `${path}.file_data`);
  if (!isDataUrl(url)) {
    throw invalidParam(
      `${path}.file_data`,
      "expected a base64 data: URL, e.g. data:application/pdf;base64,JVBERi0…",
    );
  }
  const { mediaType, data } = parseDataUrl(url, `${path}.file_data`);
  if (!DOCUMENT_TYPE.test(mediaType)) {
    throw invalidParam(
      `${path}.file_data`,
      `${bounded(mediaType)} is not a supported document type: use application/pdf or a text/* type`,
    );
  }
  return { source: { case: "data" as const, value: data }, mediaType, filename };
}

/**
 * A part's prompt-cache breakpoint: OpenAI's own `prompt_cache_breakpoint: {"mode": "explicit"}`
 * (its TTL is the provider's), or `cache_control: {"type": "ephemeral", "ttl"?}`, the form
 * OpenAI-compatible gateways use to pass Anthropic's breakpoints (`ttl` "5m" or "1h").
 */
function cacheOf(part: RawPart, path: string): { ttl: CacheTtl } | undefined {
  let out: { ttl: CacheTtl } | undefined;
  if (part.prompt_cache_breakpoint != null) {
    const mode = objectAt(part.prompt_cache_breakpoint, `${path}.prompt_cache_breakpoint`).mode;
    if (mode !== "explicit")
      throw invalidParam(`${path}.prompt_cache_breakpoint.mode`, 'expected "explicit"');
    out = { ttl: CacheTtl.UNSPECIFIED };
  }
  if (part.cache_control != null) {
    const control = objectAt(part.cache_control, `${path}.cache_control`);
    if (control.type !== "ephemeral")
      throw invalidParam(`${path}.cache_control.type`, 'expected "ephemeral"');
    const ttl = control.ttl == null ? CacheTtl.UNSPECIFIED : TTL[String(control.ttl)];
    if (ttl === undefined) throw invalidParam(`${path}.cache_control.ttl`, 'expected "5m" or "1h"');
    out = { ttl };
  }
  return out;
}

function objectAt(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidParam(path, value === undefined ? "is required" : "expected an object");
  }
  return value as Record<string, unknown>;
}

function stringAt(value: unknown, path: string): string {
  if (typeof value !== "string")
    throw invalidParam(path, value === undefined ? "is required" : "expected string");
  return value;
}

/** A caller's string quoted in an error message, cut short (errors are logged). */
function bounded(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
