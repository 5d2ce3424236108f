import assert from "node:assert/strict";
import { test } from "node:test";
import { type CachedResponse, entryBytes } from "../../src/cache/cache-entry.ts";
import { MemoryCacheStore } from "../../src/cache/memory-cache-store.ts";

/** An entry whose encoded size grows with `text`. */
const entry = (text: string, storedAt = 0): CachedResponse => ({
  events: [
    { type: "text", text },
    { type: "finish", reason: "stop" },
  ],
  storedAt,
});

function clock(start = 1_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

test("memory store: a set entry is a hit, another key a miss", async () => {
  const store = new MemoryCacheStore({ maxBytes: 10_000 });
  await store.set("a", entry("hello"), 60_000);
  assert.deepEqual(await store.get("a"), entry("hello"));
  assert.equal(await store.get("b"), undefined);
  await store.set("a", entry("again"), 60_000);
  assert.deepEqual(await store.get("a"), entry("again"), "a set replaces");
  await store.delete("a");
  assert.equal(await store.get("a"), undefined);
  assert.equal(store.size, 0);
  assert.equal(store.bytes, 0);
});

test("memory store: an entry expires at its TTL on the injected clock and is then dropped", async () => {
  const c = clock();
  const store = new MemoryCacheStore({ maxBytes: 10_000, now: c.now });
  await store.set("a", entry("x"), 100);
  c.advance(99);
  assert.ok(await store.get("a"), "alive 1 ms before its TTL");
  c.advance(1);
  assert.equal(await store.get("a"), undefined, "expired at its TTL");
  assert.equal(store.size, 0, "dropped when looked up");
  assert.equal(store.bytes, 0);
  // A hit does not extend the TTL.
  await store.set("b", entry("y"), 100);
  c.advance(60);
  assert.ok(await store.get("b"));
  c.advance(40);
  assert.equal(await store.get("b"), undefined);
});

test("memory store: a non-positive or non-finite TTL stores nothing", async () => {
  const store = new MemoryCacheStore({ maxBytes: 10_000 });
  for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) await store.set("a", entry("x"), ttl);
  assert.equal(store.size, 0);
});

test("memory store: evicts least recently used entries to stay within maxBytes", async () => {
  const one = entryBytes(entry("aaaaaaaaaa")) + 2; // one-letter key, 2 bytes a UTF-16 unit
  const store = new MemoryCacheStore({ maxBytes: one * 3 });
  await store.set("a", entry("aaaaaaaaaa"), 60_000);
  await store.set("b", entry("bbbbbbbbbb"), 60_000);
  await store.set("c", entry("cccccccccc"), 60_000);
  assert.equal(store.bytes, one * 3);
  assert.ok(await store.get("a"), "a is now the most recently used");
  await store.set("d", entry("dddddddddd"), 60_000);
  assert.equal(await store.get("b"), undefined, "b, least recently used, went");
  for (const k of ["a", "c", "d"]) assert.ok(await store.get(k), k);
  assert.equal(store.size, 3);
  assert.ok(store.bytes <= one * 3);
  // A large entry pushes out as many as it needs.
  await store.set("e", entry("e".repeat(10 + 2 * one)), 60_000);
  assert.equal(store.size, 1);
  assert.ok(await store.get("e"));
  assert.ok(store.bytes <= one * 3);
});

test("memory store: an entry over maxEntryBytes (or maxBytes) is not stored and evicts nothing", async () => {
  const store = new MemoryCacheStore({ maxBytes: 10_000, maxEntryBytes: 200 });
  await store.set("small", entry("x"), 60_000);
  await store.set("big", entry("x".repeat(300)), 60_000);
  assert.equal(await store.get("big"), undefined);
  assert.ok(await store.get("small"));
  // An oversize replacement removes the old value rather than leaving it stale.
  await store.set("small", entry("x".repeat(300)), 60_000);
  assert.equal(await store.get("small"), undefined);
  assert.equal(store.bytes, 0);

  const tiny = new MemoryCacheStore({ maxBytes: 100 });
  await tiny.set("a", entry("x".repeat(200)), 60_000);
  assert.equal(tiny.size, 0);
});

test("memory store: bytes stay consistent over many random operations", async () => {
  const c = clock();
  const store = new MemoryCacheStore({ maxBytes: 2_000, maxEntryBytes: 600, now: c.now });
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const live = new Map<string, number>();
  for (let i = 0; i < 2_000; i++) {
    const k = `k${rnd(20)}`;
    const op = rnd(4);
    if (op === 0) await store.delete(k);
    else if (op === 1) {
      const got = await store.get(k);
      if (got) assert.ok((live.get(k) ?? 0) > c.now(), "never returns an expired entry");
    } else {
      const ttl = 1 + rnd(500);
      await store.set(k, entry("x".repeat(rnd(700))), ttl);
      live.set(k, c.now() + ttl);
    }
    c.advance(rnd(20));
    assert.ok(store.bytes <= 2_000 && store.bytes >= 0);
  }
});
