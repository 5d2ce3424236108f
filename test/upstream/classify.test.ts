import assert from "node:assert/strict";
import { test } from "node:test";
import { kindForHttpStatus, parseRetryAfter } from "../../src/upstream/classify.ts";

test("retry-after-ms wins over retry-after", () => {
  assert.equal(parseRetryAfter({ "retry-after-ms": "250.5", "retry-after": "3" }), 250.5);
});

test("retry-after in seconds and as an HTTP date", () => {
  assert.equal(parseRetryAfter({ "retry-after": "2" }), 2000);
  const now = Date.parse("2026-11-24T10:00:00Z");
  assert.equal(parseRetryAfter({ "retry-after": "Tue, 24 Nov 2026 10:00:05 GMT" }, now), 5000);
  assert.equal(parseRetryAfter({ "retry-after": "Tue, 24 Nov 2026 09:00:00 GMT" }, now), 0);
});

test("garbage retry headers are ignored", () => {
  assert.equal(parseRetryAfter({ "retry-after-ms": "soon" }), undefined);
  assert.equal(parseRetryAfter({ "retry-after": "later" }), undefined);
  assert.equal(parseRetryAfter({}), undefined);
});

test("status table", () => {
  const table: [number, string][] = [
    [400, "bad_request"],
    [401, "auth"],
    [403, "auth"],
    [404, "auth"],
    [408, "timeout"],
    [413, "bad_request"],
    [422, "bad_request"],
    [429, "rate_limited"],
    [500, "unavailable"],
    [502, "unavailable"],
    [503, "overloaded"],
    [504, "timeout"],
    [529, "overloaded"],
  ];
  for (const [status, kind] of table) assert.equal(kindForHttpStatus(status), kind, `HTTP ${status}`);
});
