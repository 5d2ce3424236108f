import { GatewayError } from "../errors/gateway-error.ts";
import { bounded } from "../telemetry/bounded.ts";
import type { Auditor } from "./auditor.ts";
import type { Authenticator } from "./authenticator.ts";
import { ANONYMOUS_ADMIN, type Principal } from "./principal.ts";
import { allows, can, type Permission } from "./rbac.ts";

type Caller = { id: string; headers: Headers; principal: Principal | undefined };

/**
 * Authentication and authorization for every RPC, in one place: who is
 * calling (API key → principal), whether their roles allow the RPC, and
 * whether their key allows the workload. Every denial is audited.
 * With auth disabled in the config, every caller is an anonymous admin.
 */
export class AccessControl {
  readonly #authenticator: Authenticator | undefined;
  readonly #auditor: Auditor;

  constructor(authenticator: Authenticator | undefined, auditor: Auditor) {
    this.#authenticator = authenticator;
    this.#auditor = auditor;
  }

  get enabled(): boolean {
    return this.#authenticator !== undefined;
  }

  get auditor(): Auditor {
    return this.#auditor;
  }

  /** Sets and returns `caller.principal`, or throws unauthenticated / permission_denied. */
  async admit(caller: Caller, permission: Permission, target: string): Promise<Principal> {
    if (!this.#authenticator) {
      caller.principal = ANONYMOUS_ADMIN;
      return ANONYMOUS_ADMIN;
    }
    let principal: Principal;
    try {
      principal = await this.#authenticator.authenticate(caller.headers);
    } catch (error) {
      this.#deny(caller, undefined, permission, target, error);
      throw error;
    }
    caller.principal = principal;
    if (!can(principal, permission)) {
      throw this.#deny(
        caller,
        principal,
        permission,
        target,
        new GatewayError(
          "permission_denied",
          `key ${principal.keyId} (roles: ${principal.roles.join(", ")}) may not ${permission}`,
        ),
      );
    }
    return principal;
  }

  /** For inference: the key must allow the workload (and a requested model, if any). */
  checkScope(
    caller: Caller,
    principal: Principal,
    permission: Permission,
    workload: string,
    model: string,
  ): void {
    if (!allows(principal.workloads, workload)) {
      throw this.#deny(
        caller,
        principal,
        permission,
        workload,
        new GatewayError(
          "permission_denied",
          `key ${principal.keyId} may not use workload "${bounded(workload)}"`,
        ),
      );
    }
    if (model !== "" && !allows(principal.models, model)) {
      throw this.#deny(
        caller,
        principal,
        permission,
        workload,
        new GatewayError("permission_denied", `key ${principal.keyId} may not use model "${bounded(model)}"`),
      );
    }
  }

  /** Audits a denial (without waiting) and returns the error to throw. The auditor bounds the target and message. */
  #deny(
    caller: Caller,
    principal: Principal | undefined,
    permission: Permission,
    target: string,
    error: unknown,
  ) {
    const reason = error instanceof GatewayError ? error.reason : "internal";
    this.#auditor.recordSoon({
      requestId: caller.id,
      actorKeyId: principal?.keyId ?? null,
      action: `${permission}.denied`,
      target,
      outcome: "denied",
      details: { reason, message: error instanceof Error ? error.message : "denied" },
    });
    return error;
  }
}
