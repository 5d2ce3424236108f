import type { Redis } from "ioredis";
import type { BudgetSpec, BudgetStore, BudgetUsage, ReserveResult, Settlement } from "./budget-store.ts";
import { checkBudgets, checkSettlements } from "./limit-spec-error.ts";
import { integers, RedisScript } from "./redis-script.ts";

// A budget is a hash {spent, reserved} of integer micro-USD, expiring (PEXPIREAT) a day after
// its calendar window ends. KEYS: budgets. ARGV: limit, amount, expiresAtMs per budget.
// Reply: {1, 0, 0} when reserved, or {0, index of the blocking budget, micro-USD still reservable}.
const RESERVE = new RedisScript(`
for i = 1, #KEYS do
  local h = redis.call("HMGET", KEYS[i], "spent", "reserved")
  local used = (tonumber(h[1]) or 0) + (tonumber(h[2]) or 0)
  local limit = tonumber(ARGV[3 * i - 2])
  if used + tonumber(ARGV[3 * i - 1]) > limit then
    return { 0, i, math.max(0, limit - used) }
  end
end
for i = 1, #KEYS do
  redis.call("HINCRBY", KEYS[i], "reserved", ARGV[3 * i - 1])
  redis.call("PEXPIREAT", KEYS[i], ARGV[3 * i])
end
return { 1, 0, 0 }
`);

// KEYS: budgets. ARGV: reserved, actual, expiresAtMs per budget. Reserved stops at zero so a
// double settle (or a settle after expiry) can never create headroom.
const SETTLE = new RedisScript(`
for i = 1, #KEYS do
  local reserved = tonumber(redis.call("HGET", KEYS[i], "reserved")) or 0
  redis.call("HSET", KEYS[i], "reserved", math.max(0, reserved - tonumber(ARGV[3 * i - 2])))
  redis.call("HINCRBY", KEYS[i], "spent", ARGV[3 * i - 1])
  redis.call("PEXPIREAT", KEYS[i], ARGV[3 * i])
end
return { 1 }
`);

export type RedisBudgetsOptions = {
  /** The caller owns the client (see redis-client.ts for the outage-friendly settings). */
  redis: Redis;
  /** Prepended to every key; replicas sharing a prefix share the budgets. Default "switchyard:". */
  keyPrefix?: string;
};

/** Where a budget lives in Redis. */
export const budgetRedisKey = (prefix: string, key: string): string => `${prefix}budget:${key}`;

/**
 * Budgets shared by every replica through one Redis: reserve and settle are
 * each one Lua script, so check-and-reserve across several budgets is atomic
 * with respect to all gateways and concurrent reservations never overshoot.
 */
export class RedisBudgets implements BudgetStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(options: RedisBudgetsOptions) {
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix ?? "switchyard:";
  }

  async reserve(budgets: BudgetSpec[]): Promise<ReserveResult> {
    checkBudgets(budgets);
    if (budgets.length === 0) return { ok: true };
    const [status, blocker, remainingMicroUsd] = integers(
      await RESERVE.run(
        this.#redis,
        budgets.map((b) => budgetRedisKey(this.#prefix, b.key)),
        budgets.flatMap((b) => [b.limitMicroUsd, b.amountMicroUsd, b.expiresAt.getTime()]),
      ),
      3,
    ) as [number, number, number];
    if (status === 1) return { ok: true };
    return { ok: false, exhausted: budgets[blocker - 1]!.key, remainingMicroUsd };
  }

  async settle(entries: Settlement[]): Promise<void> {
    checkSettlements(entries);
    if (entries.length === 0) return;
    await SETTLE.run(
      this.#redis,
      entries.map((e) => budgetRedisKey(this.#prefix, e.key)),
      entries.flatMap((e) => [e.reservedMicroUsd, e.actualMicroUsd, e.expiresAt.getTime()]),
    );
  }

  async usage(key: string): Promise<BudgetUsage> {
    const [spent, reserved] = await this.#redis.hmget(budgetRedisKey(this.#prefix, key), "spent", "reserved");
    return { spentMicroUsd: Number(spent ?? 0), reservedMicroUsd: Number(reserved ?? 0) };
  }

  /** The client is the caller's: closing the store leaves it open. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
