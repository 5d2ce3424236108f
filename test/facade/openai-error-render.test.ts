import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { catalog, type Reason } from "../../src/errors/catalog.ts";
import { GatewayError } from "../../src/errors/gateway-error.ts";
import { OpenAIRequestError, renderError } from "../../src/facade/openai/errors.ts";

const REQUEST_ID = "0b7c2e9a-1111-4222-8333-944455556666";

/** The SDK's own choice of error class for a response. */
function sdkError(rendered: ReturnType<typeof renderError>) {
  return OpenAI.APIError.generate(
    rendered.status,
    rendered.body,
    rendered.body.error.message,
    new Headers(rendered.headers),
  );
}

const SDK_CLASS: Record<number, new (...args: never[]) => unknown> = {
  400: OpenAI.BadRequestError,
  401: OpenAI.AuthenticationError,
  403: OpenAI.PermissionDeniedError,
  404: OpenAI.NotFoundError,
  429: OpenAI.RateLimitError,
};

test("every catalog reason renders with its catalog HTTP status and OpenAI's body shape", () => {
  for (const reason of Object.keys(catalog) as Reason[]) {
    const rendered = renderError(new GatewayError(reason, `because ${reason}`), REQUEST_ID);
    const status = catalog[reason].http;
    assert.equal(rendered.status, status, reason);
    assert.deepEqual(Object.keys(rendered.body.error), ["message", "type", "param", "code"]);
    assert.equal(rendered.body.error.message, `because ${reason}`);
    assert.equal(rendered.body.error.code, reason, "one name: the body's code is the x-switchyard-reason");
    assert.equal(rendered.headers["x-request-id"], REQUEST_ID);
    assert.equal(rendered.headers["x-switchyard-reason"], reason);
    const error = sdkError(rendered);
    const expected = SDK_CLASS[status] ?? (status >= 500 ? OpenAI.InternalServerError : OpenAI.APIError);
    assert.ok(error instanceof expected, `${reason} (${status}) → ${error.constructor.name}`);
    assert.equal(error.status, status);
    assert.equal(error.code, rendered.body.error.code);
  }
});

test("auth rejections from the pipeline reach the SDK as AuthenticationError and PermissionDeniedError", () => {
  const unauthenticated = sdkError(
    renderError(new GatewayError("unauthenticated", "no valid API key"), REQUEST_ID),
  );
  assert.ok(unauthenticated instanceof OpenAI.AuthenticationError);
  assert.equal(unauthenticated.type, "authentication_error");
  const denied = sdkError(
    renderError(new GatewayError("permission_denied", "not this workload"), REQUEST_ID),
  );
  assert.ok(denied instanceof OpenAI.PermissionDeniedError);
  assert.equal(denied.type, "permission_error");
});

test("types per status follow OpenAI's", () => {
  const typeOf = (reason: Reason) => renderError(new GatewayError(reason, "x"), REQUEST_ID).body.error.type;
  assert.equal(typeOf("invalid_argument"), "invalid_request_error");
  assert.equal(typeOf("model_not_found"), "invalid_request_error");
  assert.equal(typeOf("message_too_large"), "invalid_request_error");
  assert.equal(typeOf("upstream_rate_limited"), "rate_limit_error");
  assert.equal(typeOf("upstream_unavailable"), "server_error");
  assert.equal(typeOf("deadline_exceeded"), "server_error");
});

test("429s and errors with a retry delay carry retry-after-ms and retry-after (seconds, rounded up)", () => {
  const limited = renderError(
    new GatewayError("upstream_rate_limited", "slow down", { retryAfterMs: 1500.2 }),
    REQUEST_ID,
  );
  assert.equal(limited.headers["retry-after-ms"], "1501");
  assert.equal(limited.headers["retry-after"], "2");
  const noHint = renderError(new GatewayError("upstream_rate_limited", "slow down"), REQUEST_ID);
  assert.equal(noHint.headers["retry-after-ms"], "1000");
  assert.equal(noHint.headers["retry-after"], "1");
  const unavailable = renderError(
    new GatewayError("upstream_unavailable", "down", { retryAfterMs: 250 }),
    REQUEST_ID,
  );
  assert.equal(unavailable.headers["retry-after-ms"], "250");
  assert.equal(unavailable.headers["retry-after"], "1");
  assert.equal(
    renderError(new GatewayError("invalid_argument", "x"), REQUEST_ID).headers["retry-after"],
    undefined,
  );
  // A misconfigured backend is the operator's to fix: the SDK must not retry the 503.
  assert.equal(
    renderError(new GatewayError("upstream_misconfigured", "x"), REQUEST_ID).headers["x-should-retry"],
    "false",
  );
});

test("unknown failures are a 500 with only the request id", () => {
  const rendered = renderError(new Error("db password is hunter2"), REQUEST_ID);
  assert.equal(rendered.status, 500);
  assert.deepEqual(rendered.body.error, {
    message: `internal error (request id ${REQUEST_ID})`,
    type: "server_error",
    param: null,
    code: "internal",
  });
  assert.ok(!JSON.stringify(rendered).includes("hunter2"));
});

test("facade request errors keep their param and REST-only status", () => {
  const rendered = renderError(
    new OpenAIRequestError("invalid_argument", "unsupported content-type", { status: 415 }),
    REQUEST_ID,
  );
  assert.equal(rendered.status, 415);
  assert.equal(rendered.body.error.code, "invalid_argument");
  const field = renderError(
    new OpenAIRequestError("invalid_argument", "top_p: bad", { param: "top_p" }),
    REQUEST_ID,
  );
  assert.equal(field.status, 400);
  assert.equal(field.body.error.param, "top_p");
});
