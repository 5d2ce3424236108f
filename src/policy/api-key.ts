import { hash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * API key format: `sy_<16 hex id>_<43 base64url secret>`. The id part names
 * the stored record (`key_<16 hex>`), so a lookup never depends on the
 * secret; the secret is checked by comparing SHA-256 digests in constant
 * time. Only the digest is stored; the key is shown once, when minted.
 */
const FORMAT = /^sy_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export type MintedKey = { id: string; secret: string; digest: string; prefix: string };

export function mintKey(): MintedKey {
  const idPart = randomBytes(8).toString("hex");
  const secret = `sy_${idPart}_${randomBytes(32).toString("base64url")}`;
  return { id: `key_${idPart}`, secret, digest: digestOf(secret), prefix: secret.slice(0, 12) };
}

/** The record id a presented key claims, or undefined when it is not in our format. */
export function keyIdOf(secret: string): string | undefined {
  const match = FORMAT.exec(secret);
  return match ? `key_${match[1]}` : undefined;
}

export function digestOf(secret: string): string {
  return hash("sha256", secret, "hex"); // one-shot: no Hash object per call
}

/** Constant-time comparison of two hex SHA-256 digests. */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

/** `authorization: Bearer <key>` → the key, or undefined. */
export function bearerOf(headers: Headers): string | undefined {
  const value = headers.get("authorization");
  const match = value ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
  return match?.[1];
}
