import {
  type CelError,
  type CelInput,
  CelScalar,
  type CelType,
  celEnv,
  celError,
  celList,
  celMap,
  listType,
  mapType,
  parse,
  plan,
} from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { checkCelExpr } from "./cel-check.ts";

/**
 * CEL policy rules (issue #17): `when` is a boolean CEL expression over the request's facts; a matching
 * rule denies, caps max_tokens, requires a guardrail or picks a variant. Expressions are parsed, type
 * checked (cel-check.ts) and planned once per config generation; a request only binds its facts and
 * runs the planned closures.
 *
 * Cost, measured once on this machine (2 shared cores, Node 24) with 5 realistic rules
 * (`'admin' in roles`, a metadata lookup, `input_tokens > 1000 && model.startsWith('gpt-')`,
 * `size(tools) > 0`, `hour >= 22`): about 6 µs per `evaluate` (5.7 µs; binding the facts is 0.4 µs of
 * it, the rest is the library's per-call activation and evaluation; other helpers shared the cores).
 */

export type CelRuleAction =
  | { deny: string }
  | { capMaxTokens: number }
  | { requireGuardrail: string }
  | { variant: string };

export type CelRuleSpec = { name: string; when: string; action: CelRuleAction };

export type CelOperation = "generate" | "generate_stream" | "embed";
export type CelContentKind = "text" | "image" | "audio" | "document" | "tool_result";

/** What a rule can see. Field names are the CEL variable names. Integers are JS numbers here. */
export type CelFacts = {
  key: string;
  /** "" when the key has no team. */
  team: string;
  roles: readonly string[];
  workload: string;
  /** The requested model. */
  model: string;
  operation: CelOperation;
  /** An estimate. */
  input_tokens: number;
  /** 0 when the request leaves it unset. */
  max_tokens: number;
  content_kinds: readonly CelContentKind[];
  /** Tool names. */
  tools: readonly string[];
  stream: boolean;
  /** 0–23, UTC. */
  hour: number;
  /** 0–6, 0 = Sunday, UTC. */
  weekday: number;
  metadata: Readonly<Record<string, string>>;
  end_user: string;
};

export type CelDecision = {
  /** The first matching deny rule, in config order. */
  deny?: { rule: string; message: string };
  /** The smallest cap among the matching cap rules. */
  capMaxTokens?: number;
  /** Matching requireGuardrail rules, in config order, without duplicates. */
  requireGuardrails: string[];
  /** The first matching variant rule. */
  variant?: string;
  /** Names of rules whose expression failed at run time (missing map key, overflow…): not matched. */
  errors: string[];
};

export type CompiledCelRules = {
  readonly size: number;
  evaluate(facts: CelFacts): CelDecision;
};

const STRING = CelScalar.STRING;
const INT = CelScalar.INT;

/** The declared variables; the checker refuses any other identifier. */
export const CEL_VARIABLES = {
  key: STRING,
  team: STRING,
  roles: listType(STRING),
  workload: STRING,
  model: STRING,
  operation: STRING,
  input_tokens: INT,
  max_tokens: INT,
  content_kinds: listType(STRING),
  tools: listType(STRING),
  stream: CelScalar.BOOL,
  hour: INT,
  weekday: INT,
  metadata: mapType(STRING, STRING),
  end_user: STRING,
} as const;

type Bindings = Record<keyof typeof CEL_VARIABLES, CelInput | CelError>;
type Action =
  | { kind: "deny"; message: string }
  | { kind: "cap"; tokens: number }
  | { kind: "guardrail"; name: string }
  | { kind: "variant"; name: string };
type CompiledRule = { name: string; action: Action; run: (bindings: Bindings) => unknown };

// One env for every rule: the library caches its planner per env. The strings extension adds
// lowerAscii, split, … which rules over model names and metadata want.
const ENV = celEnv({ variables: CEL_VARIABLES, funcs: strings });
const VARIABLE_TYPES: ReadonlyMap<string, CelType> = new Map(Object.entries(CEL_VARIABLES));

/** A config expression longer than this is refused: 4 KiB is far above any sane rule. */
const MAX_EXPRESSION_CHARS = 4096;
/** Library reasons are cut to this many characters: a parse error can list every expected token. */
const MAX_REASON_CHARS = 200;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

export function compileCelRules(specs: readonly CelRuleSpec[], path: string): CompiledCelRules {
  if (!Array.isArray(specs)) throw new Error(`${path}: must be a list of rules`);
  const seen = new Set<string>();
  const rules = specs.map((spec, i) => {
    const at = `${path}[${i}]`;
    const rule = compileRule(spec, at);
    if (seen.has(rule.name)) throw new Error(`${at}.name: duplicate rule name '${bound(rule.name)}'`);
    seen.add(rule.name);
    return rule;
  });
  return { size: rules.length, evaluate: (facts) => evaluateRules(rules, facts) };
}

function compileRule(spec: CelRuleSpec, at: string): CompiledRule {
  if (typeof spec !== "object" || spec === null) throw new Error(`${at}: must be an object`);
  const name = spec.name;
  if (typeof name !== "string" || name.trim() === "")
    throw new Error(`${at}.name: must be a non-empty string`);
  return {
    name,
    action: compileAction(spec.action, `${at}.action`),
    run: compileWhen(spec.when, `${at}.when`),
  };
}

function compileWhen(when: unknown, at: string): (bindings: Bindings) => unknown {
  if (typeof when !== "string" || when.trim() === "")
    throw new Error(`${at}: must be a non-empty CEL expression`);
  if (when.length > MAX_EXPRESSION_CHARS) {
    throw new Error(`${at}: expression is ${when.length} characters, over the ${MAX_EXPRESSION_CHARS} limit`);
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(when);
  } catch (e) {
    throw new Error(`${at}: does not parse: ${reason(e)}`);
  }
  let type: CelType;
  try {
    type = checkCelExpr(ENV, VARIABLE_TYPES, parsed.expr);
  } catch (e) {
    throw new Error(`${at}: ${reason(e)}`);
  }
  if (type.kind !== "scalar" || (type.scalar !== "bool" && type.scalar !== "dyn")) {
    throw new Error(`${at}: must be a boolean expression, but its type is '${type}'`);
  }
  try {
    return plan(ENV, parsed) as (bindings: Bindings) => unknown;
  } catch (e) {
    throw new Error(`${at}: ${reason(e)}`);
  }
}

function compileAction(action: unknown, at: string): Action {
  if (typeof action !== "object" || action === null) throw new Error(`${at}: must be an object`);
  const keys = Object.keys(action);
  const only = keys.length === 1 ? keys[0] : undefined;
  const value: unknown = only === undefined ? undefined : (action as Record<string, unknown>)[only];
  const text = (what: string): string => {
    if (typeof value !== "string" || value.trim() === "") throw new Error(`${at}.${only}: ${what}`);
    return value;
  };
  switch (only) {
    case "deny":
      return { kind: "deny", message: text("must be a non-empty message") };
    case "capMaxTokens":
      if (!Number.isSafeInteger(value) || (value as number) <= 0) {
        throw new Error(`${at}.capMaxTokens: must be a positive integer`);
      }
      return { kind: "cap", tokens: value as number };
    case "requireGuardrail":
      return { kind: "guardrail", name: text("must be a non-empty guardrail name") };
    case "variant":
      return { kind: "variant", name: text("must be a non-empty variant name") };
    default:
      throw new Error(`${at}: must have exactly one of deny, capMaxTokens, requireGuardrail, variant`);
  }
}

function evaluateRules(rules: readonly CompiledRule[], facts: CelFacts): CelDecision {
  const decision: CelDecision = { requireGuardrails: [], errors: [] };
  let bindings: Bindings | undefined;
  try {
    bindings = bind(facts);
  } catch {
    // Facts that are not even the right shape: no rule can be judged, so every rule is an error.
  }
  for (const rule of rules) {
    let matched: unknown;
    try {
      // plan() already turns evaluation errors into a CelError value; the catch is for the library's bugs.
      matched = bindings === undefined ? undefined : rule.run(bindings);
    } catch {
      matched = undefined;
    }
    if (matched === false) continue;
    if (matched !== true) {
      decision.errors.push(rule.name);
      continue;
    }
    const action = rule.action;
    switch (action.kind) {
      case "deny":
        decision.deny ??= { rule: rule.name, message: action.message };
        break;
      case "cap":
        decision.capMaxTokens = Math.min(decision.capMaxTokens ?? action.tokens, action.tokens);
        break;
      case "guardrail":
        if (!decision.requireGuardrails.includes(action.name)) decision.requireGuardrails.push(action.name);
        break;
      case "variant":
        decision.variant ??= action.name;
        break;
    }
  }
  return decision;
}

/**
 * Facts → CEL values, once per evaluation and shared by every rule. Always the same object shape;
 * lists and the map are wrapped here so the library does not re-wrap them on each variable access.
 */
function bind(f: CelFacts): Bindings {
  return {
    key: f.key,
    team: f.team,
    roles: celList(f.roles),
    workload: f.workload,
    model: f.model,
    operation: f.operation,
    input_tokens: toInt(f.input_tokens),
    max_tokens: toInt(f.max_tokens),
    content_kinds: celList(f.content_kinds),
    tools: celList(f.tools),
    stream: f.stream,
    hour: toInt(f.hour),
    weekday: toInt(f.weekday),
    metadata: celMap(new Map(Object.entries(f.metadata))),
    end_user: f.end_user,
  };
}

/**
 * CEL ints are bigints in int64. A fractional estimate is truncated; a value beyond int64 saturates
 * (so `input_tokens > 100000` still denies a 1e30 estimate); NaN binds an error, so only the rules that
 * read it fail.
 */
function toInt(n: number): CelInput | CelError {
  if (typeof n === "bigint") return n > INT64_MAX ? INT64_MAX : n < INT64_MIN ? INT64_MIN : n;
  if (typeof n !== "number" || Number.isNaN(n)) return celError("integer fact is not a number");
  if (n >= 2 ** 63) return INT64_MAX;
  if (n < -(2 ** 63)) return INT64_MIN;
  return BigInt(Math.trunc(n));
}

function reason(e: unknown): string {
  return bound(e instanceof Error ? e.message : String(e));
}

function bound(text: string): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > MAX_REASON_CHARS ? `${flat.slice(0, MAX_REASON_CHARS)}…` : flat;
}
