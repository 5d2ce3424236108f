import { formatPath } from "./config-error.ts";

const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** Keys whose values are secrets: they must be a whole `${VAR}` reference, resolved only at use. */
export const SECRET_KEYS = new Set(["apiKey"]);

export type MissingVar = { path: (string | number)[]; variable: string };

export type EnvExpansion = { value: unknown; missing: MissingVar[]; problems: string[] };

/**
 * Replaces `${VAR}` in every non-secret string of the raw YAML tree. Secret
 * keys keep their reference (so the loaded config never holds a secret) but
 * are checked: an inline secret is refused, a missing variable reported.
 */
export function expandEnvRefs(raw: unknown, env: NodeJS.ProcessEnv): EnvExpansion {
  const missing: MissingVar[] = [];
  const problems: string[] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === "string") {
      const key = path[path.length - 1];
      if (typeof key === "string" && SECRET_KEYS.has(key)) {
        const whole = WHOLE_REF.exec(node);
        if (!whole) {
          problems.push(
            `${formatPath(path)}: secrets must be given by reference to an environment variable, e.g. \${OPENAI_API_KEY}`,
          );
        } else if (!env[whole[1]!]) {
          missing.push({ path, variable: whole[1]! });
        }
        return node;
      }
      return node.replace(REF, (_all, name: string) => {
        const value = env[name];
        if (value === undefined) {
          missing.push({ path, variable: name });
          return "";
        }
        return value;
      });
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node !== null && typeof node === "object") {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return node;
  };
  return { value: walk(raw, []), missing, problems };
}

/** The variable name of a whole `${VAR}` reference. */
export function refName(ref: string): string | undefined {
  return WHOLE_REF.exec(ref)?.[1];
}
