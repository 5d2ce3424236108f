/**
 * The one place a provider's own error code/type/status/reason is let through. What an upstream says
 * about its failure is untrusted: a hostile or broken server (or a proxy in front of it) can put the
 * prompt, or the Authorization header it received, into `error.code`, `error.type` or `param`. Error
 * messages, attempt records, spans, logs, audit and metrics only ever get a value from these fixed lists
 * (checked for shape and length first); anything else is dropped. Adapters may still read the raw fields
 * to classify a failure, as long as they do not store them.
 */

/** gRPC status codes by number; google.rpc.Status names (Gemini's `error.status`) are the same set. */
const GRPC_CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

const ALLOWED = {
  /**
   * OpenAI and the servers that copy its error shape (Azure, Groq, Together, vLLM, Ollama, llama-server,
   * Mistral): documented `error.code` and `error.type` values. Numeric codes are allowed separately.
   */
  openai: new Set([
    // OpenAI types
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "rate_limit_error",
    "insufficient_quota",
    "server_error",
    "api_error",
    "requests",
    "tokens",
    "conflict_error",
    "unprocessable_entity_error",
    // OpenAI codes
    "invalid_api_key",
    "rate_limit_exceeded",
    "model_not_found",
    "context_length_exceeded",
    "string_above_max_length",
    "missing_required_parameter",
    "unsupported_parameter",
    "unsupported_value",
    "invalid_value",
    "invalid_type",
    "invalid_prompt",
    "content_filter",
    "content_policy_violation",
    "billing_hard_limit_reached",
    "billing_not_active",
    "account_deactivated",
    "access_terminated",
    "organization_deactivated",
    "unsupported_country_region_territory",
    "invalid_organization",
    "invalid_project",
    "engine_overloaded",
    "model_overloaded",
    // Groq, Together, Azure
    "tool_use_failed",
    "json_validate_failed",
    "model_decommissioned",
    "model_not_available",
    "DeploymentNotFound",
    "ResponsibleAIPolicyViolation",
    // vLLM (FastAPI exception names)
    "BadRequestError",
    "NotFoundError",
    "InternalServerError",
    "TooManyRequests",
    "ServiceUnavailable",
    // llama-server
    "unavailable_error",
    "not_supported_error",
    "exceed_context_size_error",
    // Mistral
    "rate_limited",
    "invalid_function_call",
    "invalid_request_message_order",
    "invalid_model",
    "context_length_exceeded_error",
    // Cloudflare and other fronting proxies
    "cf_service_unavailable",
  ]),
  /** Anthropic's documented `error.type` values. */
  anthropic: new Set([
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "overloaded_error",
    "billing_error",
    "timeout_error",
  ]),
  /** google.rpc.Status `status` names (Gemini). */
  "google-status": new Set<string>(GRPC_CODE_NAMES),
  /** google.rpc.ErrorInfo reasons Google APIs send (the google.api.ErrorReason enum and Gemini's own). */
  "google-reason": new Set([
    "API_KEY_INVALID",
    "API_KEY_EXPIRED",
    "API_KEY_SERVICE_BLOCKED",
    "API_KEY_HTTP_REFERRER_BLOCKED",
    "API_KEY_IP_ADDRESS_BLOCKED",
    "API_KEY_ANDROID_APP_BLOCKED",
    "API_KEY_IOS_APP_BLOCKED",
    "ACCESS_TOKEN_EXPIRED",
    "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
    "ACCESS_TOKEN_TYPE_UNSUPPORTED",
    "ACCOUNT_STATE_INVALID",
    "BILLING_DISABLED",
    "CONSUMER_INVALID",
    "CONSUMER_SUSPENDED",
    "LOCATION_TAX_POLICY_VIOLATED",
    "ORG_RESTRICTION_HEADER_INVALID",
    "ORG_RESTRICTION_VIOLATION",
    "RATE_LIMIT_EXCEEDED",
    "RESOURCE_PROJECT_INVALID",
    "RESOURCE_QUOTA_EXCEEDED",
    "RESOURCE_USAGE_RESTRICTION_VIOLATED",
    "SECURITY_POLICY_VIOLATED",
    "SERVICE_DISABLED",
    "SESSION_COOKIE_INVALID",
    "SYSTEM_PARAMETER_UNSUPPORTED",
    "USER_BLOCKED_BY_ADMIN",
    "USER_PROJECT_DENIED",
  ]),
} as const;

export type CodeFamily = keyof typeof ALLOWED;

/** The shape every allowed value has; checked before the lookup so no odd string is even compared long. */
const SHAPE = /^[A-Za-z0-9_]{1,48}$/;
/** HTTP statuses (llama-server, vLLM) and Mistral's 4-digit codes: a bounded number says nothing secret. */
const NUMERIC = /^[1-9]\d{2,3}$/;

/**
 * The provider's code/type when it is one we know (or, for OpenAI-compatible servers, a 3–4 digit number),
 * else undefined. Never returns text the upstream chose freely.
 */
export function knownCode(family: CodeFamily, value: unknown): string | undefined {
  if (family === "openai" && typeof value === "number")
    return Number.isInteger(value) && NUMERIC.test(String(value)) ? String(value) : undefined;
  if (typeof value !== "string" || !SHAPE.test(value)) return undefined;
  if (family === "openai" && NUMERIC.test(value)) return value;
  return ALLOWED[family].has(value) ? value : undefined;
}

/** The first of `values` that is a known code of `family`. */
export function firstKnownCode(family: CodeFamily, ...values: unknown[]): string | undefined {
  for (const value of values) {
    const code = knownCode(family, value);
    if (code !== undefined) return code;
  }
  return undefined;
}

/** A gRPC status code's name, or "code N" for a number outside the standard 0–16. */
export function grpcCodeName(code: number): string {
  const name = Number.isInteger(code) ? GRPC_CODE_NAMES[code] : undefined;
  return name ?? `code ${Number.isInteger(code) ? code : "?"}`;
}
