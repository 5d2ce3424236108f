import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { compileDetector, type Detector, type Finding, maskText } from "../../src/guardrails/detectors.ts";
import { StreamMasker } from "../../src/guardrails/stream-masker.ts";

const all = compileDetector({
  kinds: ["email", "phone", "payment_card", "iban", "secret"],
  deny: [{ name: "code", pattern: "PRJ-[0-9]{4}", maxLength: 8 }],
  topics: [{ name: "t", keywords: ["forbidden word"] }],
});

type Run = { outputs: string[]; findings: Finding[]; text: string };
function run(detector: Detector, chunks: string[], mode: "mask" | "block" = "mask"): Run {
  const m = new StreamMasker(detector, mode);
  const outputs: string[] = [];
  const findings: Finding[] = [];
  for (const c of chunks) {
    const o = m.push(c);
    outputs.push(o.text);
    findings.push(...o.findings);
  }
  const o = m.flush();
  outputs.push(o.text);
  findings.push(...o.findings);
  return { outputs, findings, text: outputs.join("") };
}

test("a card split across chunks comes out masked; none of its digits are released early", () => {
  const r = run(all, ["pay 4111 1111", " 1111 1111 now"]);
  assert.equal(r.text, "pay [REDACTED:pii.payment_card] now");
  assert.ok(!r.outputs[0]!.includes("4111"));
  assert.deepEqual(r.findings, [{ rule: "pii.payment_card", start: 4, end: 23 }]);
});

test("finding offsets are relative to the whole stream, across many releases", () => {
  const filler = "lorem ipsum dolor sit amet. ".repeat(20); // 560 chars, several releases
  const whole = `${filler}mail a@b.com and ${filler}card 4111111111111111 end`;
  const chunks = whole.match(/[\s\S]{1,7}/g)!;
  const r = run(all, chunks);
  assert.deepEqual(r.findings, all.find(whole));
  assert.equal(r.text, maskText(whole, all.find(whole)));
  assert.equal(whole.slice(r.findings[1]!.start, r.findings[1]!.end), "4111111111111111");
});

test("hold-back: at most maxMatchLength chars; anchored secret rules hold only from their prefix", () => {
  const pii = compileDetector({ kinds: ["email", "payment_card"] });
  const m = new StreamMasker(pii, "mask");
  const plain = "words and more words ".repeat(30);
  const out = m.push(plain).text;
  assert.ok(out.length >= plain.length - pii.maxMatchLength, `${out.length}`);
  assert.ok(plain.startsWith(out));
  // All built-in kinds, no secret prefix in the tail: 65 chars (the IBAN bound) wait.
  const kinds = ["email", "phone", "payment_card", "iban", "secret"] as const;
  assert.equal(
    new StreamMasker(compileDetector({ kinds: [...kinds] }), "mask").push(plain).text,
    plain.slice(0, -65),
  );
  // E-mail only: without an "@" in sight, only 64 chars (the longest local part) wait.
  const mail = new StreamMasker(compileDetector({ kinds: ["email"] }), "mask");
  assert.equal(mail.push(plain).text, plain.slice(0, plain.length - 64));
  // After an "@", the 64 chars before it wait (a local part's bound), so nothing of the address leaks.
  const early = mail.push("x@").text + mail.push("y.org and then some more words").text;
  assert.equal(early, plain.slice(-64, -63));
  assert.equal(mail.flush().text, `${plain.slice(-63)}[REDACTED:pii.email] and then some more words`);
  // Secrets only: no prefix of "sk-", "eyJ", "-----BEGIN ", … at the tail, so nothing is held.
  const secrets = compileDetector({ kinds: ["secret"] });
  assert.equal(new StreamMasker(secrets, "mask").push("hello world!").text, "hello world!");
  // "x s" may begin "sk-": the "s" waits; an anchor holds back until its match is settled.
  const s = new StreamMasker(secrets, "mask");
  assert.equal(s.push("x s").text, "x ");
  assert.equal(s.push("k-").text, "");
  assert.equal(s.push(`${"A1b2".repeat(6)} ok`).text, "");
  assert.equal(s.flush().text, "[REDACTED:secret.openai_key] ok");
});

test("a private key streamed line by line is masked whole, the text after it is released", () => {
  const pem = `-----BEGIN PRIVATE KEY-----\n${"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n".repeat(8)}-----END PRIVATE KEY-----`;
  const whole = `key:\n${pem}\nthat was it`;
  const r = run(all, whole.split(/(?<=\n)/));
  assert.equal(r.text, "key:\n[REDACTED:secret.private_key]\nthat was it");
  for (const o of r.outputs) assert.ok(!o.includes("MIIE"));
});

test("block mode: returns the text before the finding and the finding, then releases nothing more", () => {
  const m = new StreamMasker(all, "block");
  const first = m.push("hello, my card is 4111 1111");
  assert.deepEqual(first.findings, []);
  assert.ok(!first.text.includes("4111"));
  const second = m.push(" 1111 1111 and more text ".repeat(10));
  assert.deepEqual(second.findings, [{ rule: "pii.payment_card", start: 18, end: 37 }]);
  assert.equal(first.text + second.text, "hello, my card is ");
  assert.deepEqual(m.push("more"), { text: "", findings: [] });
  assert.deepEqual(m.flush(), { text: "", findings: [] });
  // A finding only the end of the stream settles is reported by flush.
  const b = new StreamMasker(all, "block");
  assert.equal(b.push("mail a@b.com").text, "");
  assert.deepEqual(b.flush(), { text: "mail ", findings: [{ rule: "pii.email", start: 5, end: 12 }] });
});

test("a surrogate pair is never split between two outputs", () => {
  const d = compileDetector({ kinds: ["payment_card"] }); // hold-back 38: cuts fall anywhere
  const whole = "😀".repeat(60);
  for (let size = 1; size <= 5; size++) {
    const r = run(d, whole.match(new RegExp(`[\\s\\S]{1,${size}}`, "g"))!);
    assert.equal(r.text, whole);
    for (const o of r.outputs.slice(0, -1)) assert.ok(!/[\ud800-\udbff]$/.test(o), `size ${size}`);
  }
});

// Text around the embedded value: digits, separators, '@' and letters, so neighbours can interact.
const noise = fc.string({ unit: fc.constantFrom(..."ab Z1 9-.@\n+"), maxLength: 40 });
const secretValue = fc.constantFrom(
  "4111 1111 1111 1111",
  "5555-5555-5555-4444",
  "378282246310005",
  "jane.doe@example.com",
  "x@mail.example.org",
);

test("property: every 2-chunk split of text with a card/e-mail gives maskText(whole); no output has the value", () => {
  fc.assert(
    fc.property(noise, secretValue, noise, (pre, value, post) => {
      const whole = `${pre} ${value} ${post}`;
      const expected = maskText(whole, all.find(whole));
      assert.ok(!expected.includes(value));
      for (let i = 0; i <= whole.length; i++) {
        const m = new StreamMasker(all, "mask");
        const a = m.push(whole.slice(0, i)).text;
        const b = m.push(whole.slice(i)).text;
        const c = m.flush().text;
        // Every released prefix is a prefix of the masked whole, so no part of the value got out early.
        assert.ok(expected.startsWith(a) && expected.startsWith(a + b), `split at ${i}`);
        assert.ok(!a.includes(value) && !(a + b).includes(value));
        assert.equal(a + b + c, expected, `split at ${i}`);
      }
    }),
    { numRuns: 120 },
  );
});

// Pieces of every rule's syntax, so random texts hold near-matches, overlaps and anchors, and are
// long enough (up to ~2k chars) that the masker releases mid-stream, past its 129-char hold-back.
const PIECES = [
  ..."ab 19-.@+()\n",
  "sk-",
  "eyJ",
  "AIza",
  "DE89",
  "3704",
  "0044",
  "4111",
  "1111",
  "-----BEGIN ",
];
const piecesText = fc
  .array(fc.constantFrom(...PIECES, "PRIVATE KEY-----", "-----END ", "PRJ-", "x@y.com", "MIIE", "bearer "), {
    maxLength: 300,
  })
  .map((a) => a.join(""));

test("property: any chunking of any text gives maskText(whole) and find(whole) in both modes", () => {
  fc.assert(
    fc.property(piecesText, fc.array(fc.nat(2000), { maxLength: 20 }), (whole, cuts) => {
      const points = [...new Set(cuts.map((c) => Math.min(c, whole.length)))].sort((x, y) => x - y);
      const chunks = [...points, whole.length].map((p, i) => whole.slice(i === 0 ? 0 : points[i - 1], p));
      const found = all.find(whole);
      const r = run(all, chunks);
      assert.equal(r.text, maskText(whole, found));
      assert.deepEqual(r.findings, found);
      const b = run(all, chunks, "block");
      // Block reports the first finding's rule and start (its end may still have been growing).
      const first = b.findings[0];
      assert.deepEqual(first && [first.rule, first.start], found[0] && [found[0].rule, found[0].start]);
      assert.equal(b.text, found.length > 0 ? whole.slice(0, found[0]!.start) : whole);
    }),
    { numRuns: 300 },
  );
});

test("random unicode chunks never throw and the output is the masked whole", () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: "binary", maxLength: 30 }), { maxLength: 8 }), (chunks) => {
      const whole = chunks.join("");
      assert.equal(run(all, chunks).text, maskText(whole, all.find(whole)));
    }),
    { numRuns: 200 },
  );
});
