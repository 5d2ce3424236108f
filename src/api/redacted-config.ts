import type { Config } from "../config/schema.ts";

/**
 * The running config as data for GetConfig, with nothing secret in it: secret
 * fields already hold only their ${VARIABLE} reference (the loader never
 * stores values), and URLs lose any user:password part.
 */
export function redactedConfig(config: Config): unknown {
  return JSON.parse(
    JSON.stringify(config, (_key, value: unknown) => {
      if (typeof value !== "string") return value;
      return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, "$1[redacted]@");
    }),
  );
}
