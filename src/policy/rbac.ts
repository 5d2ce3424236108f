import type { Principal } from "./principal.ts";

/** Everything a key can be allowed to do: one permission per RPC (group). */
export const PERMISSIONS = [
  "inference.generate",
  "inference.embed",
  "inference.list",
  "keys.create",
  "keys.read",
  "keys.revoke",
  "routes.read",
  "config.read",
  "config.reload",
  "audit.read",
  "usage.read",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const INFERENCE: Permission[] = ["inference.generate", "inference.embed", "inference.list"];

/**
 * The role table. team-admin manages keys of its own team only (enforced in
 * the admin service); nobody can grant a role that gives more than they have.
 */
export const ROLES: Record<string, { permissions: readonly Permission[]; grants: readonly string[] }> = {
  admin: { permissions: PERMISSIONS, grants: ["admin", "team-admin", "developer", "viewer", "billing"] },
  "team-admin": {
    permissions: [...INFERENCE, "keys.create", "keys.read", "keys.revoke", "routes.read", "usage.read"],
    grants: ["developer", "viewer", "billing"],
  },
  developer: { permissions: INFERENCE, grants: [] },
  viewer: {
    permissions: ["inference.list", "keys.read", "routes.read", "config.read", "audit.read", "usage.read"],
    grants: [],
  },
  billing: { permissions: ["usage.read"], grants: [] },
};

export function permissionsOf(principal: Principal): Set<Permission> {
  return new Set(principal.roles.flatMap((role) => ROLES[role]?.permissions ?? []));
}

/** Checked on every call: a scan of the key's few roles, no Set built per call. */
export function can(principal: Principal, permission: Permission): boolean {
  return principal.roles.some((role) => ROLES[role]?.permissions.includes(permission) ?? false);
}

export function allows(list: readonly string[], item: string): boolean {
  return list.includes("*") || list.includes(item);
}

/**
 * Why `creator` may not mint a key with these scopes, or undefined when it may:
 * every role must be grantable by one of the creator's roles, the new key's
 * permissions, workloads, models and lifetime must be within the creator's,
 * and a non-admin mints only for its own team (so never a key that reaches further: reach.ts).
 */
export function mintRefusal(
  creator: Principal,
  wanted: {
    roles: readonly string[];
    workloads: readonly string[];
    models: readonly string[];
    team: string | undefined;
    expiresAt: Date | undefined;
  },
): string | undefined {
  const unknown = wanted.roles.filter((r) => !ROLES[r]);
  if (unknown.length > 0)
    return `unknown role ${unknown.map((r) => `"${r}"`).join(", ")} (roles: ${Object.keys(ROLES).join(", ")})`;
  if (wanted.roles.length === 0) return "a key needs at least one role";
  const grantable = new Set(creator.roles.flatMap((r) => ROLES[r]?.grants ?? []));
  const notGrantable = wanted.roles.filter((r) => !grantable.has(r));
  if (notGrantable.length > 0)
    return `your roles cannot grant ${notGrantable.map((r) => `"${r}"`).join(", ")}`;
  const mine = permissionsOf(creator);
  const extra = wanted.roles.flatMap((r) => ROLES[r]!.permissions).filter((p) => !mine.has(p));
  if (extra.length > 0)
    return `the new key would have permissions you lack: ${[...new Set(extra)].join(", ")}`;
  const outside = (theirs: readonly string[], mineList: readonly string[]) =>
    mineList.includes("*") ? [] : theirs.filter((x) => x === "*" || !mineList.includes(x));
  const workloads = outside(wanted.workloads, creator.workloads);
  if (workloads.length > 0) return `workloads outside your own: ${workloads.join(", ")}`;
  const models = outside(wanted.models, creator.models);
  if (models.length > 0) return `models outside your own: ${models.join(", ")}`;
  // Only an admin mints keys without a team (they may reach every team: see reach.ts).
  if (!creator.roles.includes("admin") && creator.team === undefined)
    return "a key without a team cannot mint keys (only an admin mints keys outside a team)";
  if (!creator.roles.includes("admin") && wanted.team !== creator.team) {
    return `you can only mint keys for your own team (${creator.team ?? "none"})`;
  }
  if (creator.expiresAt && (!wanted.expiresAt || wanted.expiresAt > creator.expiresAt)) {
    return `the new key must expire no later than yours (${creator.expiresAt.toISOString()})`;
  }
  return undefined;
}
