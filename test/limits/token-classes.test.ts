import assert from "node:assert/strict";
import { test } from "node:test";
import { type Config, configSchema } from "../../src/config/schema.ts";
import { GatewayError } from "../../src/errors/gateway-error.ts";
import { MemoryRateLimits } from "../../src/limits/memory-rate-limits.ts";
import { ALL_TOKENS, countedTokens, tokenBucketKind } from "../../src/limits/token-count.ts";
import { ANONYMOUS_ADMIN, type Principal } from "../../src/policy/principal.ts";
import { RateLimitPolicy } from "../../src/policy/rate-limit.ts";

type Rule = Config["limits"]["rules"][number];

const KEY: Principal = { ...ANONYMOUS_ADMIN, keyId: "key_1", team: "ml" };

/** Rules as the config would give them (defaults applied), a policy over a frozen clock: no refill. */
function policy(rules: unknown[]) {
  const parsed = configSchema.parse({ backends: {}, routes: {}, limits: { rules } }).limits.rules;
  return new RateLimitPolicy(new MemoryRateLimits({ now: () => 0 }), () => parsed as Rule[]);
}

/** Tokens left in the tightest token bucket, as a zero-token admission reports it. */
async function remaining(p: RateLimitPolicy): Promise<number | undefined> {
  const { info } = await p.admit(KEY, "chat", { inputTokens: 0, outputTokens: 0 });
  return info.tokens?.remaining;
}

const usage = { inputTokens: 1000, cachedInputTokens: 800, outputTokens: 100, reasoningTokens: 60 };

test("token limits: by default every input and output token counts, cache reads included (unchanged)", async () => {
  const p = policy([{ scope: "key", tokensPerMinute: 5000 }]);
  const { reservation } = await p.admit(KEY, "chat", { inputTokens: 300, outputTokens: 512 });
  assert.deepEqual(
    reservation.tokenBuckets.map((b) => [b.key, b.reserved]),
    [["tpm:key:key_1", 812]],
    "the bucket key of a rule without `tokens` is what it always was",
  );
  assert.equal(await remaining(p), 5000 - 812);
  await p.settle(reservation, usage);
  assert.equal(await remaining(p), 5000 - 1100);
});

test("token limits: excludeCacheReads counts input without its cache reads; admission still reserves the whole estimate", async () => {
  const p = policy([{ scope: "key", tokensPerMinute: 5000, tokens: { excludeCacheReads: true } }]);
  const { reservation } = await p.admit(KEY, "chat", { inputTokens: 1000, outputTokens: 512 });
  assert.equal(await remaining(p), 5000 - 1512, "the estimate knows no cache reads");
  await p.settle(reservation, usage);
  assert.equal(await remaining(p), 5000 - (1000 - 800 + 100));
});

test("token limits: a rule may count output only (or input only), so a long prompt is no reason to refuse", async () => {
  const out = policy([{ scope: "key", tokensPerMinute: 600, tokens: { count: ["output"] } }]);
  const admitted = await out.admit(KEY, "chat", { inputTokens: 100_000, outputTokens: 500 });
  assert.equal(await remaining(out), 100);
  await out.settle(admitted.reservation, usage);
  assert.equal(await remaining(out), 500);
  await assert.rejects(
    out.admit(KEY, "chat", { inputTokens: 1, outputTokens: 700 }),
    (e: unknown) =>
      e instanceof GatewayError && e.reason === "request_exceeds_limit" && /~700 tokens/.test(e.message),
  );
  const input = policy([
    { scope: "key", tokensPerMinute: 1000, tokens: { count: ["input"], excludeCacheReads: true } },
  ]);
  const r = await input.admit(KEY, "chat", { inputTokens: 900, outputTokens: 100_000 });
  await input.settle(r.reservation, usage);
  assert.equal(await remaining(input), 800, "only the 200 uncached input tokens");
});

test("token limits: rules counting differently keep their own buckets; rules counting alike share one, settled once", async () => {
  const p = policy([
    { scope: "team", tokensPerMinute: 10_000 },
    { scope: "team", tokensPerMinute: 4000, tokens: { count: ["input", "output"], excludeCacheReads: true } },
    { scope: "team", tokensPerMinute: 8000, tokens: { excludeCacheReads: true } },
  ]);
  const { reservation } = await p.admit(KEY, "chat", { inputTokens: 1000, outputTokens: 500 });
  assert.deepEqual(
    reservation.tokenBuckets.map((b) => [b.key, b.limit, b.reserved]),
    [
      ["tpm:team:ml", 10_000, 1500],
      ["tpm/input+output-cache_reads:team:ml", 4000, 1500],
    ],
  );
  await p.settle(reservation, usage);
  const { info } = await p.admit(KEY, "chat", { inputTokens: 0, outputTokens: 0 });
  assert.deepEqual(info.tokens, { limit: 4000, remaining: 4000 - 300, resetMs: info.tokens?.resetMs });
});

test("token limits: a request that reached no upstream gets its whole reservation back", async () => {
  const p = policy([{ scope: "workload", tokensPerMinute: 2000, tokens: { count: ["output"] } }]);
  const { reservation } = await p.admit(KEY, "chat", { inputTokens: 50, outputTokens: 1500 });
  assert.equal(await remaining(p), 500);
  await p.settle(reservation, undefined);
  assert.equal(await remaining(p), 2000);
});

test("token counting: the classes and bucket kinds", () => {
  assert.equal(countedTokens(ALL_TOKENS, usage), 1100);
  assert.equal(countedTokens({ count: ["input"], excludeCacheReads: true }, usage), 200);
  assert.equal(
    countedTokens({ count: ["input"], excludeCacheReads: true }, { ...usage, cachedInputTokens: 5000 }),
    0,
    "a provider's cache reads above its input never make a negative count",
  );
  assert.equal(
    countedTokens({ count: ["output"], excludeCacheReads: true }, usage),
    100,
    "reasoning is output",
  );
  assert.equal(tokenBucketKind(ALL_TOKENS), "tpm");
  assert.equal(tokenBucketKind({ count: ["output", "input"], excludeCacheReads: false }), "tpm");
  assert.equal(tokenBucketKind({ count: ["output"], excludeCacheReads: true }), "tpm/output");
  assert.equal(tokenBucketKind({ count: ["input"], excludeCacheReads: true }), "tpm/input-cache_reads");
});

test("config: `tokens` needs tokensPerMinute and known classes", () => {
  const ok = (rule: unknown) =>
    configSchema.safeParse({ backends: {}, routes: {}, limits: { rules: [rule] } }).success;
  assert.ok(
    ok({
      scope: "key",
      tokensPerMinute: 10,
      tokens: { count: ["input", "output"], excludeCacheReads: true },
    }),
  );
  assert.ok(
    !ok({ scope: "key", requestsPerMinute: 10, tokens: { excludeCacheReads: true } }),
    "nothing to count for",
  );
  assert.ok(!ok({ scope: "key", tokensPerMinute: 10, tokens: { count: [] } }));
  assert.ok(!ok({ scope: "key", tokensPerMinute: 10, tokens: { count: ["cache_reads"] } }));
  assert.ok(
    !ok({ scope: "key", tokensPerMinute: 10, tokens: { excludeCacheRead: true } }),
    "a typo is an error",
  );
});
