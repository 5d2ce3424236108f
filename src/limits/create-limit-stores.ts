import type { BudgetStore } from "./budget-store.ts";
import { type FailureMode, withFailureMode } from "./failure-mode.ts";
import { MemoryBudgets } from "./memory-budgets.ts";
import { MemoryRateLimits } from "./memory-rate-limits.ts";
import type { RateLimitStore } from "./rate-limit-store.ts";
import { RedisBudgets } from "./redis-budgets.ts";
import {
  closeRedis,
  createLimitsRedisClient,
  DEFAULT_COMMAND_TIMEOUT_MS,
  whenReady,
} from "./redis-client.ts";
import { RedisRateLimits } from "./redis-rate-limits.ts";

export type LimitStoresConfig =
  | { type: "memory" }
  | {
      type: "redis";
      url: string;
      /** Replicas sharing a prefix share limits and budgets. Default "switchyard:". */
      keyPrefix?: string;
      failureMode: FailureMode;
      /** Bound on each Redis call; an outage answers within about this. Default 500. */
      commandTimeoutMs?: number;
    };

export type LimitStores = {
  rateLimits: RateLimitStore;
  budgets: BudgetStore;
  /** True once the backing store is usable (at once for memory); false if not within its timeout. */
  ready(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
};

export type LimitStoresHooks = {
  /** Called once per failed Redis call that the failure mode absorbed: log it, count it. */
  onError?: (error: unknown) => void;
};

/** Builds the rate-limit and budget stores: in memory for one process, or in Redis for many replicas. */
export function createLimitStores(config: LimitStoresConfig, hooks: LimitStoresHooks = {}): LimitStores {
  if (config.type === "memory") {
    const rateLimits = new MemoryRateLimits();
    const budgets = new MemoryBudgets();
    return {
      rateLimits,
      budgets,
      ready: () => Promise.resolve(true),
      close: async () => {
        await Promise.all([rateLimits.close(), budgets.close()]);
      },
    };
  }
  const commandTimeoutMs = config.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const redis = createLimitsRedisClient(config.url, commandTimeoutMs);
  const onError = hooks.onError ?? (() => {});
  const keyPrefix = config.keyPrefix ?? "switchyard:";
  return {
    rateLimits: withFailureMode(new RedisRateLimits({ redis, keyPrefix }), config.failureMode, onError),
    budgets: withFailureMode(new RedisBudgets({ redis, keyPrefix }), config.failureMode, onError),
    ready: (timeoutMs = Math.max(commandTimeoutMs, 1000)) => whenReady(redis, timeoutMs),
    close: () => closeRedis(redis),
  };
}
