import {
  AudioFormat,
  AudioFormatSchema,
  type CacheControl,
  CacheTtl,
  CacheTtlSchema,
  ImageDetail,
  ImageDetailSchema,
  type ContentPart as WirePart,
} from "../../gen/switchyard/v1/generation_pb.ts";
import type {
  CacheBreakpoint,
  ContentPart,
  AudioFormat as NeutralAudioFormat,
  Role,
} from "../adapters/adapter.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { bounded } from "../telemetry/bounded.ts";
import { requireKnown } from "./enum-check.ts";

/** Bounds on the media a request carries (server.limits.media; docs/limits.md). */
export type MediaLimits = { maxPartBytes: number; maxRequestBytes: number; maxParts: number };

export const DEFAULT_MEDIA_LIMITS: MediaLimits = {
  maxPartBytes: 5 * 1024 * 1024,
  maxRequestBytes: 20 * 1024 * 1024,
  maxParts: 100,
};

/** What the media of one request add up to so far. */
export type MediaTally = { bytes: number; parts: number };

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const DOCUMENT_TYPES = /^(application\/pdf|text\/[a-z0-9.+-]+)$/;
const MAX_TITLE = 256;
/** Provider ids are short names ("anthropic", "openai", "gemini", "mistral"). */
const PROVIDER = /^[a-z0-9_-]{1,32}$/;
const DATA_URL = /^data:([a-z]+\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/=\s]*)$/i;

const AUDIO: Record<number, NeutralAudioFormat> = {
  [AudioFormat.WAV]: "wav",
  [AudioFormat.MP3]: "mp3",
  [AudioFormat.FLAC]: "flac",
  [AudioFormat.OGG]: "ogg",
};
const DETAIL = { [ImageDetail.AUTO]: "auto", [ImageDetail.LOW]: "low", [ImageDetail.HIGH]: "high" } as const;

const invalid = (message: string) => new GatewayError("invalid_argument", message);

/** Which kinds each role may carry: media in user turns (images also in tool results), reasoning in assistant turns. */
function allowed(role: Role, kind: string): boolean {
  if (kind === "text") return true;
  if (role === "user") return kind === "image" || kind === "audio" || kind === "document";
  if (role === "tool") return kind === "image";
  if (role === "assistant") return kind === "reasoning";
  return false;
}

export function toCache(c: CacheControl | undefined, field: string): CacheBreakpoint | undefined {
  if (!c) return undefined;
  requireKnown(CacheTtlSchema, c.ttl, `${field}.ttl`);
  return c.ttl === CacheTtl.ONE_HOUR ? { ttl: "1h" } : c.ttl === CacheTtl.FIVE_MINUTES ? { ttl: "5m" } : {};
}

/**
 * One wire content part as a neutral part, checked and counted against the limits. URLs are passed to
 * the provider as given (never fetched here); a data: URL is decoded so every adapter sees bytes.
 */
export function toContentPart(
  part: WirePart,
  role: Role,
  field: string,
  limits: MediaLimits,
  tally: MediaTally,
): ContentPart {
  const p = part.part;
  if (p.case === undefined)
    throw invalid(`${field}: empty content part; set text, image, audio, document or reasoning`);
  if (!allowed(role, p.case)) throw invalid(`${field}: ${p.case} parts are not allowed in a ${role} message`);
  const cache = toCache(part.cacheControl, `${field}.cache_control`);
  const withCache = <T extends object>(x: T): T => (cache ? { ...x, cache } : x);
  switch (p.case) {
    case "text":
      return withCache({ type: "text", text: p.value });
    case "image": {
      requireKnown(ImageDetailSchema, p.value.detail, `${field}.image.detail`);
      const source = mediaSource(p.value.source, p.value.mediaType, `${field}.image`, limits, tally);
      if ("mediaType" in source && !IMAGE_TYPES.has(source.mediaType))
        throw invalid(
          `${field}.image.media_type: "${bounded(source.mediaType, 64)}" is not one of ${[...IMAGE_TYPES].join(", ")}`,
        );
      const detail = DETAIL[p.value.detail as keyof typeof DETAIL];
      return withCache({ type: "image", source, ...(detail ? { detail } : {}) });
    }
    case "audio": {
      requireKnown(AudioFormatSchema, p.value.format, `${field}.audio.format`);
      const format = AUDIO[p.value.format];
      if (!format)
        throw invalid(`${field}.audio.format: set the format (AUDIO_FORMAT_WAV, _MP3, _FLAC or _OGG)`);
      if (p.value.data.length === 0) throw invalid(`${field}.audio.data is empty`);
      count(p.value.data.length, `${field}.audio.data`, limits, tally);
      return withCache({ type: "audio", data: p.value.data, format });
    }
    case "document": {
      const d = p.value;
      for (const [name, value] of [
        ["title", d.title],
        ["filename", d.filename],
      ] as const)
        if (value.length > MAX_TITLE)
          throw invalid(`${field}.document.${name} is longer than ${MAX_TITLE} characters`);
      let source: Extract<ContentPart, { type: "document" }>["source"];
      if (d.source.case === "text") {
        count(Buffer.byteLength(d.source.value), `${field}.document.text`, limits, tally);
        source = { text: d.source.value };
      } else {
        source = mediaSource(d.source, d.mediaType, `${field}.document`, limits, tally);
        if ("mediaType" in source && !DOCUMENT_TYPES.test(source.mediaType))
          throw invalid(
            `${field}.document.media_type: "${bounded(source.mediaType, 64)}" is not application/pdf or text/*`,
          );
      }
      return withCache({
        type: "document",
        source,
        ...(d.title ? { title: d.title } : {}),
        ...(d.filename ? { filename: d.filename } : {}),
      });
    }
    case "reasoning": {
      const r = p.value;
      if (!PROVIDER.test(r.provider))
        throw invalid(
          `${field}.reasoning.provider: send back the provider the reasoning came from (e.g. "anthropic")`,
        );
      count(
        Buffer.byteLength(r.text) + r.signature.length + r.encryptedContent.length,
        `${field}.reasoning`,
        limits,
        tally,
        false,
      );
      return {
        type: "reasoning",
        text: r.text,
        provider: r.provider,
        ...(r.signature ? { signature: r.signature } : {}),
        ...(r.encryptedContent ? { encryptedContent: r.encryptedContent } : {}),
        ...(r.id ? { id: r.id } : {}),
        ...(r.redacted ? { redacted: true } : {}),
      };
    }
  }
}

type WireSource =
  | { case: "url"; value: string }
  | { case: "data"; value: Uint8Array }
  | { case: undefined; value?: undefined };

function mediaSource(
  source: WireSource | { case: "text"; value: string },
  mediaType: string,
  field: string,
  limits: MediaLimits,
  tally: MediaTally,
): { url: string } | { data: Uint8Array; mediaType: string } {
  if (source.case === "url") {
    const data = DATA_URL.exec(source.value);
    if (data) {
      const bytes = Buffer.from(data[2]!, "base64");
      count(bytes.length, `${field}.url`, limits, tally);
      return {
        data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
        mediaType: data[1]!.toLowerCase(),
      };
    }
    if (!/^https?:\/\/[^\s]+$/i.test(source.value) || source.value.length > 8192)
      throw invalid(`${field}.url: expected an http(s) URL (at most 8192 characters) or a base64 data: URL`);
    count(0, `${field}.url`, limits, tally);
    return { url: source.value };
  }
  if (source.case === "data") {
    if (source.value.length === 0) throw invalid(`${field}.data is empty`);
    if (mediaType === "") throw invalid(`${field}.media_type: bytes need their media type (e.g. image/png)`);
    count(source.value.length, `${field}.data`, limits, tally);
    return { data: source.value, mediaType: mediaType.toLowerCase() };
  }
  throw invalid(`${field}: set url or data`);
}

/** Counts one part's bytes; media parts also count against maxParts. */
function count(bytes: number, field: string, limits: MediaLimits, tally: MediaTally, media = true): void {
  if (bytes > limits.maxPartBytes)
    throw new GatewayError(
      "content_too_large",
      `${field} is ${bytes} bytes: at most ${limits.maxPartBytes} per part (server.limits.media.maxPartBytes)`,
    );
  tally.bytes += bytes;
  if (tally.bytes > limits.maxRequestBytes)
    throw new GatewayError(
      "content_too_large",
      `the request's media add up to more than ${limits.maxRequestBytes} bytes (server.limits.media.maxRequestBytes)`,
    );
  if (media && ++tally.parts > limits.maxParts)
    throw new GatewayError(
      "content_too_large",
      `the request has more than ${limits.maxParts} media parts (server.limits.media.maxParts)`,
    );
}
