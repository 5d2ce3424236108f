import { Redis } from "ioredis";

export const DEFAULT_COMMAND_TIMEOUT_MS = 500;

/**
 * A Redis client tuned so an outage answers fast instead of hanging requests:
 * no offline queue (a command while disconnected fails at once), one retry at
 * most, and a per-command timeout for a server that accepts but stops
 * answering. It keeps reconnecting in the background.
 */
export function createLimitsRedisClient(url: string, commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    // How long a disconnect waits for a polite close before destroying the socket (default 2 s).
    disconnectTimeout: commandTimeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  // Without a listener ioredis prints connection errors itself; each failed operation is reported
  // through the failure mode's onError instead.
  redis.on("error", () => {});
  return redis;
}

/**
 * Resolves true once `redis` is ready, false if it is not within `timeoutMs`.
 * Await it at startup so the first requests are not judged by the failure mode
 * merely because the connection was still being made.
 */
export function whenReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      redis.off("ready", onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.on("ready", onReady);
  });
}

/** Quits politely when connected; otherwise (or if QUIT fails) drops the connection and stops reconnecting. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status === "ready") {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through: a hung or broken connection is simply dropped
    }
  }
  redis.disconnect();
}
