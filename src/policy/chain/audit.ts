import type { Auditor } from "../auditor.ts";
import type { Policy } from "./policy.ts";

/**
 * The audit trail of what policies did to inference requests: one event per request a guardrail
 * blocked, masked or flagged, or a rule denied or capped — rule ids and actions only, never the
 * matched content. Written in the background at settlement (a slow audit store never delays an
 * answer). Early in the chain, so it settles after the policies it reports on.
 */
export function audit(auditor: Auditor): Policy {
  return {
    name: "audit",
    admit(x) {
      const ctx = x.ctx;
      return {
        settle(outcome) {
          const actions = ctx.decision.policyActions;
          if (actions.length === 0) return;
          const refused = outcome.status === "guardrail_blocked" || outcome.status === "policy_denied";
          auditor.recordSoon({
            requestId: ctx.id,
            actorKeyId: ctx.principal?.keyId ?? null,
            action: refused ? "inference.policy_refused" : "inference.policy_applied",
            target: ctx.workload,
            outcome: refused ? "denied" : "allowed",
            details: {
              status: outcome.status,
              actions: actions.map((a) => `${a.policy}/${a.rule}/${a.action}/${a.stage}`).join(" "),
            },
          });
        },
      };
    },
  };
}
