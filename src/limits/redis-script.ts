import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * A Lua script run with EVALSHA, falling back to EVAL when the server does not
 * have it cached yet (first use, restart, SCRIPT FLUSH). Redis runs a script
 * atomically: no other command interleaves, from any client.
 */
export class RedisScript {
  readonly #lua: string;
  readonly #sha: string;

  constructor(lua: string) {
    this.#lua = lua;
    this.#sha = createHash("sha1").update(lua).digest("hex");
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await redis.eval(this.#lua, keys.length, ...keys, ...args);
    }
  }
}

/** The integer array every limits script returns. */
export function integers(reply: unknown, length: number): number[] {
  if (!Array.isArray(reply) || reply.length !== length || !reply.every((n) => typeof n === "number")) {
    throw new Error(`unexpected reply from a limits script: ${JSON.stringify(reply)}`);
  }
  return reply as number[];
}

/**
 * Makes a script's `now` come from the Redis server's clock, never a replica's:
 * every gateway then agrees on the time. Effects replication (the default since
 * Redis 5) makes TIME safe before writes; the call enables it on older servers.
 */
export const REDIS_NOW_MS = `
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
`;
