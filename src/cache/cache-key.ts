import { createHash, type Hash } from "node:crypto";
import type { GenerationRequest } from "../pipeline/pipeline.ts";

/** Who may share cached answers: a team (falling back to the key for a key without one), or one key. */
export type CacheScope = { team?: string; keyId?: string; by: "team" | "key" };

/**
 * Every request field, and whether it is part of the key. A typed record, so a field added to
 * GenerationRequest is a compile error here until someone decides whether it changes the answer.
 * Inside a kept field everything counts (generic canonical walk), except `cache` breakpoints on
 * messages, parts and tools, which change what the provider caches, not what it answers.
 */
const FIELDS: Record<keyof GenerationRequest, "key" | "skip"> = {
  requestedModel: "key",
  messages: "key",
  tools: "key",
  toolChoice: "key",
  sampling: "key",
  responseFormat: "key",
  reasoning: "key",
  parallelToolCalls: "key",
  logprobs: "key",
  serviceTier: "key",
  // Per-call or per-caller: they never change the answer.
  metadata: "skip",
  endUserId: "skip",
  providerMetadata: "skip",
  // A routing hint for the provider's prompt cache, not part of the prompt.
  promptCacheKey: "skip",
};
const KEPT = (Object.keys(FIELDS) as (keyof GenerationRequest)[]).filter((f) => FIELDS[f] === "key").sort();

/**
 * `sy:cache:v1:<t:team | k:keyId>:<workload>:<sha256 hex>`. The scope is part of the prefix, so two teams
 * with identical requests get different keys by construction; scope and workload are escaped so
 * neither can contain `:` and no two different (scope, workload) pairs give the same prefix.
 */
export function cacheKeyOf(scope: CacheScope, workload: string, request: GenerationRequest): string {
  const hash = createHash("sha256");
  const w = new CanonicalWriter(hash);
  for (const field of KEPT) {
    w.raw(field);
    if (field === "messages") w.list(request.messages, (m) => w.object(m, MESSAGE_SKIP));
    else if (field === "tools") w.list(request.tools, (t) => w.object(t, TOOL_SKIP));
    else w.value(request[field]);
  }
  return `sy:cache:v1:${scopeOf(scope)}:${escapeComponent(workload)}:${hash.digest("hex")}`;
}

function scopeOf(scope: CacheScope): string {
  // An empty team would put every team-less principal in one scope: treat it as absent.
  if (scope.by === "team" && scope.team) return `t:${escapeComponent(scope.team)}`;
  if (scope.keyId) return `k:${escapeComponent(scope.keyId)}`;
  // Without an identity there is nobody to scope to; sharing across callers must never be the default.
  throw new TypeError("a cache scope needs a team or a key id");
}

/**
 * Characters outside [A-Za-z0-9_.-] (so `:` and `%` too) become `%` + 4 hex digits of their UTF-16
 * code unit: fixed width and decodable, hence injective, lone surrogates included (unlike UTF-8).
 */
export function escapeComponent(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const MESSAGE_SKIP: ReadonlySet<string> = new Set(["cache"]);
const PART_SKIP: ReadonlySet<string> = new Set(["cache"]);
const TOOL_SKIP: ReadonlySet<string> = new Set(["cache"]);
const NO_SKIP: ReadonlySet<string> = new Set();

/**
 * Writes values into the hash as a prefix-free stream: every item starts with a type tag and
 * strings and bytes with their length, so different values can never produce the same bytes.
 * Object keys are sorted, undefined members are absent (as in JSON), bytes go in unencoded.
 */
class CanonicalWriter {
  readonly #hash: Hash;

  constructor(hash: Hash) {
    this.#hash = hash;
  }

  raw(s: string): void {
    this.#hash.update(`s${Buffer.byteLength(s)}:`);
    this.#hash.update(s);
  }

  list<T>(items: readonly T[], each: (item: T) => void): void {
    this.#hash.update(`[${items.length}:`);
    for (const item of items) each(item);
  }

  /** An object, minus `skip` keys; a message's `parts` skip their own cache breakpoints too. */
  object(o: object, skip: ReadonlySet<string>): void {
    const keys = Object.keys(o)
      .filter((k) => !skip.has(k) && (o as Record<string, unknown>)[k] !== undefined)
      .sort();
    this.#hash.update(`{${keys.length}:`);
    for (const k of keys) {
      this.raw(k);
      const v = (o as Record<string, unknown>)[k];
      if (k === "parts" && Array.isArray(v) && skip === MESSAGE_SKIP)
        this.list(v, (p) => (isObject(p) ? this.object(p, PART_SKIP) : this.value(p)));
      else this.value(v);
    }
  }

  value(v: unknown): void {
    if (v === undefined) this.#hash.update("u");
    else if (v === null) this.#hash.update("n");
    else if (typeof v === "string") this.raw(v);
    else if (typeof v === "number") this.#hash.update(`d${String(v)};`);
    else if (typeof v === "boolean") this.#hash.update(v ? "T" : "F");
    else if (v instanceof Uint8Array) {
      this.#hash.update(`b${v.byteLength}:`);
      this.#hash.update(v);
    } else if (Array.isArray(v)) this.list(v, (item) => this.value(item));
    else if (isObject(v)) this.object(v, NO_SKIP);
    // bigint, symbol, function: not JSON, never in a validated request; tagged so they still differ.
    else {
      this.#hash.update("x");
      this.raw(`${typeof v}:${String(v)}`);
    }
  }
}

function isObject(v: unknown): v is object {
  return typeof v === "object" && v !== null;
}
