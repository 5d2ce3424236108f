import { invalidParam } from "./errors.ts";

/** A character outside standard base64's alphabet (padding aside). */
const NOT_BASE64 = /[^A-Za-z0-9+/]/;

/** `data:<media type>[;<param>]*;base64` before the comma — the media type is required, as at OpenAI. */
const DATA_URL_HEAD = /^data:([a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+)(?:;[^;]*)*;base64$/i;

/**
 * Decodes `text` as standard, padded base64 (RFC 4648 §4: what OpenAI's `data:` URLs and
 * `input_audio.data` carry), or a 400 naming `param`. Checked first because Buffer.from(…, "base64")
 * silently skips characters it does not know, so a corrupted upload would reach the provider as
 * other bytes. No pattern with a repeated group: on a 20 MB image V8 runs out of stack.
 */
export function decodeBase64(text: string, param: string): Uint8Array {
  if (text === "") throw invalidParam(param, "is empty: send base64-encoded bytes");
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  if (text.length % 4 !== 0 || NOT_BASE64.test(text.slice(0, text.length - padding))) {
    throw invalidParam(param, "is not valid base64 (RFC 4648, padded, no line breaks)");
  }
  return Buffer.from(text, "base64"); // a Uint8Array already: copying 20 MB would cost ~200 ms
}

export function isDataUrl(url: string): boolean {
  return url.slice(0, 5).toLowerCase() === "data:";
}

/** A `data:` URL's media type (lower case) and bytes, or a 400 naming `param`. */
export function parseDataUrl(url: string, param: string): { mediaType: string; data: Uint8Array } {
  const comma = url.indexOf(",");
  // Only the head is matched by a pattern: the data may be tens of megabytes.
  const match = comma === -1 || comma > 1024 ? null : DATA_URL_HEAD.exec(url.slice(0, comma));
  if (!match) {
    throw invalidParam(
      param,
      "is not a valid base64 data URL: expected data:<media type>;base64,<data>, e.g. data:image/png;base64,iVBORw0…",
    );
  }
  return { mediaType: match[1]!.toLowerCase(), data: decodeBase64(url.slice(comma + 1), param) };
}
