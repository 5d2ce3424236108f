import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  compileDetector,
  type DetectorKind,
  ibanValid,
  luhnValid,
  maskText,
} from "../../src/guardrails/detectors.ts";

const ALL: DetectorKind[] = ["email", "phone", "payment_card", "iban", "secret"];
const all = compileDetector({ kinds: ALL });
const rulesIn = (text: string, d = all) => d.find(text).map((f) => f.rule);
const spans = (text: string, d = all) => d.find(text).map((f) => text.slice(f.start, f.end));

// Secret-shaped test values are assembled at run time so no scanner mistakes this file for a leak.
const rep = (s: string, n: number) => s.repeat(n);
const OPENAI = `sk-${"proj-"}${rep("Ab3_", 12)}xyz`;
const ANTHROPIC = `sk-${"ant-"}api03-${rep("Zq9-", 20)}AA`;
const AWS = `AKIA${"IOSFODNN7EXAMPLE"}`;
const GITHUB = `ghp_${rep("a1B2", 9)}`;
const GITHUB_PAT = `github_pat_${rep("11AB_cd", 12)}`;
const GOOGLE = `AIza${rep("Sy-_9", 7)}`;
const SLACK = `xoxb-${"1234567890-0987654321-"}${rep("aB", 12)}`;
const JWT = `eyJ${"hbGciOiJIUzI1NiJ9"}.eyJ${"zdWIiOiIxMjM0NTY3ODkwIn0"}.${"dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}`;
const PEM = `-----BEGIN RSA PRIVATE KEY-----\n${rep("MIIEowIBAAKCAQEA+/=\n", 5)}-----END RSA PRIVATE KEY-----`;

test("payment cards: Luhn-valid 13–19 digits with spaces or dashes; Luhn-invalid, years and order ids are not", () => {
  for (const card of [
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "378282246310005",
    "4222222222222",
    "6011111111111117",
  ]) {
    assert.deepEqual(spans(`pay with ${card} today`), [card], card);
    assert.deepEqual(rulesIn(`pay with ${card}.`), ["pii.payment_card"]);
  }
  assert.equal(luhnValid("4111111111111112"), false);
  for (const neg of [
    "4111 1111 1111 1112", // Luhn-invalid 16 digits
    "1234567890123456",
    "0000 0000 0000 0000", // Luhn-valid, but no issuer uses it
    "in 2026 we",
    "order 2026123456789012 shipped",
    "ref ORD-4111111111111111", // part of an id
    "tracking 41111111111111111111111", // 23 digits: a longer number, not a card
  ])
    assert.deepEqual(rulesIn(neg, compileDetector({ kinds: ["payment_card"] })), [], neg);
  // A card followed by a year still comes out whole.
  assert.deepEqual(spans("4111 1111 1111 1111 2026"), ["4111 1111 1111 1111"]);
  assert.deepEqual(spans("4111 1111 1111 1111 9"), ["4111 1111 1111 1111"]); // longest valid prefix
});

test("IBAN: country code, check digits, mod-97 and the country's length; a wrong check digit is not", () => {
  for (const iban of [
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91ABNA0417164300",
  ])
    assert.deepEqual(spans(`to ${iban} please`), [iban], iban);
  // The country length stops the match before a following capitalised word.
  assert.deepEqual(spans("DE89 3704 0044 0532 0130 00 AND MORE"), ["DE89 3704 0044 0532 0130 00"]);
  assert.equal(ibanValid("DE88370400440532013000"), false);
  for (const neg of [
    "DE88 3704 0044 0532 0130 00",
    "DE89 3704 0044 0532 0130 0",
    "XX89370400440532013000",
    "de89370400440532013000",
  ])
    assert.deepEqual(rulesIn(neg), [], neg);
});

test("e-mail: practical addresses; dots at the edges and bare @ are not", () => {
  for (const mail of ["john.doe+tag@example.co.uk", "a_b%c@sub-domain.example.org", "X@Y.IO"])
    assert.deepEqual(spans(`write to ${mail}, thanks`), [mail], mail);
  assert.deepEqual(spans("mail a@b.com."), ["a@b.com"]);
  for (const neg of ["user@localhost", "@example.com", "a@-bad.com", "a@b..com", "price 5@3.99", "a@b.c"])
    assert.deepEqual(rulesIn(neg), [], neg);
});

test("phone: E.164 and separated national formats; years, prices, 4-digit numbers and plain runs are not", () => {
  for (const phone of [
    "+1 (415) 555-0132",
    "+4930123456",
    "+44 20 7946 0958",
    "(415) 555-0132",
    "415-555-0132",
    "030 1234 5678",
    "020 7946 0958",
  ])
    assert.deepEqual(spans(`call ${phone} now`), [phone], phone);
  const phoneOnly = compileDetector({ kinds: ["phone"] });
  for (const neg of [
    "in 2026",
    "costs $1,299.00",
    "PIN 4921",
    "2026-12-04",
    "1.500.000.000 EUR",
    "order 2026-1234-5678",
    "+12.50 today",
    "+1234567", // 7 digits: below E.164's 8
    "4155550132", // no separators: too ambiguous to call a phone number
    "call 123-456-7890", // area codes never start with 1
    "v1.2.3-4567",
  ])
    assert.deepEqual(rulesIn(neg, phoneOnly), [], neg);
});

test("secrets: each provider format by its own rule; near misses are not", () => {
  const cases: [string, string][] = [
    [OPENAI, "secret.openai_key"],
    [ANTHROPIC, "secret.anthropic_key"],
    [AWS, "secret.aws_access_key"],
    [GITHUB, "secret.github_token"],
    [GITHUB_PAT, "secret.github_token"],
    [GOOGLE, "secret.google_api_key"],
    [SLACK, "secret.slack_token"],
    [JWT, "secret.jwt"],
    [PEM, "secret.private_key"],
  ];
  for (const [value, rule] of cases) {
    const text = `here: ${value} end`;
    assert.deepEqual(
      all.find(text).map((f) => [f.rule, text.slice(f.start, f.end)]),
      [[rule, value]],
      rule,
    );
  }
  const bearer = `Authorization: Bearer ${rep("tok3n.", 5)}`;
  assert.deepEqual(rulesIn(bearer), ["secret.bearer"]);
  assert.equal(maskText(bearer, all.find(bearer)), "Authorization: [REDACTED:secret.bearer]");
  // A key without its footer is masked to the end of the PEM body rather than left half-visible.
  const cut = `${PEM.slice(0, 80)}`;
  assert.deepEqual(spans(`${cut}. Then`), [cut]);
  for (const neg of [
    "task-list sk-short",
    "AKIA1234",
    "ghp_short",
    "the bearer of bad news",
    "eyJhbGciOiJ.only",
  ])
    assert.deepEqual(rulesIn(neg), [], neg);
});

test("deny patterns and topic keywords report deny.<name> and topic.<name>; topics match whole words, any case", () => {
  const d = compileDetector({
    kinds: [],
    deny: [{ name: "project", pattern: "project-[a-z]{3,12}", maxLength: 20 }],
    topics: [{ name: "weapons", keywords: ["rifle", "hand grenade", "c++"] }],
  });
  const text = "project-apollo needs a Rifle, a HAND GRENADE and C++; no rifles, trifle or handgrenade";
  assert.deepEqual(
    d.find(text).map((f) => [f.rule, text.slice(f.start, f.end)]),
    [
      ["deny.project", "project-apollo"],
      ["topic.weapons", "Rifle"],
      ["topic.weapons", "HAND GRENADE"],
      ["topic.weapons", "C++"],
    ],
  );
  assert.equal(d.maxMatchLength, 26); // 2 × "hand grenade" + 2
  assert.deepEqual(rulesIn("ÄRIFLE rifleÄ", d), []); // unicode letters are word chars
});

test("an invalid or nested-quantifier deny pattern throws naming the rule, never the pattern", () => {
  for (const pattern of ["(unclosed[secretword", "(?:secretword+)+", "[z-a]secretword"]) {
    assert.throws(
      () => compileDetector({ kinds: ["email"], deny: [{ name: "acme-codes", pattern }] }),
      (e: unknown) =>
        e instanceof Error && e.message.includes('"acme-codes"') && !e.message.includes("secretword"),
      pattern,
    );
  }
  assert.throws(
    () => compileDetector({ kinds: [], deny: [{ name: "x", pattern: "a", maxLength: 0 }] }),
    /maxLength/,
  );
});

test("findings are sorted, overlaps merged under the first rule; maskText's format is [REDACTED:<rule>]", () => {
  const d = compileDetector({
    kinds: ["email", "payment_card"],
    deny: [
      { name: "corp", pattern: "example\\.com and" },
      { name: "at-start", pattern: "jo[a-z]+@" },
    ],
  });
  const text = "x 4111111111111111 jo@example.com and y";
  const found = d.find(text);
  // The e-mail and both deny rules overlap: one span, the e-mail's rule (earliest start, built-in first).
  assert.deepEqual(found, [
    { rule: "pii.payment_card", start: 2, end: 18 },
    { rule: "pii.email", start: 19, end: 37 },
  ]);
  assert.equal(maskText(text, found), "x [REDACTED:pii.payment_card] [REDACTED:pii.email] y");
  assert.equal(maskText("abc", []), "abc");
});

test("find(text, from) reports only findings from `from`, using earlier text as look-behind", () => {
  const text = "a@b.com 14111111111111111 c@d.com";
  const from = text.indexOf(" 1") + 2; // just inside the digit run: not a card start (digit before)
  assert.deepEqual(spans(text).length, 2);
  assert.deepEqual(
    all.find(text, from).map((f) => text.slice(f.start, f.end)),
    ["c@d.com"],
  );
});

test("maxMatchLength is the longest rule bound; deny rules declare theirs (default 256)", () => {
  assert.equal(compileDetector({ kinds: ["email"] }).maxMatchLength, 129);
  assert.equal(compileDetector({ kinds: ["payment_card", "phone"] }).maxMatchLength, 45);
  assert.equal(compileDetector({ kinds: [], deny: [{ name: "d", pattern: "x" }] }).maxMatchLength, 257);
  assert.equal(compileDetector({ kinds: ["secret"] }).maxMatchLength, 4209);
  // A deny match longer than its bound is clipped to it (still masked from its start).
  const d = compileDetector({ kinds: [], deny: [{ name: "d", pattern: "z+", maxLength: 4 }] });
  assert.deepEqual(d.find("zzzzzzz"), [
    { rule: "deny.d", start: 0, end: 4 },
    { rule: "deny.d", start: 4, end: 7 },
  ]);
});

test("adversarial inputs finish (bounded, non-nested patterns) and random unicode never throws", () => {
  const big = [
    rep("a", 50_000),
    "@",
    rep("1 ", 20_000),
    rep("-----BEGIN ", 500),
    rep("sk-", 5000),
    rep("+1", 5000),
  ].join("");
  assert.ok(Array.isArray(all.find(big)));
  const withTopics = compileDetector({
    kinds: ALL,
    topics: [{ name: "t", keywords: ["ǅx", "İstanbul", "😀"] }],
  });
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 300 }), (s) => {
      const found = withTopics.find(s);
      for (const f of found) assert.ok(f.start >= 0 && f.end > f.start && f.end <= s.length);
      for (let i = 1; i < found.length; i++) assert.ok(found[i]!.start >= found[i - 1]!.end);
      assert.equal(typeof maskText(s, found), "string");
      assert.ok(withTopics.settledBefore(s, 0) <= s.length);
    }),
    { numRuns: 300 },
  );
});
