import { compileDetector } from "../guardrails/detectors.ts";
import { compileCelRules } from "../policy/cel-rules.ts";
import type { Config } from "./schema.ts";

/**
 * The `policies` section as load refuses it: every CEL expression parsed and type-checked, every deny
 * pattern compiled (ReDoS-checked), and every name a rule or guardrail refers to known — each problem
 * with its path, so a bad policy is a config error at load (and a reload keeps the running config).
 */
export function checkPolicies(config: Config): string[] {
  const problems: string[] = [];
  const { guardrails, rules } = config.policies;
  const routes = new Set(Object.keys(config.routes));
  const known = (at: string, names: readonly string[]) => {
    for (const name of names)
      if (name !== "*" && !routes.has(name)) problems.push(`${at}: unknown route "${name}"`);
  };
  const guardrailNames = new Set<string>();
  guardrails.forEach((g, i) => {
    const at = `policies.guardrails[${i}]`;
    if (guardrailNames.has(g.name)) problems.push(`${at}.name: "${g.name}" is used twice`);
    guardrailNames.add(g.name);
    known(`${at}.routes`, g.routes);
    try {
      if (g.deny.length > 0 || g.topics.length > 0)
        compileDetector({
          kinds: g.detect,
          deny: g.deny.map(({ name, pattern }) => ({ name, pattern })),
          topics: g.topics,
        });
    } catch (error) {
      problems.push(`${at}.deny: ${error instanceof Error ? error.message : "invalid"}`);
    }
  });
  const ruleNames = new Set<string>();
  rules.forEach((r, i) => {
    const at = `policies.rules[${i}]`;
    if (ruleNames.has(r.name)) problems.push(`${at}.name: "${r.name}" is used twice`);
    ruleNames.add(r.name);
    known(`${at}.routes`, r.routes);
    try {
      compileCelRules([{ name: r.name, when: r.when, action: r.action }], `policies.rules[${i}]`);
    } catch (error) {
      // compileCelRules names the path itself (`policies.rules[i]...` with index 0 of its one-rule list).
      const message = error instanceof Error ? error.message : "invalid";
      problems.push(message.replace(`policies.rules[${i}][0]`, at));
    }
    const action = r.action;
    if ("requireGuardrail" in action && !guardrailNames.has(action.requireGuardrail))
      problems.push(`${at}.action.requireGuardrail: unknown guardrail "${action.requireGuardrail}"`);
    if ("variant" in action) {
      const exists = Object.values(config.routes).some((route) =>
        route.variants.some((v) => v.name === action.variant),
      );
      if (!exists) problems.push(`${at}.action.variant: no route has a variant "${action.variant}"`);
    }
  });
  return problems;
}
