import assert from "node:assert/strict";
import { test } from "node:test";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import { Breaker, BreakerOpenError } from "../../src/routing/breaker.ts";
import { createLogger } from "../../src/telemetry/logger.ts";

const config = {
  volumeThreshold: 4,
  errorThresholdPercentage: 50,
  resetTimeoutMs: 1000,
  rollingWindowMs: 10_000,
};
const logger = createLogger("silent");
const fail =
  (kind: UpstreamError["kind"] = "unavailable") =>
  () =>
    Promise.reject(new UpstreamError(kind, "x"));
const ok = () => Promise.resolve("ok");
const no = () => false;

test("opens after the volume threshold at the error rate, then fails fast", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"] });
  const breaker = new Breaker("b", config, logger);
  for (let i = 0; i < 3; i++) await assert.rejects(breaker.run(fail(), no), UpstreamError);
  assert.equal(breaker.state, "closed", "below the volume threshold it stays closed");
  await assert.rejects(breaker.run(fail(), no), UpstreamError);
  assert.equal(breaker.state, "open");
  assert.equal(breaker.admits, false);
  let called = false;
  await assert.rejects(
    breaker.run(async () => {
      called = true;
    }, no),
    BreakerOpenError,
  );
  assert.equal(called, false, "an open breaker does not call the backend");
  breaker.shutdown();
});

test("half-open admits exactly one probe; its success closes the breaker", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"] });
  const breaker = new Breaker("b", config, logger);
  for (let i = 0; i < 4; i++) await assert.rejects(breaker.run(fail(), no), UpstreamError);
  assert.equal(breaker.state, "open");
  t.mock.timers.tick(999);
  assert.equal(breaker.state, "open");
  t.mock.timers.tick(1);
  assert.equal(breaker.state, "half_open");
  assert.equal(breaker.admits, true);

  let finishProbe: (v: string) => void = () => {};
  const probe = breaker.run(() => new Promise<string>((resolve) => (finishProbe = resolve)), no);
  assert.equal(breaker.admits, false, "the probe is out: nobody else gets through");
  await assert.rejects(breaker.run(ok, no), BreakerOpenError);
  await assert.rejects(breaker.run(ok, no), BreakerOpenError);
  finishProbe("fine");
  assert.equal(await probe, "fine");
  assert.equal(breaker.state, "closed");
  assert.equal(await breaker.run(ok, no), "ok");
  breaker.shutdown();
});

test("a failed probe re-opens it for another reset period", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"] });
  const breaker = new Breaker("b", config, logger);
  for (let i = 0; i < 4; i++) await assert.rejects(breaker.run(fail(), no), UpstreamError);
  t.mock.timers.tick(1000);
  await assert.rejects(breaker.run(fail("timeout"), no), UpstreamError);
  assert.equal(breaker.state, "open");
  t.mock.timers.tick(1000);
  assert.equal(breaker.state, "half_open");
  breaker.shutdown();
});

test("429s and the caller's own errors never open it", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"] });
  const breaker = new Breaker("b", config, logger);
  for (let i = 0; i < 20; i++) await assert.rejects(breaker.run(fail("rate_limited"), no), UpstreamError);
  for (let i = 0; i < 20; i++) await assert.rejects(breaker.run(fail("bad_request"), no), UpstreamError);
  // Failures the caller caused (cancel, deadline) are neutral too.
  for (let i = 0; i < 20; i++)
    await assert.rejects(
      breaker.run(fail("timeout"), () => true),
      UpstreamError,
    );
  assert.equal(breaker.state, "closed");
  breaker.shutdown();
});

test("the rolling window forgets old failures", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"] });
  const breaker = new Breaker("b", config, logger);
  for (let i = 0; i < 3; i++) await assert.rejects(breaker.run(fail(), no), UpstreamError);
  t.mock.timers.tick(11_000); // the window (10 s) has rolled past those failures
  for (let i = 0; i < 3; i++) await assert.rejects(breaker.run(fail(), no), UpstreamError);
  assert.equal(breaker.state, "closed", "three recent failures are still below the volume threshold");
  breaker.shutdown();
});
