import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Principal } from "../../src/policy/principal.ts";
import { mintRefusal, PERMISSIONS, permissionsOf, ROLES } from "../../src/policy/rbac.ts";

const who = (over: Partial<Principal>): Principal => ({
  keyId: "key_x",
  name: "x",
  team: undefined,
  roles: [],
  workloads: ["*"],
  models: ["*"],
  expiresAt: undefined,
  ...over,
});
const want = (over: Partial<Parameters<typeof mintRefusal>[1]> = {}) => ({
  roles: ["developer"],
  workloads: ["*"],
  models: ["*"],
  team: undefined,
  expiresAt: undefined,
  ...over,
});

test("an admin may mint any role", () => {
  const admin = who({ roles: ["admin"] });
  for (const role of Object.keys(ROLES))
    assert.equal(mintRefusal(admin, want({ roles: [role] })), undefined, role);
});

test("a viewer cannot mint keys; a developer cannot either", () => {
  assert.match(mintRefusal(who({ roles: ["viewer"] }), want()) ?? "", /cannot grant "developer"/);
  assert.match(mintRefusal(who({ roles: ["developer"] }), want()) ?? "", /cannot grant/);
});

test("a team-admin mints developer keys for its own team only, never admin or team-admin", () => {
  const lead = who({ roles: ["team-admin"], team: "search" });
  assert.equal(mintRefusal(lead, want({ team: "search" })), undefined);
  assert.match(mintRefusal(lead, want({ team: "ads" })) ?? "", /own team \(search\)/);
  assert.match(mintRefusal(lead, want({ roles: ["admin"], team: "search" })) ?? "", /cannot grant "admin"/);
  assert.match(
    mintRefusal(lead, want({ roles: ["team-admin"], team: "search" })) ?? "",
    /cannot grant "team-admin"/,
  );
});

test("workloads, models and lifetime must be within the creator's", () => {
  const lead = who({ roles: ["team-admin"], team: "t", workloads: ["chat"], models: ["gpt-4o-mini"] });
  assert.equal(
    mintRefusal(lead, want({ team: "t", workloads: ["chat"], models: ["gpt-4o-mini"] })),
    undefined,
  );
  assert.match(
    mintRefusal(lead, want({ team: "t", workloads: ["*"], models: ["gpt-4o-mini"] })) ?? "",
    /workloads outside/,
  );
  assert.match(
    mintRefusal(lead, want({ team: "t", workloads: ["chat", "embed"] })) ?? "",
    /workloads outside/,
  );
  assert.match(
    mintRefusal(lead, want({ team: "t", workloads: ["chat"], models: ["o3"] })) ?? "",
    /models outside/,
  );
  const expiring = who({ roles: ["admin"], expiresAt: new Date("2027-01-01") });
  assert.match(mintRefusal(expiring, want()) ?? "", /expire no later/);
  assert.equal(mintRefusal(expiring, want({ expiresAt: new Date("2026-12-01") })), undefined);
});

test("unknown roles and empty role lists are refused", () => {
  const admin = who({ roles: ["admin"] });
  assert.match(mintRefusal(admin, want({ roles: ["root"] })) ?? "", /unknown role "root"/);
  assert.match(mintRefusal(admin, want({ roles: [] })) ?? "", /at least one role/);
});

test("property: whatever a creator may mint has no permission the creator lacks", () => {
  const roleNames = Object.keys(ROLES);
  fc.assert(
    fc.property(
      fc.subarray(roleNames, { minLength: 1 }),
      fc.subarray(roleNames, { minLength: 1 }),
      (creatorRoles, wantedRoles) => {
        const creator = who({ roles: creatorRoles, team: "t" });
        if (mintRefusal(creator, want({ roles: wantedRoles, team: "t" })) !== undefined) return;
        const mine = permissionsOf(creator);
        for (const p of permissionsOf(who({ roles: wantedRoles })))
          assert.ok(mine.has(p), `escalation to ${p}`);
      },
    ),
  );
  assert.equal(permissionsOf(who({ roles: ["admin"] })).size, PERMISSIONS.length);
});
