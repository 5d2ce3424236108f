import assert from "node:assert/strict";
import { test } from "node:test";
import { GatewayError } from "../../src/errors/gateway-error.ts";
import { digestOf, keyIdOf, mintKey } from "../../src/policy/api-key.ts";
import { Authenticator } from "../../src/policy/authenticator.ts";
import { openMemoryStore } from "../../src/store/memory/memory-store.ts";
import type { ApiKeyRecord } from "../../src/store/store.ts";

const bearer = (secret: string) => new Headers({ authorization: `Bearer ${secret}` });
const record = (minted: ReturnType<typeof mintKey>, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  id: minted.id,
  prefix: minted.prefix,
  digest: minted.digest,
  name: "k",
  team: "search",
  roles: ["developer"],
  workloads: ["chat"],
  models: ["*"],
  createdAt: new Date(0),
  createdBy: null,
  expiresAt: null,
  revokedAt: null,
  ...over,
});
const reason = (r: string) => (e: unknown) => e instanceof GatewayError && e.reason === r;

test("minted keys have the documented format; only the digest identifies the secret", () => {
  const k = mintKey();
  assert.match(k.secret, /^sy_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  assert.equal(keyIdOf(k.secret), k.id);
  assert.equal(k.digest, digestOf(k.secret));
  assert.equal(k.prefix, k.secret.slice(0, 12));
  assert.notEqual(mintKey().secret, k.secret);
});

test("a valid key becomes its principal; missing, malformed, wrong-secret keys are refused", async () => {
  const store = await openMemoryStore();
  const k = mintKey();
  await store.keys.create(record(k));
  const auth = new Authenticator(store.keys, 5000);
  const p = await auth.authenticate(bearer(k.secret));
  assert.deepEqual([p.keyId, p.team, p.roles, p.workloads], [k.id, "search", ["developer"], ["chat"]]);
  await assert.rejects(auth.authenticate(new Headers()), reason("unauthenticated"));
  await assert.rejects(auth.authenticate(bearer("not-a-key")), reason("unauthenticated"));
  // Same id, different secret: found by id, refused by the digest comparison.
  const forged = `${k.secret.slice(0, 20)}${"A".repeat(k.secret.length - 20)}`;
  await assert.rejects(auth.authenticate(bearer(forged)), reason("unauthenticated"));
});

test("revocation applies after the cache TTL (the documented bound), at once after invalidate()", async () => {
  const store = await openMemoryStore();
  const k = mintKey();
  await store.keys.create(record(k));
  let now = 1_000_000;
  const auth = new Authenticator(store.keys, 5000, () => now);
  await auth.authenticate(bearer(k.secret));
  await store.keys.revoke(k.id, new Date(now));
  now += 4999;
  await auth.authenticate(bearer(k.secret)); // still cached: within the bound
  now += 1;
  await assert.rejects(auth.authenticate(bearer(k.secret)), /revoked/);

  const k2 = mintKey();
  await store.keys.create(record(k2));
  await auth.authenticate(bearer(k2.secret));
  await store.keys.revoke(k2.id, new Date(now));
  auth.invalidate();
  await assert.rejects(auth.authenticate(bearer(k2.secret)), /revoked/);
});

test("expired keys are refused", async () => {
  const store = await openMemoryStore();
  const k = mintKey();
  await store.keys.create(record(k, { expiresAt: new Date(2000) }));
  const auth = new Authenticator(store.keys, 0, () => 1999);
  await auth.authenticate(bearer(k.secret));
  const later = new Authenticator(store.keys, 0, () => 2000);
  await assert.rejects(later.authenticate(bearer(k.secret)), /expired/);
});
