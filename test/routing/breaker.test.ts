import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
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

/** A breaker whose four failures opened it, a reset period later: half-open, its probe unused. */
function halfOpen(t: TestContext) {
  t.mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"] });
  const breaker = new Breaker("b", config, logger);
  return (async () => {
    for (let i = 0; i < 4; i++) await assert.rejects(breaker.run(fail(), no), UpstreamError);
    t.mock.timers.tick(config.resetTimeoutMs);
    assert.equal(breaker.state, "half_open");
    return breaker;
  })();
}

/** The next call is a probe again: admitted, and while it is out nobody else is. */
async function assertProbeAgain(breaker: Breaker): Promise<void> {
  assert.equal(breaker.state, "half_open");
  assert.equal(breaker.admits, true, "the next call is again a probe");
  let finish: (v: string) => void = () => {};
  const probe = breaker.run(() => new Promise<string>((resolve) => (finish = resolve)), no);
  assert.equal(breaker.admits, false, "one probe at a time");
  await assert.rejects(breaker.run(ok, no), BreakerOpenError);
  finish("up again");
  assert.equal(await probe, "up again");
  assert.equal(breaker.state, "closed", "a real success still closes it");
}

describe("a half-open probe that says nothing about the backend leaves it half-open", () => {
  test("the caller cancelled the probe (a neutral failure)", async (t) => {
    const breaker = await halfOpen(t);
    await assert.rejects(
      breaker.run(fail("timeout"), () => true),
      UpstreamError,
    );
    await assertProbeAgain(breaker);
    breaker.shutdown();
  });

  test("the probe was rate limited (429)", async (t) => {
    const breaker = await halfOpen(t);
    await assert.rejects(breaker.run(fail("rate_limited"), no), UpstreamError);
    await assertProbeAgain(breaker);
    breaker.shutdown();
  });

  test("the probe was the caller's bad request", async (t) => {
    const breaker = await halfOpen(t);
    await assert.rejects(breaker.run(fail("bad_request"), no), UpstreamError);
    await assertProbeAgain(breaker);
    breaker.shutdown();
  });

  test("after a neutral probe, a real failure re-opens it for another reset period", async (t) => {
    const breaker = await halfOpen(t);
    await assert.rejects(
      breaker.run(fail("timeout"), () => true),
      UpstreamError,
    );
    assert.equal(breaker.state, "half_open");
    await assert.rejects(breaker.run(fail("unavailable"), no), UpstreamError);
    assert.equal(breaker.state, "open");
    assert.equal(breaker.admits, false);
    t.mock.timers.tick(config.resetTimeoutMs - 1);
    assert.equal(breaker.state, "open");
    t.mock.timers.tick(1);
    assert.equal(breaker.state, "half_open");
    breaker.shutdown();
  });

  test("a half-open probe that fails for real re-opens it; one that succeeds closes it", async (t) => {
    const breaker = await halfOpen(t);
    await assert.rejects(breaker.run(fail("overloaded"), no), UpstreamError);
    assert.equal(breaker.state, "open");
    t.mock.timers.tick(config.resetTimeoutMs);
    assert.equal(await breaker.run(ok, no), "ok");
    assert.equal(breaker.state, "closed");
    breaker.shutdown();
  });
});
