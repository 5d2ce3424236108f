import assert from "node:assert/strict";
import { test } from "node:test";
import {
  classifyNetworkError,
  kindForHttpStatus,
  MAX_UPSTREAM_RETRY_AFTER_MS,
  parseRetryAfter,
} from "../../src/upstream/classify.ts";

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

test("an upstream's wait is bounded: a huge, infinite or far-future retry-after cannot park a backend for good", () => {
  const now = Date.parse("2026-11-24T10:00:00Z");
  for (const headers of [
    { "retry-after-ms": "1e12" },
    { "retry-after": "1000000000000" },
    { "retry-after": "Fri, 31 Dec 9999 23:59:59 GMT" },
  ])
    assert.equal(parseRetryAfter(headers, now), MAX_UPSTREAM_RETRY_AFTER_MS, JSON.stringify(headers));
  assert.equal(parseRetryAfter({ "retry-after-ms": "Infinity", "retry-after": "2" }), 2000);
  assert.equal(parseRetryAfter({ "retry-after-ms": "-5" }), undefined);
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

test("a network error shows a Node/undici code or the error's class, never other text it carries", () => {
  const signal = new AbortController().signal;
  const coded = (code: unknown, name = "Error") =>
    Object.assign(new Error("socket hang up: Bearer sk-CANARY"), { code, name });
  assert.equal(classifyNetworkError(coded("ECONNRESET"), signal).message, "network error: ECONNRESET");
  assert.equal(
    classifyNetworkError(coded("UND_ERR_SOCKET"), signal).message,
    "network error: UND_ERR_SOCKET",
  );
  assert.equal(classifyNetworkError(coded("Bearer sk-CANARY"), signal).message, "network error: Error");
  assert.equal(classifyNetworkError(coded(42, "TypeError"), signal).message, "network error: TypeError");
  assert.equal(
    classifyNetworkError(coded(undefined, "sk-CANARY name"), signal).message,
    "network error: Error",
  );
  assert.equal(classifyNetworkError("a string", signal).message, "network error: network error");
});
