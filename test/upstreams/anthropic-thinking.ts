// Thinking signatures and redacted-thinking data for the Anthropic fake. The real API signs each thinking
// block and rejects a later turn whose block or signature differs by a single byte; the fake does the same
// with an HMAC over the block's text under a key of this process, so any fake instance verifies any other's.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const KEY = randomBytes(32);
const NONCE = 12;
const MAC = 32;

function mac(kind: string, nonce: Buffer, text: string): Buffer {
  return createHmac("sha256", KEY).update(kind).update(nonce).update(text, "utf8").digest();
}

/** A long opaque base64 token, as the API's signatures look. */
export function mintSignature(thinking: string): string {
  const nonce = randomBytes(NONCE);
  return Buffer.concat([nonce, mac("thinking", nonce, thinking)]).toString("base64");
}

/** Opaque `data` of a redacted_thinking block (it carries encrypted reasoning the client cannot read). */
export function mintRedactedData(): string {
  const nonce = randomBytes(NONCE);
  const padding = randomBytes(48); // stands for the encrypted reasoning
  const body = Buffer.concat([nonce, padding]);
  return Buffer.concat([body, mac("redacted", nonce, padding.toString("base64"))]).toString("base64");
}

function strictBase64(value: string): Buffer | undefined {
  const bytes = Buffer.from(value, "base64");
  return bytes.toString("base64") === value ? bytes : undefined;
}

export function signatureMatches(thinking: string, signature: string): boolean {
  const bytes = strictBase64(signature);
  if (bytes?.length !== NONCE + MAC) return false;
  return timingSafeEqual(bytes.subarray(NONCE), mac("thinking", bytes.subarray(0, NONCE), thinking));
}

export function redactedDataMatches(data: string): boolean {
  const bytes = strictBase64(data);
  if (bytes?.length !== NONCE + 48 + MAC) return false;
  const nonce = bytes.subarray(0, NONCE);
  const padding = bytes.subarray(NONCE, NONCE + 48).toString("base64");
  return timingSafeEqual(bytes.subarray(NONCE + 48), mac("redacted", nonce, padding));
}
