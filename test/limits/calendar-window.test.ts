import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { budgetExpiry, type Period, windowOf } from "../../src/limits/calendar-window.ts";

const at = (iso: string) => new Date(iso);
const iso = (w: { start: Date; end: Date; id: string }) => ({
  id: w.id,
  start: w.start.toISOString(),
  end: w.end.toISOString(),
});

test("UTC day, week and month windows", () => {
  const now = at("2026-11-24T15:30:00Z"); // a Tuesday
  assert.deepEqual(iso(windowOf("day", now)), {
    id: "2026-11-24",
    start: "2026-11-24T00:00:00.000Z",
    end: "2026-11-25T00:00:00.000Z",
  });
  assert.deepEqual(iso(windowOf("week", now)), {
    id: "2026-W48",
    start: "2026-11-23T00:00:00.000Z",
    end: "2026-11-30T00:00:00.000Z",
  });
  assert.deepEqual(iso(windowOf("month", now)), {
    id: "2026-11",
    start: "2026-11-01T00:00:00.000Z",
    end: "2026-12-01T00:00:00.000Z",
  });
});

test("boundaries: the first and last millisecond belong to their own window", () => {
  assert.equal(windowOf("day", at("2026-11-24T00:00:00.000Z")).id, "2026-11-24");
  assert.equal(windowOf("day", at("2026-11-23T23:59:59.999Z")).id, "2026-11-23");
  assert.equal(windowOf("month", at("2026-12-01T00:00:00.000Z")).id, "2026-12");
  assert.equal(windowOf("month", at("2026-11-30T23:59:59.999Z")).id, "2026-11");
  assert.equal(windowOf("week", at("2026-11-30T00:00:00.000Z")).id, "2026-W49", "Monday starts a week");
  assert.equal(windowOf("week", at("2026-11-29T23:59:59.999Z")).id, "2026-W48", "Sunday ends it");
});

test("year boundaries: December rolls into January, February is short (leap and not)", () => {
  assert.deepEqual(iso(windowOf("month", at("2026-12-31T23:59:59Z"))), {
    id: "2026-12",
    start: "2026-12-01T00:00:00.000Z",
    end: "2027-01-01T00:00:00.000Z",
  });
  assert.deepEqual(iso(windowOf("day", at("2026-12-31T12:00:00Z"))).end, "2027-01-01T00:00:00.000Z");
  assert.equal(windowOf("month", at("2028-02-15T00:00:00Z")).end.toISOString(), "2028-03-01T00:00:00.000Z");
  assert.equal(windowOf("day", at("2028-02-28T10:00:00Z")).end.toISOString(), "2028-02-29T00:00:00.000Z");
  assert.equal(windowOf("day", at("2027-02-28T10:00:00Z")).end.toISOString(), "2027-03-01T00:00:00.000Z");
});

test("ISO weeks: the week belongs to the year of its Thursday", () => {
  const cases: [string, string][] = [
    ["2026-12-31T12:00:00Z", "2026-W53"], // Thursday; 2026 starts on a Thursday, so it has 53 weeks
    ["2027-01-01T12:00:00Z", "2026-W53"], // Friday of the same week
    ["2027-01-03T12:00:00Z", "2026-W53"], // Sunday
    ["2027-01-04T00:00:00Z", "2027-W01"], // Monday
    ["2024-12-30T12:00:00Z", "2025-W01"], // Monday; that week's Thursday is 2 Jan 2025
    ["2021-01-03T12:00:00Z", "2020-W53"],
    ["2026-01-01T00:00:00Z", "2026-W01"],
  ];
  for (const [when, id] of cases) assert.equal(windowOf("week", at(when)).id, id, when);
  const w = windowOf("week", at("2027-01-01T12:00:00Z"));
  assert.equal(w.start.toISOString(), "2026-12-28T00:00:00.000Z");
  assert.equal(w.end.toISOString(), "2027-01-04T00:00:00.000Z");
});

test("a non-UTC zone: the local calendar decides, with local midnights as bounds", () => {
  // 03:30 UTC on 1 Nov 2026 is still 31 Oct (23:30 EDT) in New York.
  const now = at("2026-11-01T03:30:00Z");
  assert.equal(windowOf("day", now).id, "2026-11-01", "in UTC it is already November");
  assert.deepEqual(iso(windowOf("day", now, "America/New_York")), {
    id: "2026-10-31",
    start: "2026-10-31T04:00:00.000Z",
    end: "2026-11-01T04:00:00.000Z",
  });
  assert.deepEqual(iso(windowOf("month", now, "America/New_York")), {
    id: "2026-10",
    start: "2026-10-01T04:00:00.000Z",
    end: "2026-11-01T04:00:00.000Z",
  });
  // DST ends at 02:00 on 1 Nov 2026: that local day has 25 hours.
  assert.deepEqual(iso(windowOf("day", at("2026-11-01T12:00:00Z"), "America/New_York")), {
    id: "2026-11-01",
    start: "2026-11-01T04:00:00.000Z",
    end: "2026-11-02T05:00:00.000Z",
  });
  // East of UTC, with a half-hour offset: 20:00 UTC on a Sunday is already Monday in Kolkata.
  assert.deepEqual(iso(windowOf("week", at("2026-11-29T20:00:00Z"), "Asia/Kolkata")), {
    id: "2026-W49",
    start: "2026-11-29T18:30:00.000Z",
    end: "2026-12-06T18:30:00.000Z",
  });
});

test("a DST change that skips midnight: the day starts at the change (Santiago)", () => {
  // 6 Sep 2026: at 00:00 (-04) clocks jump to 01:00 (-03); there is no local midnight.
  assert.deepEqual(iso(windowOf("day", at("2026-09-06T12:00:00Z"), "America/Santiago")), {
    id: "2026-09-06",
    start: "2026-09-06T04:00:00.000Z",
    end: "2026-09-07T03:00:00.000Z",
  });
  assert.equal(
    windowOf("day", at("2026-09-05T12:00:00Z"), "America/Santiago").end.toISOString(),
    "2026-09-06T04:00:00.000Z",
    "the previous day ends where this one starts",
  );
  // 5 Apr 2026: at 00:00 (-03) clocks go back to 23:00 (-04) on the 4th, which gets 25 hours.
  assert.deepEqual(iso(windowOf("day", at("2026-04-04T12:00:00Z"), "America/Santiago")), {
    id: "2026-04-04",
    start: "2026-04-04T03:00:00.000Z",
    end: "2026-04-05T04:00:00.000Z",
  });
});

test("an unknown time zone is rejected", () => {
  assert.throws(() => windowOf("day", at("2026-11-24T00:00:00Z"), "Mars/Olympus"), RangeError);
});

test("budgetExpiry is the window end plus a day", () => {
  const w = windowOf("month", at("2026-11-24T00:00:00Z"));
  assert.equal(budgetExpiry(w).toISOString(), "2026-12-02T00:00:00.000Z");
});

test("(property) every instant lies in its window; the next window starts where this one ends", () => {
  const zones = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "America/St_Johns",
    "America/Santiago",
    "America/Havana",
  ];
  fc.assert(
    fc.property(
      fc.date({
        min: new Date("2000-01-01T00:00:00Z"),
        max: new Date("2100-01-01T00:00:00Z"),
        noInvalidDate: true,
      }),
      fc.constantFrom<Period>("day", "week", "month"),
      fc.constantFrom(...zones),
      (now, period, tz) => {
        const w = windowOf(period, now, tz);
        assert.ok(w.start <= now && now < w.end, `${now.toISOString()} outside ${w.id}`);
        assert.equal(windowOf(period, w.start, tz).id, w.id, "start belongs to the window");
        assert.equal(windowOf(period, new Date(w.end.getTime() - 1), tz).id, w.id, "so does end − 1 ms");
        const next = windowOf(period, w.end, tz);
        assert.notEqual(next.id, w.id);
        assert.equal(next.start.getTime(), w.end.getTime());
      },
    ),
  );
});
