import type { z } from "zod";
import { invalidParam, type OpenAIRequestError } from "./errors.ts";

/** Fields OpenAI has and the facade refuses, with what to do instead (instead of "unrecognized"). */
const UNSUPPORTED: Record<string, string> = {
  functions: "is deprecated and not supported: use tools",
  function_call: "is deprecated and not supported: use tool_choice",
  audio: "is not supported (text output only)",
  prediction: "is not supported",
  prompt_cache_options: "is not supported: mark breakpoints with prompt_cache_breakpoint on content parts",
  web_search_options: "is not supported",
};

/**
 * Validates a request body; the first problem becomes a 400 whose message and
 * `param` name the field by its path, e.g. `messages[2].content: expected
 * string or array of content parts`.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body, { error: describe });
  if (result.success) return result.data;
  throw toRequestError(result.error.issues[0]);
}

function toRequestError(issue: z.core.$ZodIssue | undefined): OpenAIRequestError {
  if (!issue) return invalidParam("body", "invalid request");
  const path = pathOf(issue.path);
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    const param = path ? `${path}.${key}` : key;
    const why = path === "" ? UNSUPPORTED[key] : undefined;
    return invalidParam(param, why ?? `Unrecognized request argument supplied: ${key}`);
  }
  return invalidParam(path || "body", issue.message);
}

/** `["messages", 2, "content"]` → `messages[2].content`. */
export function pathOf(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Messages for issues whose schema gives none of its own. */
function describe(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${typeName(issue.input)}`;
    case "invalid_value":
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(" or ")}`;
    case "too_small":
      return issue.origin === "array"
        ? `must have at least ${issue.minimum} item(s)`
        : issue.origin === "string"
          ? "must not be empty"
          : `must be ${issue.inclusive ? "at least" : "greater than"} ${issue.minimum}`;
    case "too_big":
      return issue.origin === "array"
        ? `must have at most ${issue.maximum} item(s)`
        : `must be ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}`;
    default:
      return undefined;
  }
}

const EXPECTED: Record<string, string> = { int: "an integer", object: "an object", array: "an array" };

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "number" && !Number.isInteger(value)) return "a fraction";
  return typeof value;
}
