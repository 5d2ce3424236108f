// Built-in guardrail detectors (issue #17): pure functions, compiled once per config generation.
// A finding carries the rule id and offsets only, never the matched text, so nothing a detector
// reports can leak a secret into a log line or an error.

export type DetectorKind = "email" | "phone" | "payment_card" | "iban" | "secret";

/** `[start, end)` in UTF-16 code units of the scanned text (of the whole stream for StreamMasker). */
export type Finding = { rule: string; start: number; end: number };

export type DetectorSpec = {
  kinds: DetectorKind[];
  /** Compiled with the `u` flag. `maxLength` bounds a match (default 256); a longer one is clipped to it. */
  deny?: { name: string; pattern: string; maxLength?: number }[];
  /** Case-insensitive whole-word keywords. */
  topics?: { name: string; keywords: string[] }[];
};

export type Detector = {
  /** Findings starting at or after `from` (text before it is only look-behind context), sorted, merged. */
  find(text: string, from?: number): Finding[];
  /** The longest span (match + 1 look-ahead char) any rule inspects from its start. */
  maxMatchLength: number;
  /**
   * Every finding of `text` starting before the returned index is final: no text appended later can
   * add, remove or change it. Used by StreamMasker to hold back as little as possible.
   */
  settledBefore(text: string, from: number): number;
};

type Rule = {
  id: string;
  re: RegExp;
  /** Longest match plus the one char of look-ahead the pattern may inspect. */
  maxLength: number;
  /** A match always starts with one of these: the stream then only holds back from an anchor. */
  anchor?: RegExp;
  anchorPrefixes?: string[];
  /** Every match holds `char` within its first `within` chars (the e-mail's "@"): holds back less. */
  pivot?: { char: string; within: number };
  /** Returns the finding's end (maybe shorter than `end`) or -1 to reject the candidate. */
  check?: (text: string, start: number, end: number) => number;
};

const DEFAULT_DENY_MAX = 256;

const digitsOf = (s: string): string => s.replace(/\D/g, "");

/** Luhn checksum over a digit string (ISO/IEC 7812). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const cardDigitsValid = (d: string): boolean =>
  d.length >= 13 && d.length <= 19 && !/^(\d)\1*$/.test(d) && luhnValid(d); // 0000… passes Luhn

/** The whole digit run, else its longest prefix ending at a separator ("<card> 9" is still a card). */
function cardCheck(text: string, start: number, end: number): number {
  if (cardDigitsValid(digitsOf(text.slice(start, end)))) return end;
  for (let e = end - 1; e > start; e--) {
    if ((text[e] === " " || text[e] === "-") && cardDigitsValid(digitsOf(text.slice(start, e)))) return e;
  }
  return -1;
}

// ISO 13616 lengths per country (SWIFT IBAN registry). A country not listed is not detected: without
// the length, a greedy match would swallow the next word and the check would fail anyway.
const IBAN_LENGTHS: ReadonlyMap<string, number> = new Map(
  (
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 ES24 " +
    "FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 " +
    "LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 " +
    "RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20"
  )
    .split(" ")
    .map((e) => [e.slice(0, 2), Number(e.slice(2))] as const),
);

/** ISO 13616 / ISO 7064 mod-97-10 over the compact IBAN (letters A=10 … Z=35). */
export function ibanValid(compact: string): boolean {
  const moved = compact.slice(4) + compact.slice(0, 4);
  let rem = 0;
  for (const ch of moved) {
    const v = ch >= "A" ? ch.charCodeAt(0) - 55 : ch.charCodeAt(0) - 48;
    rem = (v > 9 ? rem * 100 + v : rem * 10 + v) % 97;
  }
  return rem === 1;
}

function ibanCheck(text: string, start: number, end: number): number {
  const want = IBAN_LENGTHS.get(text.slice(start, start + 2));
  if (want === undefined) return -1;
  let compact = "";
  let i = start;
  for (; i < end && compact.length < want; i++) if (text[i] !== " ") compact += text[i];
  if (compact.length < want || /[A-Za-z0-9]/.test(text[i] ?? "")) return -1; // no glued trailing char
  return ibanValid(compact) ? i : -1;
}

function phoneCheck(text: string, start: number, end: number): number {
  const s = text.slice(start, end);
  const n = digitsOf(s).length;
  if (s.includes("(") !== s.includes(")")) return -1;
  if (s.startsWith("+")) return n >= 8 && n <= 15 ? end : -1;
  return n >= 10 && n <= 11 ? end : -1;
}

function emailCheck(text: string, start: number, end: number): number {
  const s = text.slice(start, end);
  const at = s.indexOf("@");
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  if (local.startsWith(".") || local.endsWith(".") || local.includes("..")) return -1;
  if (/^[.-]|\.\.|-\.|\.-/.test(domain)) return -1;
  return end;
}

// Every pattern below is bounded ({m,n}) and has no ambiguous nested quantifier: each repeated group
// consumes exactly one digit/char that its separators cannot, so backtracking is linear in the bound.
const PII: Record<Exclude<DetectorKind, "secret">, Rule> = {
  // Local part ≤ 64 (RFC 5321), domain ≤ 46 + TLD ≤ 16: 128 chars; a longer domain is masked up to
  // a dot. The "@" within 65 chars lets the stream hold back 64 chars until one appears.
  email: {
    id: "pii.email",
    re: /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,46}\.[A-Za-z]{2,16}(?![A-Za-z0-9-])/g,
    maxLength: 129,
    pivot: { char: "@", within: 65 },
    check: emailCheck,
  },
  // E.164 (+ and 8–15 digits), NANP "(415) 555-0132", trunk-0 national "030 1234 5678". Plain digit
  // runs (years, prices, order ids) never match: a separator pattern and 10–11 digits are required.
  phone: {
    id: "pii.phone",
    re: /(?<![\w+.,/-]|\d[ .-])(?:\+[1-9](?:[ ().-]{0,2}\d){7,14}|\(?[2-9]\d{2}\)?[ .-]?\d{3}[ .-]\d{4}|\(?0\d{1,4}\)?[ .-]\d{3,4}[ .-]?\d{3,4})(?![\w]|[.,/-]\d)/g,
    maxLength: 45,
    check: phoneCheck,
  },
  payment_card: {
    id: "pii.payment_card",
    re: /(?<![\w-])\d(?:[ -]?\d){12,18}(?!\w)/g,
    maxLength: 38,
    check: cardCheck,
  },
  iban: {
    id: "pii.iban",
    re: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/g,
    maxLength: 65,
    check: ibanCheck,
  },
};

const anchored = (id: string, re: RegExp, maxLength: number, prefixes: string[], ci = false): Rule => ({
  id,
  re,
  maxLength,
  anchorPrefixes: prefixes,
  anchor: new RegExp(prefixes.map(escapeRegExp).join("|"), ci ? "gi" : "g"),
});

const TOKEN_BEFORE = "(?<![A-Za-z0-9_-])";
const tok = (body: string) => new RegExp(`${TOKEN_BEFORE}${body}(?![A-Za-z0-9_-])`, "g");
const GH = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"];
const SLACK = ["xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-", "xoxo-", "xapp-"];

// Order matters only for ties at one start: the more specific rule (anthropic before openai) wins.
const SECRETS: Rule[] = [
  // Header, a base64/PEM-header body up to 4096 chars (an RSA-4096 key is ~3.2k), then the footer if
  // present; without one the body runs to the first non-PEM char, masking more rather than less. Each
  // body step eats one char ("-" only when not starting "-----"), so backtracking stays linear.
  anchored(
    "secret.private_key",
    /-----BEGIN [A-Z0-9 ]{0,30}PRIVATE KEY-----(?:[A-Za-z0-9+/=\r\n\t :,]|-(?!----)){0,4096}(?:-----END [A-Z0-9 ]{0,30}PRIVATE KEY-----)?/g,
    57 + 4096 + 55 + 1, // header + body + footer + 1
    ["-----BEGIN "],
  ),
  anchored("secret.anthropic_key", tok("sk-ant-[A-Za-z0-9_-]{20,200}"), 208, ["sk-ant-"]),
  anchored("secret.openai_key", tok("sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}"), 212, [
    "sk-",
  ]),
  anchored("secret.aws_access_key", /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g, 21, [
    "AKIA",
    "ASIA",
  ]),
  anchored(
    "secret.github_token",
    tok("(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,120})"),
    132,
    GH,
  ),
  anchored("secret.google_api_key", tok("AIza[0-9A-Za-z_-]{35}"), 40, ["AIza"]),
  anchored("secret.slack_token", tok("(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,120}"), 126, SLACK),
  anchored(
    "secret.jwt",
    tok("eyJ[A-Za-z0-9_-]{8,200}\\.eyJ[A-Za-z0-9_-]{8,1200}\\.[A-Za-z0-9_-]{8,512}"),
    1927,
    ["eyJ"],
  ),
  anchored(
    "secret.bearer",
    /(?<![A-Za-z0-9])bearer[ \t]{1,3}[A-Za-z0-9._~+/-]{16,512}={0,2}(?![A-Za-z0-9._~+/=-])/gi,
    525,
    ["bearer"],
    true,
  ),
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"); // "-" may not be escaped under the u flag
}

// A group holding a quantifier, itself quantified by * + or {…}: the classic catastrophic shape.
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[*+]|\{\d+,?\d*\})(?:[^()\\]|\\.)*\)(?:[*+]|\{\d+,?\d*\})/;

function denyRule(name: string, pattern: string, maxLength: number | undefined): Rule {
  const fail = (why: string) => new Error(`guardrail deny rule "${name}": ${why}`); // never the pattern
  if (NESTED_QUANTIFIER.test(pattern)) throw fail("nested quantifier (ReDoS risk)");
  let re: RegExp;
  try {
    re = new RegExp(pattern, "gu");
  } catch {
    throw fail("invalid regular expression");
  }
  const max = maxLength ?? DEFAULT_DENY_MAX;
  if (!Number.isInteger(max) || max < 1) throw fail("maxLength must be a positive integer");
  return { id: `deny.${name}`, re, maxLength: max + 1 };
}

function topicRule(name: string, keywords: string[]): Rule | undefined {
  const words = keywords.filter((k) => k.length > 0).sort((a, b) => b.length - a.length);
  if (words.length === 0) return undefined;
  const alt = words.map(escapeRegExp).join("|");
  const re = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alt})(?![\\p{L}\\p{N}_])`, "giu");
  // Case folding may change a char's UTF-16 width (BMP ↔ astral): allow twice the keyword, + look-ahead.
  return { id: `topic.${name}`, re, maxLength: 2 * (words[0]?.length ?? 0) + 2 };
}

function scanRule(rule: Rule, text: string, from: number, out: Finding[]): void {
  let p = from;
  while (p < text.length) {
    rule.re.lastIndex = p;
    const m = rule.re.exec(text);
    if (m === null) return;
    const start = m.index;
    const rawEnd = start + m[0].length;
    if (rawEnd === start) {
      p = start + 1;
      continue;
    }
    const end0 = Math.min(rawEnd, start + rule.maxLength - 1);
    const end = rule.check ? rule.check(text, start, end0) : end0;
    if (end > start) {
      out.push({ rule: rule.id, start, end });
      p = end;
    } else p = start + 1;
  }
}

/** Earliest start at or after `lo` where an anchored rule's match could begin (text.length if none). */
function pendingAnchor(rule: Rule, text: string, lo: number): number {
  const n = text.length;
  const anchor = rule.anchor!;
  anchor.lastIndex = lo;
  const m = anchor.exec(text);
  if (m !== null) return m.index;
  // A prefix of an anchor at the very end may still become one.
  const ci = anchor.flags.includes("i");
  const longest = Math.max(...(rule.anchorPrefixes ?? []).map((a) => a.length));
  for (let k = Math.min(longest - 1, n - lo); k >= 1; k--) {
    const tail = ci ? text.slice(n - k).toLowerCase() : text.slice(n - k);
    if (rule.anchorPrefixes!.some((a) => (ci ? a.toLowerCase() : a).startsWith(tail))) return n - k;
  }
  return n;
}

/** Compiles every regular expression once (config load). Throws on an invalid deny rule, naming it. */
export function compileDetector(spec: DetectorSpec): Detector {
  const rules: Rule[] = [];
  const kinds = new Set(spec.kinds);
  if (kinds.has("secret")) rules.push(...SECRETS);
  for (const k of ["iban", "payment_card", "email", "phone"] as const) if (kinds.has(k)) rules.push(PII[k]);
  for (const d of spec.deny ?? []) rules.push(denyRule(d.name, d.pattern, d.maxLength));
  for (const t of spec.topics ?? []) {
    const r = topicRule(t.name, t.keywords);
    if (r) rules.push(r);
  }
  const priority = new Map(rules.map((r, i) => [r.id, i]));
  const maxMatchLength = Math.max(1, ...rules.map((r) => r.maxLength));

  const find = (text: string, from = 0): Finding[] => {
    const all: Finding[] = [];
    for (const rule of rules) scanRule(rule, text, from, all);
    all.sort((a, b) => a.start - b.start || priority.get(a.rule)! - priority.get(b.rule)!);
    const merged: Finding[] = [];
    for (const f of all) {
      const last = merged[merged.length - 1];
      if (last && f.start < last.end) last.end = Math.max(last.end, f.end);
      else merged.push({ ...f });
    }
    return merged;
  };

  const settledBefore = (text: string, from: number): number => {
    const n = text.length;
    let r = n;
    for (const rule of rules) {
      const lo = Math.max(from, n - rule.maxLength);
      if (rule.anchor) r = Math.min(r, pendingAnchor(rule, text, lo));
      else if (rule.pivot) {
        // A match still open has its pivot at the first one from `lo` on, or at one not yet arrived.
        const at = text.indexOf(rule.pivot.char, lo);
        r = Math.min(r, Math.max(lo, (at < 0 ? n : at) - rule.pivot.within + 1));
      } else r = Math.min(r, lo);
    }
    return Math.max(r, from);
  };

  return { find, maxMatchLength, settledBefore };
}

/**
 * Replaces each finding's span by `[REDACTED:<rule>]`, e.g. `mail [REDACTED:pii.email] now`.
 * Expects `find`'s output (sorted, non-overlapping); an overlapping finding is skipped.
 */
export function maskText(text: string, findings: readonly Finding[]): string {
  let out = "";
  let at = 0;
  for (const f of findings) {
    if (f.start < at || f.end <= f.start) continue;
    out += `${text.slice(at, f.start)}[REDACTED:${f.rule}]`;
    at = Math.min(f.end, text.length);
  }
  return out + text.slice(at);
}
