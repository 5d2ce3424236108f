import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  type CelContentKind,
  type CelFacts,
  type CelRuleSpec,
  compileCelRules,
} from "../../src/policy/cel-rules.ts";

const facts = (over: Partial<CelFacts> = {}): CelFacts => ({
  key: "key_1",
  team: "",
  roles: [],
  workload: "chat",
  model: "gpt-4o",
  operation: "generate",
  input_tokens: 10,
  max_tokens: 0,
  content_kinds: ["text"],
  tools: [],
  stream: false,
  hour: 12,
  weekday: 3,
  metadata: {},
  end_user: "",
  ...over,
});

const refusal = (specs: CelRuleSpec[]): string => {
  try {
    compileCelRules(specs, "policy.rules");
  } catch (e) {
    assert.ok(e instanceof Error);
    return e.message;
  }
  assert.fail("compileCelRules accepted it");
};
const when = (expression: string): CelRuleSpec[] => [
  { name: "ok", when: "true", action: { deny: "never" } },
  { name: "r", when: expression, action: { deny: "no" } },
];

test("a deny rule matches team x on model y only", () => {
  const rules = compileCelRules(
    [{ name: "x-no-y", when: "team == 'x' && model == 'y'", action: { deny: "model y is not for team x" } }],
    "policy.rules",
  );
  assert.deepEqual(rules.evaluate(facts({ team: "x", model: "y" })), {
    deny: { rule: "x-no-y", message: "model y is not for team x" },
    requireGuardrails: [],
    errors: [],
  });
  for (const other of [facts({ team: "x", model: "z" }), facts({ team: "w", model: "y" }), facts()]) {
    assert.deepEqual(rules.evaluate(other), { requireGuardrails: [], errors: [] });
  }
});

test("the first matching deny wins; later rules still apply their actions", () => {
  const rules = compileCelRules(
    [
      { name: "first", when: "true", action: { deny: "one" } },
      { name: "second", when: "true", action: { deny: "two" } },
      { name: "guard", when: "true", action: { requireGuardrail: "pii" } },
    ],
    "r",
  );
  const d = rules.evaluate(facts());
  assert.deepEqual(d.deny, { rule: "first", message: "one" });
  assert.deepEqual(d.requireGuardrails, ["pii"]);
});

test("cap rules: the smallest matching cap wins; non-matching caps are ignored", () => {
  const rules = compileCelRules(
    [
      { name: "big-input", when: "input_tokens > 1000", action: { capMaxTokens: 2048 } },
      { name: "night", when: "hour >= 22", action: { capMaxTokens: 512 } },
      { name: "embed", when: "operation == 'embed'", action: { capMaxTokens: 1 } },
    ],
    "r",
  );
  assert.equal(rules.evaluate(facts({ input_tokens: 5000, hour: 23 })).capMaxTokens, 512);
  assert.equal(rules.evaluate(facts({ input_tokens: 5000, hour: 3 })).capMaxTokens, 2048);
  assert.equal(rules.evaluate(facts({ input_tokens: 5, hour: 3 })).capMaxTokens, undefined);
  assert.equal("capMaxTokens" in rules.evaluate(facts()), false);
});

test("guardrails are collected in order without duplicates; the first matching variant wins", () => {
  const rules = compileCelRules(
    [
      { name: "images", when: "'image' in content_kinds", action: { requireGuardrail: "nsfw" } },
      { name: "tools", when: "size(tools) > 0", action: { requireGuardrail: "prompt-injection" } },
      {
        name: "images-again",
        when: "content_kinds.exists(k, k == 'image')",
        action: { requireGuardrail: "nsfw" },
      },
      { name: "gold", when: "metadata.tier == 'gold'", action: { variant: "fast" } },
      { name: "all", when: "true", action: { variant: "default" } },
      { name: "off", when: "false", action: { requireGuardrail: "never" } },
    ],
    "r",
  );
  const d = rules.evaluate(
    facts({ content_kinds: ["text", "image"], tools: ["search"], metadata: { tier: "gold" } }),
  );
  assert.deepEqual(d.requireGuardrails, ["nsfw", "prompt-injection"]);
  assert.equal(d.variant, "fast");
  assert.equal(rules.evaluate(facts({ metadata: { tier: "gold" } })).variant, "fast");
  // No tier key: `gold` fails at run time (not matched, reported), the catch-all still picks a variant.
  const plain = rules.evaluate(facts());
  assert.equal(plain.variant, "default");
  assert.deepEqual(plain.requireGuardrails, []);
  assert.deepEqual(plain.errors, ["gold"]);
});

test("invalid expressions are refused at compile time, naming the config path and the reason", () => {
  const cases: [string, RegExp][] = [
    ["team == 'x' &&", /does not parse/],
    ["1 +", /does not parse/],
    ["tenant == 'x'", /undeclared reference to 'tenant'/],
    ["roles.exists(r, s == 'a')", /undeclared reference to 's'/],
    ["lookup(model)", /undeclared reference to function 'lookup'/],
    ["1 + 2", /must be a boolean expression, but its type is 'int'/],
    ["model", /type is 'string'/],
    ["tools.map(t, t)", /type is 'list\(dyn\)'/],
    ["hour > 1 ? 1 : 2", /type is 'int'/],
    ["model > 3", /no matching overload for '_>_' applied to '\(string, int\)'/],
    ["metadata['n'] > 1", /no matching overload/],
    ["size(hour) == 1", /no matching overload for 'size'/],
    ["model.matches('gpt-(4')", /not a valid RE2 regular expression/],
    ["model.matches('(a)\\\\1')", /not a valid RE2/], // backreferences: RE2 has none
    ["hour.value == 1", /does not support field selection/],
    ["", /must be a non-empty CEL expression/],
  ];
  for (const [expression, why] of cases) {
    const message = refusal(when(expression));
    assert.ok(message.startsWith("policy.rules[1].when: "), `${expression}: ${message}`);
    assert.match(message, why, expression);
  }
});

test("a refusal does not echo a huge expression", () => {
  const long = `model == '${"x".repeat(3000)}`; // unterminated string near the 4 KiB limit
  const message = refusal(when(long));
  assert.ok(message.startsWith("policy.rules[1].when: does not parse"));
  assert.ok(message.length < 300, `${message.length} characters`);
  const tooLong = `model == '${"x".repeat(5000)}'`;
  const over = refusal(when(tooLong));
  assert.match(over, /^policy\.rules\[1\]\.when: expression is 5011 characters, over the 4096 limit$/);
});

test("realistic expressions compile", () => {
  const ok = [
    "'admin' in roles && !stream",
    "has(metadata.tier) && metadata.tier in ['gold', 'platinum']",
    "'tier' in metadata",
    "tools.all(t, t.startsWith('mcp_')) && tools.exists_one(t, t == 'mcp_search')",
    "tools.filter(t, t.size() > 3).size() >= 2",
    "model.lowerAscii().matches('^gpt-[0-9]')",
    "model.split('/')[0] == 'openai'",
    "int(metadata['priority']) > 3",
    "weekday in [0, 6] || (hour < 8 || hour >= 20)",
    "max_tokens == 0 || max_tokens > 4096",
    "type(input_tokens) == int",
    "end_user != '' && operation != 'embed'",
    "metadata.exists(k, k.startsWith('x-'))",
  ];
  for (const expression of ok) assert.equal(compileCelRules(when(expression), "r").size, 2, expression);
});

test("actions and names are validated", () => {
  const rule = (action: unknown, name = "r"): CelRuleSpec[] => [
    { name, when: "true", action: action as CelRuleSpec["action"] },
  ];
  for (const cap of [0, -1, 1.5, Number.NaN, "10", 2 ** 60]) {
    assert.match(refusal(rule({ capMaxTokens: cap })), /^policy\.rules\[0\]\.action\.capMaxTokens: /);
  }
  assert.match(refusal(rule({ deny: "" })), /^policy\.rules\[0\]\.action\.deny: must be a non-empty message/);
  assert.match(refusal(rule({ requireGuardrail: " " })), /action\.requireGuardrail: must be a non-empty/);
  assert.match(refusal(rule({ variant: 7 })), /action\.variant: must be a non-empty/);
  assert.match(refusal(rule({ deny: "a", variant: "b" })), /action: must have exactly one of/);
  assert.match(refusal(rule({ block: "a" })), /action: must have exactly one of/);
  assert.match(refusal(rule(null)), /action: must be an object/);
  assert.match(refusal(rule({ deny: "a" }, "")), /^policy\.rules\[0\]\.name: must be a non-empty/);
  const dup: CelRuleSpec[] = [
    { name: "same", when: "true", action: { deny: "a" } },
    { name: "same", when: "false", action: { deny: "b" } },
  ];
  assert.match(refusal(dup), /^policy\.rules\[1\]\.name: duplicate rule name 'same'/);
});

test("a run-time error is 'not matched' and reported by rule name only", () => {
  const rules = compileCelRules(
    [
      { name: "missing-key", when: "metadata['secret-header'] == 'x'", action: { deny: "a" } },
      { name: "overflow", when: "input_tokens + 9223372036854775807 > 0", action: { deny: "b" } },
      { name: "bad-regex", when: "model.matches(metadata['re'])", action: { deny: "c" } },
      { name: "index", when: "roles[3] == 'admin'", action: { deny: "d" } },
      { name: "fine", when: "true", action: { variant: "v" } },
    ],
    "r",
  );
  const d = rules.evaluate(facts({ input_tokens: 1, metadata: { re: "(" } }));
  assert.equal(d.deny, undefined);
  assert.deepEqual(d.errors, ["missing-key", "overflow", "bad-regex", "index"]);
  assert.equal(d.variant, "v");
});

test("int facts: fractions truncate, huge values saturate, NaN fails only the rules that read it", () => {
  const rules = compileCelRules(
    [
      { name: "huge", when: "input_tokens > 100000", action: { deny: "too big" } },
      { name: "night", when: "hour >= 22", action: { capMaxTokens: 10 } },
    ],
    "r",
  );
  assert.equal(rules.evaluate(facts({ input_tokens: 1e30 })).deny?.rule, "huge");
  assert.equal(rules.evaluate(facts({ input_tokens: Number.POSITIVE_INFINITY })).deny?.rule, "huge");
  assert.equal(rules.evaluate(facts({ input_tokens: 100000.9 })).deny, undefined);
  assert.equal(rules.evaluate(facts({ hour: 21.99 })).capMaxTokens, undefined);
  const nan = rules.evaluate(facts({ input_tokens: Number.NaN, hour: 23 }));
  assert.deepEqual(nan.errors, ["huge"]);
  assert.equal(nan.capMaxTokens, 10);
});

test("facts of the wrong shape do not throw: every rule is reported", () => {
  const rules = compileCelRules(when("model == 'x'"), "r");
  const broken = { ...facts(), metadata: null } as unknown as CelFacts;
  assert.deepEqual(rules.evaluate(broken), { requireGuardrails: [], errors: ["ok", "r"] });
});

const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.constantFrom("", "admin", "gold", "gpt-4o"),
);
const anyInt = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, 1000, 1001, 22, Number.MAX_SAFE_INTEGER, 2 ** 63, -(2 ** 64), Number.NaN),
  fc.bigInt().map(Number),
);
const arbitraryFacts: fc.Arbitrary<CelFacts> = fc.record({
  key: anyString,
  team: anyString,
  roles: fc.array(anyString, { maxLength: 4 }),
  workload: anyString,
  model: anyString,
  operation: fc.constantFrom("generate", "generate_stream", "embed"),
  input_tokens: anyInt,
  max_tokens: anyInt,
  content_kinds: fc.array(
    fc.constantFrom<CelContentKind>("text", "image", "audio", "document", "tool_result"),
  ),
  tools: fc.array(anyString, { maxLength: 4 }),
  stream: fc.boolean(),
  hour: anyInt,
  weekday: anyInt,
  metadata: fc.dictionary(fc.oneof(anyString, fc.constant("tier")), anyString, { maxKeys: 4 }),
  end_user: anyString,
});

test("property: evaluate never throws, and agrees with a plain-JS reading of the rules", () => {
  const rules = compileCelRules(
    [
      { name: "admin", when: "'admin' in roles", action: { deny: "admins use the console" } },
      { name: "gold", when: "metadata['tier'] == 'gold'", action: { variant: "fast" } },
      {
        name: "big-gpt",
        when: "input_tokens > 1000 && model.startsWith('gpt-')",
        action: { capMaxTokens: 256 },
      },
      { name: "tools", when: "size(tools) > 0", action: { requireGuardrail: "tool-audit" } },
      { name: "late", when: "hour >= 22", action: { capMaxTokens: 128 } },
    ],
    "policy.rules",
  );
  // CEL ints after binding: NaN is an error (undefined here); the rest truncate (saturation keeps order).
  const int = (n: number): number | undefined => (Number.isNaN(n) ? undefined : Math.trunc(n));
  fc.assert(
    fc.property(arbitraryFacts, (f) => {
      const d = rules.evaluate(f);
      const errors: string[] = [];
      const tier = Object.hasOwn(f.metadata, "tier") ? f.metadata.tier : undefined;
      if (tier === undefined) errors.push("gold");
      const tokens = int(f.input_tokens);
      const gpt = f.model.startsWith("gpt-");
      // CEL's && is false if either side is false, even when the other side is an error.
      if (gpt && tokens === undefined) errors.push("big-gpt");
      const bigGpt = gpt && tokens !== undefined && tokens > 1000;
      const hour = int(f.hour);
      if (hour === undefined) errors.push("late");
      const late = hour !== undefined && hour >= 22;
      const caps = [bigGpt ? 256 : undefined, late ? 128 : undefined].filter((c) => c !== undefined);

      assert.deepEqual(d.errors, errors);
      assert.deepEqual(
        d.deny,
        f.roles.includes("admin") ? { rule: "admin", message: "admins use the console" } : undefined,
      );
      assert.equal(d.variant, tier === "gold" ? "fast" : undefined);
      assert.deepEqual(d.requireGuardrails, f.tools.length > 0 ? ["tool-audit"] : []);
      assert.equal(d.capMaxTokens, caps.length === 0 ? undefined : Math.min(...caps));
    }),
    { numRuns: 500 },
  );
});

test("a dyn-typed rule that yields a non-boolean at run time is an error, not a match", () => {
  const rules = compileCelRules(
    [
      { name: "dyn-true", when: "[true, 1][0]", action: { variant: "a" } },
      { name: "dyn-int", when: "[true, 1][1]", action: { deny: "no" } },
    ],
    "r",
  );
  const d = rules.evaluate(facts());
  assert.equal(d.variant, "a");
  assert.equal(d.deny, undefined);
  assert.deepEqual(d.errors, ["dyn-int"]);
});
