import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { CheckResponseSchema, Verdict } from "../../gen/switchyard/guard/v1/guard_service_pb.ts";
import { guardReason, verdictOf } from "../../src/guardrails/external-guard.ts";

describe("verdictOf and guardReason (no sockets)", () => {
  test("mask spans come back in range, sorted, disjoint, covering exactly what was asked", () => {
    // Texts with astral characters (surrogate pairs); mostly spans inside a segment (some still split a
    // pair), a few anywhere at all.
    const anySpan = fc.record({ segment: fc.nat(3), start: fc.nat(14), end: fc.nat(14) });
    const inside = (texts: string[]) =>
      fc.nat(texts.length - 1).chain((segment) => {
        const length = texts[segment]!.length;
        return fc.nat(length - 1).chain((start) =>
          fc.record({
            segment: fc.constant(segment),
            start: fc.constant(start),
            end: fc.integer({ min: start + 1, max: length }),
          }),
        );
      });
    const text = fc.string({ unit: fc.constantFrom("a", "b", " ", "é", "😀"), minLength: 1, maxLength: 12 });
    const cases = fc.array(text, { minLength: 1, maxLength: 3 }).chain((texts) =>
      fc.tuple(
        fc.constant(texts),
        fc.array(fc.oneof({ weight: 19, arbitrary: inside(texts) }, { weight: 1, arbitrary: anySpan }), {
          maxLength: 6,
        }),
      ),
    );
    // The oracle counts code-point boundaries independently of the code under test.
    const boundaries = (value: string) => {
      let at = 0;
      return new Set([0, ...Array.from(value, (char) => (at += char.length))]);
    };
    const usable = (texts: string[], spans: { segment: number; start: number; end: number }[]) =>
      spans.length > 0 &&
      spans.every(({ segment, start, end }) => {
        const value = texts[segment];
        if (value === undefined || start >= end) return false;
        const cuts = boundaries(value);
        return cuts.has(start) && cuts.has(end);
      });
    fc.assert(
      fc.property(cases, ([segments, spans]) => {
        const sent = segments.map((text) => ({ text }));
        const verdict = verdictOf(create(CheckResponseSchema, { verdict: Verdict.MASK, spans }), sent);
        const covered = (list: typeof spans) =>
          new Set(
            list.flatMap((s) =>
              Array.from({ length: Math.max(0, s.end - s.start) }, (_, k) => `${s.segment}:${s.start + k}`),
            ),
          );
        if (!usable(segments, spans)) {
          assert.deepEqual(verdict, { verdict: "error", error: "bad_response" });
          return;
        }
        assert.equal(verdict.verdict, "mask");
        if (verdict.verdict !== "mask") return;
        for (const [i, s] of verdict.spans.entries()) {
          assert.ok(s.start < s.end && s.end <= sent[s.segment]!.text.length);
          const prev = verdict.spans[i - 1];
          if (prev) assert.ok(prev.segment < s.segment || (prev.segment === s.segment && prev.end < s.start));
        }
        assert.deepEqual(covered(verdict.spans), covered(spans));
      }),
    );
  });

  test("a reason is a rule id of at most 64 of [a-z0-9_.:-], else external", () => {
    assert.equal(guardReason("a".repeat(64)), "a".repeat(64));
    assert.equal(guardReason("pii.email:v1-2_x"), "pii.email:v1-2_x");
    for (const bad of ["a".repeat(65), "Email", "a b", "é", "x/y", "", undefined, 12]) {
      assert.equal(guardReason(bad), "external");
    }
  });
});
