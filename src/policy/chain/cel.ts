import type { RuleConfig } from "../../config/policy-schema.ts";
import { GatewayError } from "../../errors/gateway-error.ts";
import type { EmbeddingRequest, GenerationRequest } from "../../pipeline/pipeline.ts";
import type { Logger } from "../../telemetry/logger.ts";
import { type CelFacts, type CompiledCelRules, compileCelRules } from "../cel-rules.ts";
import type { Exchange, Policy } from "./policy.ts";
import { contentKindsOf } from "./request-content.ts";

/**
 * CEL policy rules (cel-rules.ts) of a route: deny (policy_denied, with the rule's message), cap
 * max_tokens (the request and its estimate are rewritten before limits and budgets reserve), require
 * a guardrail (the guardrails later in the chain read `required`), or pick a route variant. Compiled
 * once per config generation; an expression that fails at run time counts as not matched (logged by
 * rule name).
 */
export function celRules(rules: readonly RuleConfig[], logger: Logger): Policy {
  const compiled: CompiledCelRules = compileCelRules(
    rules.map((r) => ({ name: r.name, when: r.when, action: r.action })),
    "policies.rules",
  );
  return {
    name: "rules",
    admit(x) {
      const decision = compiled.evaluate(celFactsOf(x));
      const actions = x.ctx.decision.policyActions;
      if (decision.errors.length > 0)
        logger.warn(
          { requestId: x.ctx.id, rules: decision.errors },
          "policy rules failed to evaluate (not matched)",
        );
      if (decision.deny) {
        actions.push({ policy: "rules", rule: decision.deny.rule, action: "denied", stage: "request" });
        throw new GatewayError(
          "policy_denied",
          `refused by policy rule ${decision.deny.rule}: ${decision.deny.message}`,
        );
      }
      const cap = decision.capMaxTokens;
      if (cap !== undefined && x.kind === "generate") {
        const request = x.request as GenerationRequest;
        const asked = request.sampling.maxOutputTokens;
        if (asked === undefined || asked > cap) {
          x.request = { ...request, sampling: { ...request.sampling, maxOutputTokens: cap } };
          x.facts = { ...x.facts, estimate: { ...x.facts.estimate, outputTokens: cap } };
          actions.push({ policy: "rules", rule: `max_tokens<=${cap}`, action: "capped", stage: "request" });
        }
      }
      if (decision.variant !== undefined) x.facts = { ...x.facts, variant: decision.variant };
      if (decision.requireGuardrails.length > 0) {
        x.requiredGuardrails = decision.requireGuardrails;
        for (const name of decision.requireGuardrails)
          actions.push({ policy: "rules", rule: name, action: "required", stage: "request" });
      }
      return undefined;
    },
  };
}

function celFactsOf(x: Exchange): CelFacts {
  const ctx = x.ctx;
  const now = new Date();
  const generation = x.kind === "generate" ? (x.request as GenerationRequest) : undefined;
  return {
    key: ctx.principal?.keyId ?? "",
    team: ctx.principal?.team ?? "",
    roles: ctx.principal?.roles ?? [],
    workload: ctx.workload,
    model: ctx.requestedModel,
    operation: ctx.operation === "list_models" ? "generate" : ctx.operation,
    input_tokens: x.facts.estimate.inputTokens,
    max_tokens: generation?.sampling.maxOutputTokens ?? 0,
    content_kinds: generation ? contentKindsOf(generation.messages) : ["text"],
    tools: generation ? generation.tools.map((t) => t.name) : [],
    stream: ctx.operation === "generate_stream",
    hour: now.getUTCHours(),
    weekday: now.getUTCDay(),
    metadata: (x.request as GenerationRequest | EmbeddingRequest).metadata,
    end_user: ctx.endUserId ?? "",
  };
}
