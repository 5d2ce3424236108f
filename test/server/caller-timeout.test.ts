// The caller's timeout header as connect-node gets it (src/server/http/caller-timeout.ts): capped at
// server.limits.maxTimeoutMs and rounded down to whole milliseconds, rewritten in place; a malformed
// value is left for connect-node to refuse (INVALID_ARGUMENT).
import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { test } from "node:test";
import { capTimeoutHeader } from "../../src/server/http/caller-timeout.ts";

const grpc = (timeout: string): IncomingHttpHeaders => ({
  "content-type": "application/grpc-web+proto",
  "grpc-timeout": timeout,
});
const connect = (ms: string): IncomingHttpHeaders => ({
  "content-type": "application/json",
  "connect-timeout-ms": ms,
});

test("a gRPC timeout over the cap is rewritten to the cap", () => {
  const h = grpc("20M");
  assert.equal(capTimeoutHeader(h, 300), 300);
  assert.equal(h["grpc-timeout"], "300m");
});

test("a cap too long for 8 digits of milliseconds is sent in whole seconds", () => {
  const h = grpc("99999999H");
  assert.equal(capTimeoutHeader(h, 200_000_000), 200_000_000);
  assert.equal(h["grpc-timeout"], "200000S");
});

test("a cap beyond Node's longest timer is held to that timer (no 1 ms overflow)", () => {
  const h = connect("9999999999");
  assert.equal(capTimeoutHeader(h, Number.MAX_SAFE_INTEGER), 2_147_483_647);
  assert.equal(h["connect-timeout-ms"], "2147483647");
});

test("a timeout under 1 ms has passed on arrival: 0 ms", () => {
  for (const value of ["1n", "999u"]) {
    const h = grpc(value);
    assert.equal(capTimeoutHeader(h, 300), 0, value);
    assert.equal(h["grpc-timeout"], "0m");
  }
});

test("a timeout within the cap keeps its value; Connect uses connect-timeout-ms", () => {
  const h = connect("250");
  assert.equal(capTimeoutHeader(h, 300), 250);
  assert.equal(h["connect-timeout-ms"], "250");
  const ignored = { ...connect("250"), "grpc-timeout": "1n" };
  assert.equal(capTimeoutHeader(ignored, 300), 250, "Connect reads connect-timeout-ms only");
});

test("no timeout or a malformed one: untouched, undefined", () => {
  assert.equal(capTimeoutHeader({ "content-type": "application/grpc" }, 300), undefined);
  for (const h of [grpc("soon"), connect("-1"), connect("12345678901")]) {
    const before = { ...h };
    assert.equal(capTimeoutHeader(h, 300), undefined);
    assert.deepEqual(h, before);
  }
});
