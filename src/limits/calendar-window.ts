/**
 * Calendar windows for budgets: the day, ISO week (Monday first) or month that
 * contains an instant, in an IANA time zone. Budget keys embed the window id,
 * so a new window starts from zero without any reset job.
 */

export type Period = "day" | "week" | "month";

export type CalendarWindow = { start: Date; end: Date; id: string };

type LocalDate = { year: number; month: number; day: number }; // month 1–12

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    // Throws RangeError for an unknown zone, which is what a bad config should see.
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The zone's wall-clock time at `ms`, read as if it were UTC. */
function wallClockMs(ms: number, tz: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(ms)) if (p.type !== "literal") parts[p.type] = Number(p.value);
  const { year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts;
  return Date.UTC(year, month - 1, day, hour, minute, second) + (ms - Math.floor(ms / 1000) * 1000);
}

function localDate(ms: number, tz: string): LocalDate {
  const d = new Date(wallClockMs(ms, tz));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/**
 * The first instant of local date `date` in `tz`. Midnight is tried with the
 * offsets in force a day before and a day after (one DST change at most lies
 * between); where a change skips midnight, the day starts at the change itself.
 */
function midnight(date: LocalDate, tz: string): Date {
  const wall = Date.UTC(date.year, date.month - 1, date.day);
  const before = wall - (wallClockMs(wall - DAY_MS, tz) - (wall - DAY_MS));
  const after = wall - (wallClockMs(wall + DAY_MS, tz) - (wall + DAY_MS));
  const exact = [before, after].filter((t) => wallClockMs(t, tz) === wall);
  if (exact.length > 0) return new Date(Math.min(...exact)); // a repeated midnight: its first occurrence
  let lo = Math.min(before, after); // still the previous day
  let hi = Math.max(before, after); // already this day
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallClockMs(mid, tz) >= wall) hi = mid;
    else lo = mid;
  }
  return new Date(hi);
}

/** Calendar arithmetic on local dates (Date.UTC normalises overflowing days and months). */
function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

const pad = (n: number): string => String(n).padStart(2, "0");

/** Monday = 1 … Sunday = 7. */
const isoWeekday = (date: LocalDate): number =>
  new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() || 7;

/** ISO 8601 week id: the week belongs to the year holding its Thursday. */
function isoWeekId(monday: LocalDate): string {
  const thursday = addDays(monday, 3);
  const dayOfYear =
    (Date.UTC(thursday.year, thursday.month - 1, thursday.day) - Date.UTC(thursday.year, 0, 1)) / DAY_MS;
  return `${thursday.year}-W${pad(Math.floor(dayOfYear / 7) + 1)}`;
}

/**
 * The window of `period` containing `now` in time zone `tz` (default UTC).
 * `end` is the next window's `start`; ids look like "2026-11-24", "2026-W48", "2026-11".
 */
export function windowOf(period: Period, now: Date, tz = "UTC"): CalendarWindow {
  const today = localDate(now.getTime(), tz);
  switch (period) {
    case "day": {
      const id = `${today.year}-${pad(today.month)}-${pad(today.day)}`;
      return { start: midnight(today, tz), end: midnight(addDays(today, 1), tz), id };
    }
    case "week": {
      const monday = addDays(today, 1 - isoWeekday(today));
      return { start: midnight(monday, tz), end: midnight(addDays(monday, 7), tz), id: isoWeekId(monday) };
    }
    case "month": {
      const first = { year: today.year, month: today.month, day: 1 };
      const next =
        today.month === 12
          ? { year: today.year + 1, month: 1, day: 1 }
          : { ...first, month: today.month + 1 };
      return { start: midnight(first, tz), end: midnight(next, tz), id: `${today.year}-${pad(today.month)}` };
    }
  }
}

/** When a budget's stored usage may expire: a day after its window ends (late settlements still land). */
export const budgetExpiry = (window: CalendarWindow): Date => new Date(window.end.getTime() + DAY_MS);
