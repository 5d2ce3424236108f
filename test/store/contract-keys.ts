import assert from "node:assert/strict";
import { test } from "node:test";
import { StoreConflictError } from "../../src/store/store.ts";
import type { WithStore } from "./contract.ts";
import { makeKey, newSecret, sha256 } from "./fixtures.ts";

export function keyContract(withStore: WithStore): void {
  test("keys: create, then get and findByDigest return every field as stored", (t) =>
    withStore(t, async (store) => {
      const key = makeKey({
        team: null,
        roles: ["developer", "auditor"],
        workloads: ["*"],
        models: ["gpt-4o", "claude"],
        createdBy: null,
        expiresAt: new Date("2026-02-03T04:05:06.789Z"),
      });
      await store.keys.create(key);
      assert.deepEqual(await store.keys.get(key.id), key);
      assert.deepEqual(await store.keys.findByDigest(key.digest), key);
      assert.equal(await store.keys.get("key_unknown"), undefined);
      assert.equal(await store.keys.findByDigest(sha256("not a key")), undefined);
    }));

  test("keys: an expired key is still found (expiry is the authenticator's decision) with its expiry", (t) =>
    withStore(t, async (store) => {
      const key = makeKey({ expiresAt: new Date("2020-01-01T00:00:00.000Z") });
      await store.keys.create(key);
      assert.deepEqual((await store.keys.findByDigest(key.digest))?.expiresAt, key.expiresAt);
      assert.deepEqual(
        (await store.keys.list({})).map((k) => k.id),
        [key.id],
      );
    }));

  test("keys: a duplicate id or digest is a StoreConflictError and changes nothing", (t) =>
    withStore(t, async (store) => {
      const key = makeKey();
      await store.keys.create(key);
      await assert.rejects(
        store.keys.create(makeKey({ id: key.id })),
        (e) => e instanceof StoreConflictError && e.field === "id",
      );
      await assert.rejects(
        store.keys.create({ ...makeKey(), digest: key.digest }),
        (e) => e instanceof StoreConflictError && e.field === "digest",
      );
      assert.equal(await store.keys.count(), 1);
      assert.deepEqual(await store.keys.get(key.id), key);
    }));

  test("keys: the secret is never stored or returned, and a secret passed as digest or prefix is refused", (t) =>
    withStore(t, async (store) => {
      const secret = newSecret();
      const key = makeKey({ secret });
      await store.keys.create(key);
      assert.equal(key.digest, sha256(secret));
      assert.equal((await store.keys.findByDigest(sha256(secret)))?.id, key.id);
      assert.equal(await store.keys.findByDigest(secret), undefined);
      const everything = JSON.stringify([
        await store.keys.get(key.id),
        await store.keys.findByDigest(key.digest),
        await store.keys.list({ includeRevoked: true }),
      ]);
      assert.ok(!everything.includes(secret), "the secret appears in what the store returns");
      assert.ok(!everything.includes(secret.slice(0, 13)), "more than the 12-char prefix is returned");
      await assert.rejects(store.keys.create({ ...makeKey(), digest: secret }), RangeError);
      await assert.rejects(store.keys.create({ ...makeKey(), prefix: secret }), RangeError);
      await assert.rejects(
        store.keys.create({ ...makeKey(), digest: sha256(secret).toUpperCase() }),
        RangeError,
      );
      assert.equal(await store.keys.count(), 1);
    }));

  test("keys: list is newest first (ties by id), filters by team, hides revoked unless asked", (t) =>
    withStore(t, async (store) => {
      const at = (iso: string) => new Date(iso);
      const old = makeKey({
        id: "key_0000000000000001",
        team: "search",
        createdAt: at("2025-01-01T00:00:00Z"),
      });
      const tieA = makeKey({
        id: "key_000000000000000a",
        team: "ads",
        createdAt: at("2025-01-02T00:00:00Z"),
      });
      const tieB = makeKey({
        id: "key_000000000000000b",
        team: "search",
        createdAt: at("2025-01-02T00:00:00Z"),
      });
      const newest = makeKey({
        id: "key_0000000000000002",
        team: null,
        createdAt: at("2025-01-03T00:00:00Z"),
      });
      const revoked = makeKey({
        id: "key_0000000000000003",
        team: "search",
        createdAt: at("2025-01-04T00:00:00Z"),
        revokedAt: at("2025-01-05T00:00:00Z"),
      });
      for (const k of [tieA, old, revoked, newest, tieB]) await store.keys.create(k);
      const ids = async (filter: Parameters<typeof store.keys.list>[0]) =>
        (await store.keys.list(filter)).map((k) => k.id);
      assert.deepEqual(await ids({}), [newest.id, tieB.id, tieA.id, old.id]);
      assert.deepEqual(await ids({ includeRevoked: true }), [
        revoked.id,
        newest.id,
        tieB.id,
        tieA.id,
        old.id,
      ]);
      assert.deepEqual(await ids({ team: "search" }), [tieB.id, old.id]);
      assert.deepEqual(await ids({ team: "search", includeRevoked: true }), [revoked.id, tieB.id, old.id]);
      assert.deepEqual(await ids({ team: "nobody" }), []);
      assert.deepEqual((await store.keys.list({ team: "ads" }))[0], tieA);
    }));

  test("keys: revoke sets revokedAt once; unknown or already revoked keys return false", (t) =>
    withStore(t, async (store) => {
      const key = makeKey();
      await store.keys.create(key);
      const at = new Date("2025-06-01T10:00:00.123Z");
      assert.equal(await store.keys.revoke(key.id, at), true);
      assert.equal(await store.keys.revoke(key.id, new Date("2025-07-01T00:00:00Z")), false);
      assert.equal(await store.keys.revoke("key_unknown", at), false);
      assert.deepEqual((await store.keys.get(key.id))?.revokedAt, at);
      assert.deepEqual((await store.keys.findByDigest(key.digest))?.revokedAt, at);
      assert.deepEqual(await store.keys.list({}), []);
      assert.equal(await store.keys.count(), 1, "count includes revoked keys");
    }));

  test("keys: count starts at zero and counts every created key", (t) =>
    withStore(t, async (store) => {
      assert.equal(await store.keys.count(), 0);
      for (let i = 0; i < 3; i++) await store.keys.create(makeKey());
      assert.equal(await store.keys.count(), 3);
    }));

  test("keys: returned records are copies; changing one does not change the store", (t) =>
    withStore(t, async (store) => {
      const key = makeKey();
      await store.keys.create(key);
      key.roles.push("admin");
      const got = await store.keys.get(key.id);
      assert.ok(got);
      assert.deepEqual(got.roles, ["developer"]);
      got.models.push("leak");
      got.createdAt.setTime(0);
      const again = await store.keys.get(key.id);
      assert.deepEqual(again?.models, ["*"]);
      assert.equal(again?.createdAt.toISOString(), "2025-01-10T12:00:00.000Z");
    }));
}
