/** What a config name (backend, route, guardrail, rule…) may be: safe as a metric label and a path. */
export const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const nameMessage =
  "use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit";
