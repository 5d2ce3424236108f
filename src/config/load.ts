import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { checkPolicies } from "./check-policies.ts";
import { ConfigError, formatPath } from "./config-error.ts";
import { expandEnvRefs } from "./env-refs.ts";
import { type Config, configSchema } from "./schema.ts";

export type LoadedConfig = {
  config: Config;
  /** Backends switched off because an optional backend's variable is unset: name → why. */
  disabled: Map<string, string>;
  source: string;
};

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(file, [`cannot read file: ${(error as NodeJS.ErrnoException).code ?? "error"}`]);
  }
  return parseConfig(text, file, env);
}

/** Parses and validates config text; every problem found is reported at once, each with its path. */
export function parseConfig(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map(
        (e) => `YAML line ${(e.linePos?.[0]?.line ?? 0).toString()}: ${e.message.split("\n")[0]}`,
      ),
    );
  }
  const expanded = expandEnvRefs(doc.toJS() ?? {}, env);
  const problems = [...expanded.problems];

  const raw = expanded.value as { backends?: Record<string, { optional?: unknown }> };
  const disabled = new Map<string, string>();
  for (const { path, variable } of expanded.missing) {
    const backend = path[0] === "backends" && typeof path[1] === "string" ? path[1] : undefined;
    if (backend !== undefined && raw.backends?.[backend]?.optional === true) {
      disabled.set(backend, `environment variable ${variable} is not set`);
    } else {
      problems.push(`${formatPath(path)}: environment variable ${variable} is not set`);
    }
  }

  const parsed = configSchema.safeParse(expanded.value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${formatPath(issue.path)}: ${issue.message}`);
    throw new ConfigError(source, problems);
  }
  problems.push(...checkReferences(parsed.data), ...checkPolicies(parsed.data));
  if (problems.length > 0) throw new ConfigError(source, problems);
  return { config: parsed.data, disabled, source };
}

/** Cross-field rules zod cannot express: targets name known backends, model names are unambiguous. */
function checkReferences(config: Config): string[] {
  const problems: string[] = [];
  const known = Object.keys(config.backends);
  const checkTargets = (at: string, targets: Config["routes"][string]["targets"]) => {
    const names = new Map<string, number>();
    targets.forEach((target, i) => {
      if (!Object.hasOwn(config.backends, target.backend)) {
        problems.push(
          `${at}[${i}].backend: unknown backend "${target.backend}" (known: ${known.join(", ") || "none"})`,
        );
      }
      if (target.alias !== undefined) {
        const first = names.get(target.alias);
        if (first !== undefined && targets[first]?.model !== target.model) {
          problems.push(
            `${at}[${i}].alias: "${target.alias}" already names ${at}[${first}] with another model`,
          );
        }
        names.set(target.alias, i);
      }
    });
  };
  for (const [workload, route] of Object.entries(config.routes)) {
    checkTargets(`routes.${workload}.targets`, route.targets);
    if (route.budgetDowngrade !== undefined && !Object.hasOwn(config.routes, route.budgetDowngrade)) {
      problems.push(`routes.${workload}.budgetDowngrade: unknown workload "${route.budgetDowngrade}"`);
    }
    route.variants.forEach((v, i) => {
      checkTargets(`routes.${workload}.variants[${i}].targets`, v.targets);
    });
  }
  return problems;
}
