import type { AudioFormat, ContentPart, DocumentSource, ImageSource } from "../adapter.ts";

/**
 * Neutral content parts → Gemini `Part` objects (v1beta). Bytes go as `inlineData` (base64);
 * a URL goes as `fileData`, whose `mimeType` the API requires — data: URLs are decoded to
 * `inlineData` instead, so their own media type is used. Cache breakpoints are dropped: Gemini's
 * caching of repeated prefixes is implicit (explicit caching is a separate `cachedContents`
 * resource, not a per-part marker).
 */
type Json = Record<string, unknown>;

export const PROVIDER = "gemini";

/** Media types by file extension, for a URL (Gemini's supported image, audio and document types). */
const BY_EXTENSION: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  heic: "image/heic",
  heif: "image/heif",
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/markdown",
  html: "text/html",
  htm: "text/html",
  csv: "text/csv",
  xml: "text/xml",
  json: "application/json",
};

const AUDIO_MIME: Record<AudioFormat, string> = {
  wav: "audio/wav",
  mp3: "audio/mp3",
  flac: "audio/flac",
  ogg: "audio/ogg",
};

/**
 * The Gemini part of one neutral part, or undefined for what Gemini cannot take back (reasoning
 * parts: model turns place thought signatures themselves, see model-turn.ts).
 */
export function toWirePart(part: ContentPart): Json | undefined {
  switch (part.type) {
    case "text":
      return { text: part.text };
    case "image":
      return withResolution(mediaPart(part.source, "image/jpeg"), part.detail);
    case "audio":
      return { inlineData: { mimeType: AUDIO_MIME[part.format], data: base64(part.data) } };
    case "document":
      return documentPart(part.source, part.title);
    case "reasoning":
      return undefined;
  }
}

/** Media by URL or bytes: inline for bytes and data: URLs, fileData for anything else. */
export function mediaPart(source: ImageSource | { url: string }, fallbackMime: string): Json {
  if ("data" in source) return { inlineData: { mimeType: source.mediaType, data: base64(source.data) } };
  const inline = fromDataUrl(source.url);
  if (inline) return { inlineData: inline };
  // fileData.mimeType is required. A URL without a known extension is most likely an image of the
  // common kind (JPEG): the API reads the fetched bytes, and a wrong subtype of the same kind is accepted.
  return { fileData: { mimeType: mimeOfUrl(source.url) ?? fallbackMime, fileUri: source.url } };
}

function documentPart(source: DocumentSource, title: string | undefined): Json {
  // Gemini has no document title field (fileData.displayName is used only with server-side tools);
  // a text document keeps its title as a first line so the model still sees it.
  if ("text" in source) return { text: title ? `${title}\n\n${source.text}` : source.text };
  return mediaPart(source, "application/pdf");
}

/** Part-level media resolution (Gemini 3); "auto" leaves the model's default. */
function withResolution(part: Json, detail: "auto" | "low" | "high" | undefined): Json {
  if (detail === "low") part.mediaResolution = { level: "MEDIA_RESOLUTION_LOW" };
  if (detail === "high") part.mediaResolution = { level: "MEDIA_RESOLUTION_HIGH" };
  return part;
}

/** `data:<type>[;base64],<payload>` → {mimeType, data (base64)}; undefined for other URLs. */
function fromDataUrl(url: string): { mimeType: string; data: string } | undefined {
  if (!url.startsWith("data:")) return undefined;
  const comma = url.indexOf(",");
  if (comma < 0) return undefined;
  const meta = url.slice(5, comma).split(";");
  const mimeType = meta[0] || "text/plain";
  const payload = url.slice(comma + 1);
  const isBase64 = meta.slice(1).some((p) => p.toLowerCase() === "base64");
  const data = isBase64 ? payload : Buffer.from(decodeURIComponent(payload), "utf8").toString("base64");
  return { mimeType, data };
}

function mimeOfUrl(url: string): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    path = url;
  }
  const dot = path.lastIndexOf(".");
  if (dot < 0 || dot < path.lastIndexOf("/")) return undefined;
  return BY_EXTENSION[path.slice(dot + 1).toLowerCase()];
}

function base64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}
