// The allowlist of provider error codes (src/upstream/provider-code.ts): known values pass, anything an
// upstream made up is dropped, whatever its shape.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { firstKnownCode, grpcCodeName, knownCode } from "../../src/upstream/provider-code.ts";

describe("knownCode", () => {
  it("passes each family's documented values", () => {
    for (const code of [
      "insufficient_quota",
      "rate_limit_exceeded",
      "context_length_exceeded",
      "invalid_api_key",
    ])
      assert.equal(knownCode("openai", code), code);
    assert.equal(knownCode("anthropic", "overloaded_error"), "overloaded_error");
    assert.equal(knownCode("google-status", "RESOURCE_EXHAUSTED"), "RESOURCE_EXHAUSTED");
    assert.equal(knownCode("google-reason", "API_KEY_INVALID"), "API_KEY_INVALID");
  });

  it("passes 3–4 digit numeric codes of OpenAI-compatible servers (HTTP statuses, Mistral's codes)", () => {
    assert.equal(knownCode("openai", 503), "503");
    assert.equal(knownCode("openai", "3280"), "3280");
    for (const value of [12, 12345, "012", 3.5, -429, "99999999", Number.NaN]) {
      assert.equal(knownCode("openai", value), undefined, String(value));
    }
    assert.equal(knownCode("anthropic", "529"), undefined, "only the OpenAI family has numeric codes");
  });

  it("drops code-shaped values it does not know: a key or a prompt squeezed into [A-Za-z0-9_]", () => {
    for (const value of ["sk_proj_CANARY0001", "Bearer_sk_ant_api03_xyz", "ignore_previous_instructions"]) {
      assert.equal(knownCode("openai", value), undefined, value);
      assert.equal(knownCode("anthropic", value), undefined, value);
      assert.equal(knownCode("google-reason", value.toUpperCase()), undefined, value);
    }
  });

  it("drops anything of the wrong shape, length or type, and never matches an object's inherited keys", () => {
    const long = `invalid_request_error${"_".repeat(64)}`;
    for (const value of [
      long,
      "invalid request error",
      "Bearer sk-x",
      "",
      "constructor",
      "__proto__",
      "toString",
    ])
      assert.equal(knownCode("anthropic", value), undefined, value);
    for (const value of [null, undefined, {}, ["rate_limit_error"], true])
      assert.equal(knownCode("anthropic", value), undefined, String(value));
    assert.equal(knownCode("google-status", "invalid_argument"), undefined, "case matters");
  });

  it("firstKnownCode takes the first known value (OpenAI's code, else its type)", () => {
    assert.equal(firstKnownCode("openai", "sk_live_leak", "invalid_request_error"), "invalid_request_error");
    assert.equal(firstKnownCode("openai", "model_not_found", "invalid_request_error"), "model_not_found");
    assert.equal(firstKnownCode("openai", "made_up", ""), undefined);
  });
});

describe("grpcCodeName", () => {
  it("names the standard codes and only numbers otherwise", () => {
    assert.equal(grpcCodeName(3), "INVALID_ARGUMENT");
    assert.equal(grpcCodeName(16), "UNAUTHENTICATED");
    assert.equal(grpcCodeName(99), "code 99");
    assert.equal(grpcCodeName(Number.NaN), "code ?");
  });
});
