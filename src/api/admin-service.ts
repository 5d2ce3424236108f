import type { JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type AdminService, BreakerState } from "../../gen/switchyard/v1/admin_service_pb.ts";
import type { ConfigHolder } from "../config/holder.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { toConnectError } from "../errors/to-connect-error.ts";
import type { AccessControl } from "../policy/access-control.ts";
import { mintKey } from "../policy/api-key.ts";
import type { Authenticator } from "../policy/authenticator.ts";
import type { Principal } from "../policy/principal.ts";
import { mintRefusal, type Permission } from "../policy/rbac.ts";
import { reachesAllTeams, reachesTeam, spendReach } from "../policy/reach.ts";
import type { ApiKeyRecord, AuditOutcome, AuditStore, KeyStore, LedgerStore } from "../store/store.ts";
import { bounded } from "../telemetry/bounded.ts";
import { auditPage } from "./audit-page.ts";
import { redactedConfig } from "./redacted-config.ts";
import { spendQueryOf } from "./spend-query.ts";
import { checkKeyFields, timestampToDate } from "./validate.ts";

export type AdminDeps = {
  access: AccessControl;
  authenticator: Authenticator | undefined;
  keys: KeyStore;
  audit: AuditStore;
  ledger: LedgerStore;
  config: ConfigHolder;
  /** The config file, for ReloadConfig; undefined when the gateway was started from text. */
  configFile: string | undefined;
};

const BREAKER = {
  closed: BreakerState.CLOSED,
  half_open: BreakerState.HALF_OPEN,
  open: BreakerState.OPEN,
} as const;

/** switchyard.v1.AdminService. Each RPC checks its permission first; every mutation is audited. */
export function adminService(deps: AdminDeps): ServiceImpl<typeof AdminService> {
  const { access } = deps;

  /** Authenticates and authorizes one admin RPC; returns the caller and its request id. */
  const admit = async (context: HandlerContext, permission: Permission, target: string) => {
    const caller = {
      id: crypto.randomUUID(),
      headers: context.requestHeader,
      principal: undefined as Principal | undefined,
    };
    context.responseHeader.set("x-request-id", caller.id);
    try {
      const principal = await access.admit(caller, permission, target);
      return { principal, requestId: caller.id };
    } catch (error) {
      throw toConnectError(error, caller.id);
    }
  };
  const audit = (
    requestId: string,
    actor: Principal,
    action: string,
    target: string,
    outcome: AuditOutcome,
    details = {},
  ) => access.auditor.record({ requestId, actorKeyId: actor.keyId, action, target, outcome, details });

  /** A key sees and manages only keys within its reach (its own team's, unless it reaches all teams). */
  const inScope = (principal: Principal, key: ApiKeyRecord) => reachesTeam(principal, key.team);

  return {
    async createKey(req, context) {
      const { principal, requestId } = await admit(context, "keys.create", req.name);
      try {
        checkKeyFields(req);
      } catch (error) {
        throw toConnectError(error, requestId);
      }
      const team = req.team || principal.team;
      const wanted = {
        roles: req.roles,
        workloads: req.workloads.length > 0 ? req.workloads : [...principal.workloads],
        models: req.models.length > 0 ? req.models : [...principal.models],
        team,
        expiresAt: req.expireTime ? timestampToDate(req.expireTime, "expire_time") : undefined,
      };
      if (wanted.expiresAt && wanted.expiresAt.getTime() <= Date.now()) {
        throw toConnectError(
          new GatewayError(
            "invalid_argument",
            `expire_time ${wanted.expiresAt.toISOString()} is not in the future: a key must expire later than now`,
          ),
          requestId,
        );
      }
      const refusal = req.name.trim() === "" ? "a key needs a name" : mintRefusal(principal, wanted);
      if (refusal) {
        await audit(requestId, principal, "keys.create", req.name, "denied", { reason: refusal });
        throw toConnectError(
          new GatewayError("permission_denied", `cannot mint this key: ${refusal}`),
          requestId,
        );
      }
      const minted = mintKey();
      const record: ApiKeyRecord = {
        id: minted.id,
        prefix: minted.prefix,
        digest: minted.digest,
        name: req.name,
        team: team ?? null,
        roles: [...wanted.roles],
        workloads: wanted.workloads,
        models: wanted.models,
        createdAt: new Date(),
        createdBy: principal.keyId,
        expiresAt: wanted.expiresAt ?? null,
        revokedAt: null,
      };
      await deps.keys.create(record);
      await audit(requestId, principal, "keys.create", record.id, "allowed", {
        roles: record.roles.join(","),
        team: team ?? "",
      });
      return { key: keyInfo(record), secret: minted.secret };
    },

    async listKeys(req, context) {
      const { principal } = await admit(context, "keys.read", req.team || "*");
      const keys = await deps.keys.list({
        ...(req.team ? { team: req.team } : {}),
        includeRevoked: req.includeRevoked,
      });
      return { keys: keys.filter((k) => inScope(principal, k)).map(keyInfo) };
    },

    async getKey(req, context) {
      const { principal, requestId } = await admit(context, "keys.read", req.id);
      const key = await deps.keys.get(req.id);
      if (!key || !inScope(principal, key))
        throw new ConnectError(`no key "${bounded(req.id)}" (request id ${requestId})`, Code.NotFound);
      return { key: keyInfo(key) };
    },

    async revokeKey(req, context) {
      const { principal, requestId } = await admit(context, "keys.revoke", req.id);
      const key = await deps.keys.get(req.id);
      if (!key || !inScope(principal, key)) {
        await audit(requestId, principal, "keys.revoke", req.id, "denied", {
          reason: "no such key in scope",
        });
        throw new ConnectError(`no key "${bounded(req.id)}"`, Code.NotFound);
      }
      const revokedAt = new Date();
      const revoked = await deps.keys.revoke(req.id, revokedAt);
      if (!revoked)
        throw new ConnectError(`key "${bounded(req.id)}" is already revoked`, Code.FailedPrecondition);
      deps.authenticator?.invalidate(); // at once on this replica; others within the cache TTL
      await audit(requestId, principal, "keys.revoke", req.id, "allowed");
      return { key: keyInfo({ ...key, revokedAt }) };
    },

    async listRoutes(_req, context) {
      await admit(context, "routes.read", "routes");
      const current = deps.config.current;
      return {
        configGeneration: current.generation,
        routes: [...current.routes.values()].map((r) => ({
          workload: r.workload,
          description: r.description,
          strategy: r.strategy,
          operations: [...r.operations],
          targets: r.targets.map((t) => ({
            backend: t.backend.name,
            model: t.model,
            alias: t.alias ?? "",
            weight: t.weight,
          })),
          variants: r.variants.map((v) => v.name),
          maxAttempts: r.retry.maxAttempts,
        })),
        backends: [...current.backends.values()].map((b) => ({
          name: b.name,
          type: b.type,
          description: b.description,
          enabled: b.adapter !== undefined,
          unavailableReason: b.disabledReason ?? b.state.misconfiguredReason ?? b.state.unhealthyReason ?? "",
          healthy: b.state.healthy,
          breakerState: BREAKER[b.state.breaker.state],
        })),
      };
    },

    async getConfig(_req, context) {
      await admit(context, "config.read", "config");
      const current = deps.config.current;
      return { config: redactedConfig(current.loaded.config) as JsonObject, generation: current.generation };
    },

    async reloadConfig(_req, context) {
      const { principal, requestId } = await admit(context, "config.reload", "config");
      if (!deps.configFile) {
        throw toConnectError(
          new GatewayError("invalid_argument", "this gateway was not started from a config file"),
          requestId,
        );
      }
      const result = deps.config.reload(deps.configFile);
      await audit(
        requestId,
        principal,
        "config.reload",
        deps.configFile,
        result.reloaded ? "allowed" : "error",
        {
          problems: result.problems.length,
        },
      );
      return {
        reloaded: result.reloaded,
        problems: result.problems,
        generation: deps.config.current.generation,
      };
    },

    async listAuditEvents(req, context) {
      const { principal } = await admit(context, "audit.read", "audit");
      const limit = Math.min(req.pageSize || 100, 1000);
      const outcome = req.outcome as AuditOutcome;
      // A team-scoped reader sees what its own team's keys did, and nothing else.
      const actors = reachesAllTeams(principal)
        ? undefined
        : new Set(
            principal.team === undefined
              ? []
              : (await deps.keys.list({ team: principal.team, includeRevoked: true })).map((k) => k.id),
          );
      const { events, next } = await auditPage(
        deps.audit,
        {
          ...(req.actorKeyId ? { actorKeyId: req.actorKeyId } : {}),
          ...(req.action ? { action: req.action } : {}),
          ...(req.outcome ? { outcome } : {}),
          ...(req.startTime ? { since: timestampToDate(req.startTime, "start_time") } : {}),
          ...(req.endTime ? { until: timestampToDate(req.endTime, "end_time") } : {}),
          ...(req.pageToken ? { beforeId: req.pageToken } : {}),
        },
        limit,
        actors,
      );
      return {
        events: events.map((e) => ({
          id: e.id,
          time: timestampFromDate(e.time),
          requestId: e.requestId,
          actorKeyId: e.actorKeyId ?? "",
          action: e.action,
          target: e.target,
          outcome: e.outcome,
          details: Object.fromEntries(Object.entries(e.details).map(([k, v]) => [k, String(v)])),
        })),
        nextPageToken: next,
      };
    },

    async getSpend(req, context) {
      const { principal } = await admit(context, "usage.read", "spend");
      // A key reads the spend within its reach only: its team (unless it reaches all), workloads, models.
      const team = reachesAllTeams(principal) ? undefined : (principal.team ?? "");
      const rows = await deps.ledger.spend(spendQueryOf(req, team, spendReach(principal)));
      return {
        rows: rows.map((r) => ({
          group: Object.fromEntries(Object.entries(r.group).map(([k, v]) => [k, v ?? ""])),
          requests: BigInt(r.requests),
          inputTokens: BigInt(r.inputTokens),
          outputTokens: BigInt(r.outputTokens),
          costMicroUsd: BigInt(r.costMicroUsd),
          cacheReadTokens: BigInt(r.cacheReadTokens),
          cacheWriteTokens: BigInt(r.cacheWriteTokens),
          reasoningTokens: BigInt(r.reasoningTokens),
          audioInputTokens: BigInt(r.audioInputTokens),
          imageInputTokens: BigInt(r.imageInputTokens),
          cachedRequests: BigInt(r.cachedRequests),
        })),
      };
    },
  };
}

function keyInfo(k: ApiKeyRecord) {
  return {
    id: k.id,
    prefix: k.prefix,
    name: k.name,
    team: k.team ?? "",
    roles: k.roles,
    workloads: k.workloads,
    models: k.models,
    createTime: timestampFromDate(k.createdAt),
    createdBy: k.createdBy ?? "",
    ...(k.expiresAt ? { expireTime: timestampFromDate(k.expiresAt) } : {}),
    ...(k.revokedAt ? { revokeTime: timestampFromDate(k.revokedAt) } : {}),
  };
}
