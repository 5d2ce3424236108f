// Encrypted reasoning as the OpenAI fake issues it. api.openai.com's `encrypted_content` is an opaque
// Fernet-style token (URL-safe base64 with padding, starting "gAAAAAB"); the fake makes tokens of the same
// form with a per-fake key — version byte, timestamp, IV, AES-CBC ciphertext of the item id and summary,
// HMAC-SHA256 over all of it — so a token sent back verifies only when it is byte for byte the one issued.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const VERSION = 0x80;
const HEADER = 1 + 8 + 16;
const MAC = 32;

export type SealedReasoning = { id: string; summary: string[] };

export class ReasoningSeal {
  readonly #encryptionKey = randomBytes(32);
  readonly #signingKey = randomBytes(32);

  issue(id: string, summary: string[]): string {
    const iv = randomBytes(16);
    const cipher = createCipheriv("aes-256-cbc", this.#encryptionKey, iv);
    const plain = Buffer.from(JSON.stringify({ id, summary } satisfies SealedReasoning));
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000)));
    const body = Buffer.concat([Buffer.of(VERSION), time, iv, cipher.update(plain), cipher.final()]);
    const mac = createHmac("sha256", this.#signingKey).update(body).digest();
    return this.#encode(Buffer.concat([body, mac]));
  }

  /** What a token sealed, or undefined when it is not byte for byte a token this seal issued. */
  open(token: string): SealedReasoning | undefined {
    const bytes = Buffer.from(token, "base64url");
    // Decoding forgives stray characters and padding bits: the token must re-encode to itself exactly.
    if (this.#encode(bytes) !== token || bytes.length < HEADER + 16 + MAC || bytes[0] !== VERSION) {
      return undefined;
    }
    const body = bytes.subarray(0, bytes.length - MAC);
    const mac = createHmac("sha256", this.#signingKey).update(body).digest();
    if (!timingSafeEqual(mac, bytes.subarray(bytes.length - MAC))) return undefined;
    const decipher = createDecipheriv("aes-256-cbc", this.#encryptionKey, body.subarray(9, HEADER));
    const plain = Buffer.concat([decipher.update(body.subarray(HEADER)), decipher.final()]);
    return JSON.parse(plain.toString("utf8")) as SealedReasoning;
  }

  #encode(bytes: Buffer): string {
    const text = bytes.toString("base64url");
    return text + "=".repeat((4 - (text.length % 4)) % 4);
  }
}
