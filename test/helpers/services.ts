import net from "node:net";
import type { TestContext } from "node:test";

/**
 * Tests that need the machine's Redis or PostgreSQL call these first. Where the
 * server is unreachable the test is skipped with a visible message on a
 * developer laptop, and FAILS when CI=true, so CI can never pass by skipping.
 */
export const REDIS_URL = process.env.SWITCHYARD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
export const POSTGRES_URL =
  process.env.SWITCHYARD_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port), timeout: 1000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function require(t: TestContext, name: string, url: string): Promise<boolean> {
  if (await reachable(url)) return true;
  const message = `${name} is not reachable at ${url}`;
  if (process.env.CI === "true") throw new Error(`${message} (CI=true: tests needing it must not skip)`);
  t.skip(`${message}: skipped (start it, or set CI=true to make this a failure)`);
  return false;
}

/** Returns false (after skipping `t`) when Redis is unreachable outside CI; throws under CI. */
export const requireRedis = (t: TestContext) => require(t, "Redis", REDIS_URL);
/** Returns false (after skipping `t`) when PostgreSQL is unreachable outside CI; throws under CI. */
export const requirePostgres = (t: TestContext) => require(t, "PostgreSQL", POSTGRES_URL);
