import type { Redis } from "ioredis";
import { checkBuckets, checkDelta, checkLimitPerMinute } from "./limit-spec-error.ts";
import type { BucketSpec, RateLimitStore, TakeResult } from "./rate-limit-store.ts";
import { integers, REDIS_NOW_MS, RedisScript } from "./redis-script.ts";

// Shared by both scripts: a bucket is a hash {t = tokens (float, may be negative), ts = ms of t}.
// A missing bucket is full. The key lives exactly until the bucket would be full again (plus a
// second), so expiry forgets nothing: debt keeps the key alive until it is paid back.
const BUCKET_LUA = `${REDIS_NOW_MS}
local function current(key, limit)
  local h = redis.call("HMGET", key, "t", "ts")
  if not h[1] then return limit end
  local elapsed = math.max(0, now - tonumber(h[2]))
  return math.min(limit, tonumber(h[1]) + elapsed * limit / 60000)
end
local function store(key, limit, tokens)
  redis.call("HSET", key, "t", string.format("%.17g", tokens), "ts", string.format("%.17g", now))
  redis.call("PEXPIRE", key, math.min(math.ceil((limit - tokens) * 60000 / limit) + 1000, 1e15))
end
`;

// KEYS: buckets. ARGV: limit, amount per bucket. Reply: status (1 ok, 0 short, 2 too large),
// index of the blocking bucket, retryAfterMs, resetMs, then whole tokens remaining per bucket.
const TAKE = new RedisScript(`${BUCKET_LUA}
local n = #KEYS
local tokens, limits, amounts = {}, {}, {}
local status, blocker, wait = 1, 0, 0
for i = 1, n do
  limits[i] = tonumber(ARGV[2 * i - 1])
  amounts[i] = tonumber(ARGV[2 * i])
  tokens[i] = current(KEYS[i], limits[i])
  if amounts[i] > limits[i] then
    if status ~= 2 then status, blocker = 2, i end
  elseif status ~= 2 and tokens[i] + 1e-9 < amounts[i] then
    local w = math.max(1, (amounts[i] - tokens[i] - 1e-9) * 60000 / limits[i])
    if status == 1 or w > wait then status, blocker, wait = 0, i, w end
  end
end
if status == 1 then
  for i = 1, n do
    tokens[i] = tokens[i] - amounts[i]
    store(KEYS[i], limits[i], tokens[i])
  end
end
local reply = { status, blocker, math.ceil(wait), 0 }
for i = 1, n do
  reply[4] = math.max(reply[4], math.ceil((limits[i] - tokens[i]) * 60000 / limits[i]))
  reply[4 + i] = math.max(0, math.floor(tokens[i]))
end
return reply
`);

// KEYS[1]: bucket. ARGV: limit, delta. A refund stops at capacity; a charge may go into debt.
const ADJUST = new RedisScript(`${BUCKET_LUA}
local limit = tonumber(ARGV[1])
store(KEYS[1], limit, math.min(limit, current(KEYS[1], limit) - tonumber(ARGV[2])))
return 1
`);

export type RedisRateLimitsOptions = {
  /** The caller owns the client (see redis-client.ts for the outage-friendly settings). */
  redis: Redis;
  /** Prepended to every key; replicas sharing a prefix share the limits. Default "switchyard:". */
  keyPrefix?: string;
};

/** Where a bucket lives in Redis. */
export const rateLimitRedisKey = (prefix: string, key: string): string => `${prefix}rl:${key}`;

/**
 * Token buckets shared by every replica through one Redis: each operation is a
 * single Lua script using the server's clock, so a take across several buckets
 * is atomic with respect to all gateways.
 */
export class RedisRateLimits implements RateLimitStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: RedisRateLimitsOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix ?? "switchyard:";
  }

  async take(buckets: BucketSpec[]): Promise<TakeResult> {
    checkBuckets(buckets);
    if (buckets.length === 0) return { ok: true, remaining: {}, resetMs: 0 };
    const reply = integers(
      await TAKE.run(
        this.#redis,
        buckets.map((b) => rateLimitRedisKey(this.#prefix, b.key)),
        buckets.flatMap((b) => [b.limitPerMinute, b.amount]),
      ),
      4 + buckets.length,
    );
    const [status, blocker, retryAfterMs, resetMs] = reply as [number, number, number, number];
    const remaining = Object.fromEntries(buckets.map((b, i) => [b.key, reply[4 + i]!]));
    if (status === 1) return { ok: true, remaining, resetMs };
    return {
      ok: false,
      retryAfterMs,
      exhausted: buckets[blocker - 1]!.key,
      remaining,
      resetMs,
      ...(status === 2 ? { tooLarge: true as const } : {}),
    };
  }

  async adjust(key: string, limitPerMinute: number, delta: number): Promise<void> {
    checkLimitPerMinute(key, limitPerMinute);
    checkDelta(key, delta);
    await ADJUST.run(this.#redis, [rateLimitRedisKey(this.#prefix, key)], [limitPerMinute, delta]);
  }

  /** The client is the caller's: closing the store leaves it open. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
