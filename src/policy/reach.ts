import type { Principal } from "./principal.ts";
import { allows } from "./rbac.ts";

/**
 * What a key can read beyond its roles: which teams' keys, spend and audit events, and which
 * workloads' and models' spend. An admin reaches every team; so does a key without a team that is
 * not a team-admin (an org-wide viewer or billing key — only an admin can mint a key without a
 * team). Every other key reaches its own team only, and a team-admin without a team reaches none.
 * Since a non-admin mints only for its own team and within its own workloads and models, a minted
 * key never reaches further than its creator, however long the chain of keys minting keys.
 */
export function reachesAllTeams(principal: Principal): boolean {
  return (
    principal.roles.includes("admin") ||
    (principal.team === undefined && !principal.roles.includes("team-admin"))
  );
}

/** Whether the key may read (and, with the permission, manage) a record of `team`. */
export function reachesTeam(principal: Principal, team: string | null | undefined): boolean {
  if (reachesAllTeams(principal)) return true;
  return principal.team !== undefined && (team ?? undefined) === principal.team;
}

/** The workloads and models whose spend the key may read (its inference scopes; an admin reads all): absent = all. */
export function spendReach(principal: Principal): { workloads?: string[]; models?: string[] } {
  if (principal.roles.includes("admin")) return {};
  return {
    ...(allows(principal.workloads, "*") ? {} : { workloads: [...principal.workloads] }),
    ...(allows(principal.models, "*") ? {} : { models: [...principal.models] }),
  };
}
