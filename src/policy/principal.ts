/** Who is calling, as access control sees it (from a verified API key). Safe to log: no key material. */
export type Principal = {
  keyId: string;
  name: string;
  team: string | undefined;
  roles: readonly string[];
  /** Allowed workloads; "*" = all. */
  workloads: readonly string[];
  /** Allowed models; "*" = all. */
  models: readonly string[];
  expiresAt: Date | undefined;
};

/** The principal used when auth is explicitly disabled in the config: may do everything. */
export const ANONYMOUS_ADMIN: Principal = {
  keyId: "anonymous",
  name: "auth disabled",
  team: undefined,
  roles: ["admin"],
  workloads: ["*"],
  models: ["*"],
  expiresAt: undefined,
};
