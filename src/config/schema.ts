import { z } from "zod";
import { NAME, nameMessage } from "./names.ts";
import { policiesSchema, routeCacheSchema } from "./policy-schema.ts";

/**
 * The config file's shape, with defaults. Documented in docs/config.md; keep
 * the two in step. Strict objects: a misspelt key is an error, not ignored.
 */

const ms = (fallback: number) => z.number().int().min(0).default(fallback);

/** Per-backend circuit breaker (opossum), covering connect → first event of each attempt. */
const breakerSchema = z
  .strictObject({
    /** Calls in the rolling window before the error rate is judged. */
    volumeThreshold: z.number().int().min(1).default(10),
    /** Open when more than this share of calls in the window failed. */
    errorThresholdPercentage: z.number().min(1).max(100).default(50),
    /** How long it stays open before one probe is let through (half-open). */
    resetTimeoutMs: z.number().int().min(1).default(30_000),
    /** Length of the rolling window of statistics. */
    rollingWindowMs: z.number().int().min(100).default(10_000),
  })
  .prefault({});

/** Active health check; when set, an unhealthy backend is not chosen until it recovers. */
const healthCheckSchema = z.strictObject({
  intervalMs: z.number().int().min(100).default(10_000),
  timeoutMs: z.number().int().min(10).default(2_000),
  /** HTTP backends: path on the backend's origin, e.g. /health (vLLM, llama-server) or /v1/models. */
  path: z.string().startsWith("/").optional(),
});

/** What a backend can do; each type has defaults, override for servers that lack a feature. */
const capabilitiesSchema = z.strictObject({
  streaming: z.boolean().optional(),
  tools: z.boolean().optional(),
  jsonSchema: z.boolean().optional(),
  embeddings: z.boolean().optional(),
  vision: z.boolean().optional(),
  audio: z.boolean().optional(),
  documents: z.boolean().optional(),
  reasoning: z.boolean().optional(),
  caching: z.boolean().optional(),
  logprobs: z.boolean().optional(),
});

const common = {
  /** When true, a missing secret variable disables this backend instead of failing the config. */
  optional: z.boolean().default(false),
  breaker: breakerSchema,
  healthCheck: healthCheckSchema.optional(),
  capabilities: capabilitiesSchema.optional(),
  /** Forward the caller's trace context (traceparent) to this backend; only for backends you operate. */
  trusted: z.boolean().default(false),
};

const echoBackend = z.strictObject({
  ...common,
  type: z.literal("echo"),
  /** Pause between streamed words, to make streams observable in demos and tests. */
  chunkDelayMs: ms(0),
  /** Vector size of echo embeddings. */
  dimensions: z.number().int().min(1).max(4096).default(16),
});

const openaiBackend = z.strictObject({
  ...common,
  type: z.literal("openai"),
  /** Base URL including the API prefix, e.g. https://api.openai.com/v1 */
  baseUrl: z.url({ protocol: /^https?$/ }),
  /** Secret by reference only: "${OPENAI_API_KEY}". */
  apiKey: z.string().optional(),
  /**
   * Which name the output cap is sent under. Unset: the quirk profile decides (openai: max_completion_tokens
   * for o-series / gpt-5 reasoning models, max_tokens otherwise; every other profile: max_tokens).
   */
  maxTokensField: z.enum(["max_tokens", "max_completion_tokens"]).optional(),
  /** Which server's dialect of the API to speak (src/adapters/openai/quirks.ts). */
  quirks: z.enum(["openai", "vllm", "ollama", "llama-server", "mistral"]).default("openai"),
  /** Upstream API: Chat Completions, or OpenAI's Responses API (encrypted reasoning; quirks openai only). */
  api: z.enum(["chat", "responses"]).default("chat"),
  /** Most concurrent connections to this backend. */
  connections: z.number().int().min(1).max(4096).default(64),
  connectTimeoutMs: ms(5000),
});

/** The Responses API is OpenAI's own; the OpenAI-compatible servers speak Chat Completions only. */
const checkedOpenaiBackend = openaiBackend.refine((c) => c.api === "chat" || c.quirks === "openai", {
  message: "api: responses is allowed only with quirks: openai",
  path: ["api"],
});

const anthropicBackend = z.strictObject({
  ...common,
  type: z.literal("anthropic"),
  /** Origin without /v1, e.g. https://api.anthropic.com */
  baseUrl: z.url({ protocol: /^https?$/ }).default("https://api.anthropic.com"),
  /** Secret by reference only: "${ANTHROPIC_API_KEY}". */
  apiKey: z.string().optional(),
  /** Pinned per backend; request rules differ per version (2026-10-21 takes no temperature/top_p). */
  apiVersion: z.enum(["2023-06-01", "2026-10-21"]).default("2023-06-01"),
  /** Sent as max_tokens (required by Anthropic) when the caller gives no output cap. */
  defaultMaxTokens: z.number().int().min(1).default(4096),
  connections: z.number().int().min(1).max(4096).default(64),
  connectTimeoutMs: ms(5000),
});

const geminiBackend = z.strictObject({
  ...common,
  type: z.literal("gemini"),
  /** Base URL including the API version. */
  baseUrl: z.url({ protocol: /^https?$/ }).default("https://generativelanguage.googleapis.com/v1beta"),
  /** Secret by reference only: "${GEMINI_API_KEY}". Sent as x-goog-api-key. */
  apiKey: z.string().optional(),
  connections: z.number().int().min(1).max(4096).default(64),
  connectTimeoutMs: ms(5000),
});

const kserveBackend = z.strictObject({
  ...common,
  type: z.literal("kserve"),
  /** gRPC endpoint: http://host:8001 (h2c) or https://host:port (TLS). */
  address: z.url({ protocol: /^https?$/ }),
  /** Secret by reference only: "${TRITON_API_KEY}"; sent as authorization: Bearer metadata. */
  apiKey: z.string().optional(),
  /** Tensor names/types of the served LLM, checked against ModelMetadata at start-up. */
  profile: z.enum(["vllm", "tensorrt-llm"]),
  /** Decoupled models answer only on ModelStreamInfer. Default: true for vllm, false for tensorrt-llm. */
  decoupled: z.boolean().optional(),
  /** Output cap when the caller gives none (vLLM's own default is 16). */
  defaultMaxTokens: z.number().int().min(1).default(1024),
  maxMessageBytes: z
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
});

const teiBackend = z.strictObject({
  ...common,
  type: z.literal("tei"),
  /** gRPC endpoint of text-embeddings-inference (its gRPC build). */
  address: z.url({ protocol: /^https?$/ }),
  apiKey: z.string().optional(),
  normalize: z.boolean().default(true),
  truncate: z.boolean().default(false),
  truncationDirection: z.enum(["right", "left"]).default("right"),
  /** A prompt name from the model's sentence-transformers config, e.g. "query". */
  promptName: z.string().min(1).optional(),
  maxMessageBytes: z
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
});

export const backendSchema = z.discriminatedUnion("type", [
  echoBackend,
  checkedOpenaiBackend,
  anthropicBackend,
  geminiBackend,
  kserveBackend,
  teiBackend,
]);

const targetSchema = z.strictObject({
  backend: z.string().min(1),
  /** Model id sent to the backend. */
  model: z.string().min(1),
  /** Other name callers may use for this target in the `model` field. */
  alias: z.string().min(1).optional(),
  /** Share of traffic under the weighted strategy. */
  weight: z.number().min(0).default(1),
  /** Tokens the model accepts (input + output); requests that would not fit skip this target. */
  contextWindow: z.number().int().min(1).optional(),
  /** This model's own capabilities over its backend's (e.g. a text-only model: `vision: false`). */
  capabilities: capabilitiesSchema.optional(),
});

const strategySchema = z.enum(["priority", "weighted", "least-latency", "least-cost"]);

/** A route variant: when its conditions all hold, its targets (and strategy) replace the route's. */
const variantSchema = z.strictObject({
  name: z.string().min(1),
  when: z.strictObject({
    /** Request metadata entries that must all be equal. */
    metadata: z.record(z.string(), z.string()).optional(),
    /** The caller's team (from its API key). */
    team: z.string().optional(),
    /** The caller's key id. */
    keyId: z.string().optional(),
    /** The model the caller asked for. */
    model: z.string().optional(),
    /** Estimated input tokens at least this many (e.g. long prompts → long-context model). */
    minInputTokens: z.number().int().min(0).optional(),
  }),
  strategy: strategySchema.optional(),
  targets: z.array(targetSchema).min(1),
});

const routeSchema = z.strictObject({
  description: z.string().default(""),
  operations: z
    .array(z.enum(["generate", "embed"]))
    .min(1)
    .default(["generate"]),
  /** Candidates; the strategy orders them, the next one serves when one fails before output. */
  targets: z.array(targetSchema).min(1),
  strategy: strategySchema.default("priority"),
  /** Checked in order; the first whose conditions hold replaces targets (and strategy). */
  variants: z.array(variantSchema).default([]),
  retry: z
    .strictObject({
      /** Most upstream attempts per request, across all targets (failovers and retries). */
      maxAttempts: z.number().int().min(1).max(10).default(3),
      /** Backoff before retrying a target already tried: full jitter in [0, min(max, base·2^n)). */
      backoffBaseMs: z.number().int().min(0).default(100),
      backoffMaxMs: z.number().int().min(0).default(2_000),
    })
    .prefault({}),
  /** When a budget covering this request is exhausted: serve it from this (cheaper) workload instead. */
  budgetDowngrade: z.string().regex(NAME, nameMessage).optional(),
  /** Exact-match response cache for this route (docs/policies.md#response-cache). */
  cache: routeCacheSchema.optional(),
  timeouts: z
    .strictObject({
      /** Bound on the whole request, all attempts together; the caller's deadline may be shorter. */
      totalMs: z.number().int().min(1).default(120_000),
      /** Streams: most time from an attempt's start to its first event. */
      ttftMs: z.number().int().min(1).default(30_000),
      /** Streams: most time between two events once output has started. */
      streamIdleMs: z.number().int().min(1).default(30_000),
      /** An attempt that has a successor may use at most this share of the remaining time. */
      attemptShare: z.number().gt(0).max(1).default(0.5),
    })
    .prefault({}),
});

/** An origin as browsers send it (`scheme://host[:port]`), with at most one `*` for the leftmost label. */
const ORIGIN = /^(\*|https?:\/\/(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?)$/;

/** CORS for browser clients on other origins (off unless origins are listed): see docs/config.md. */
const corsSchema = z
  .strictObject({
    allowedOrigins: z
      .array(
        z.string().regex(ORIGIN, "an origin such as https://app.example.com, https://*.example.com or *"),
      )
      .default([]),
    allowCredentials: z.boolean().default(false),
    maxAgeSeconds: z.number().int().min(0).max(86_400).default(600),
  })
  .refine((c) => !(c.allowCredentials && c.allowedOrigins.includes("*")), {
    message: "allowCredentials cannot be combined with the origin * (browsers refuse it; list the origins)",
  });

const serverSchema = z.strictObject({
  host: z.string().default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(8080),
  tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
  cors: corsSchema.optional(),
  limits: z
    .strictObject({
      /** Largest request message accepted (RESOURCE_EXHAUSTED above it). */
      maxRequestBytes: z
        .number()
        .int()
        .min(1024)
        .default(4 * 1024 * 1024),
      /** Largest response message sent. */
      maxResponseBytes: z
        .number()
        .int()
        .min(1024)
        .default(16 * 1024 * 1024),
      /** Longest deadline a caller may ask for; longer ones are capped to it. */
      maxTimeoutMs: z.number().int().min(1).default(600_000),
      /** HTTP/2 concurrent streams per connection. */
      maxConcurrentStreams: z.number().int().min(1).default(1000),
      /** Requests in flight above which new inference calls are shed (RESOURCE_EXHAUSTED / 429); 0 = no cap. */
      maxInFlightRequests: z.number().int().min(0).default(10_000),
      /** Event-loop lag (moving average, ~250 ms) the gateway holds by shedding a growing share of new inference calls; 0 = never. */
      maxEventLoopLagMs: z.number().int().min(0).default(50),
      /** From accept to a complete request head (HTTP/1.1), the HTTP/2 preface and first stream, or the TLS handshake. */
      headersTimeoutMs: z.number().int().min(1).default(10_000),
      /** A keep-alive HTTP/1.1 connection with no request, or an HTTP/2 session with no open stream, is closed after this. */
      idleTimeoutMs: z.number().int().min(1).default(60_000),
      /** From a request's head to the last byte of its body; the response may take longer (streams are never cut by it). */
      requestTimeoutMs: z.number().int().min(1).default(300_000),
      /** Open client connections; the ones over it are closed at once; 0 = no cap. */
      maxConnections: z.number().int().min(0).default(10_000),
      /** Images, audio and documents in a request (docs/limits.md); maxRequestBytes bounds the whole message first. */
      media: z
        .strictObject({
          maxPartBytes: z
            .number()
            .int()
            .min(1)
            .default(5 * 1024 * 1024),
          maxRequestBytes: z
            .number()
            .int()
            .min(1)
            .default(20 * 1024 * 1024),
          maxParts: z.number().int().min(1).default(100),
        })
        .prefault({}),
    })
    .prefault({}),
  /** On SIGTERM, how long in-flight calls may take to finish before they are cut. */
  shutdownGraceMs: ms(15_000),
});

/** USD per million tokens of each class; unset classes fall back as noted (docs/metering.md). */
const tokenRates = {
  /** Uncached text input. */
  input: z.number().min(0),
  /** Output, reasoning included unless `reasoning` is set. */
  output: z.number().min(0),
  /** Input read from the prompt cache; default `input`. */
  cacheRead: z.number().min(0),
  /** The former name of `cacheRead` (kept so existing configs load). */
  cachedInput: z.number().min(0),
  /** Input written to the prompt cache with a 5-minute (or unreported) TTL; default `input`. */
  cacheWrite: z.number().min(0),
  /** Input written to the prompt cache with a one-hour TTL; default `cacheWrite`. */
  cacheWrite1h: z.number().min(0),
  /** Output spent reasoning; default `output`. */
  reasoning: z.number().min(0),
  /** Audio input; default `input`. */
  audioInput: z.number().min(0),
  /** Image input; default `input`. */
  imageInput: z.number().min(0),
  /** USD per request, on top of the tokens. */
  perRequest: z.number().min(0),
};
const oneCacheReadName = {
  check: (p: { cacheRead?: number | undefined; cachedInput?: number | undefined }) =>
    p.cacheRead === undefined || p.cachedInput === undefined,
  message: "set cacheRead or its former name cachedInput, not both",
};

/**
 * The price of a provider service tier (the tier the provider reports serving, e.g. OpenAI "flex"):
 * each rate set here replaces the base one; the others are the base rates × `multiplier`.
 */
const tierPriceSchema = z
  .strictObject({ multiplier: z.number().min(0).default(1), ...partialRates() })
  .refine(oneCacheReadName.check, oneCacheReadName.message);

function partialRates() {
  return Object.fromEntries(Object.entries(tokenRates).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof typeof tokenRates]: z.ZodOptional<(typeof tokenRates)[K]>;
  };
}

/** USD per million tokens (and per request), for cost tracking and the least-cost strategy. */
const priceSchema = z
  .strictObject({
    ...partialRates(),
    input: tokenRates.input,
    output: tokenRates.output.default(0),
    perRequest: tokenRates.perRequest.default(0),
    /** Served tiers priced differently from the base (unlisted tiers, auto and default pay the base). */
    serviceTiers: z.strictObject({ flex: tierPriceSchema, priority: tierPriceSchema }).partial().optional(),
  })
  .refine(oneCacheReadName.check, oneCacheReadName.message);

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  log: z
    .strictObject({
      level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
      /** stdout, stderr, or a file path (appended to). */
      destination: z.string().min(1).default("stdout"),
    })
    .prefault({}),
  backends: z.record(z.string().regex(NAME, nameMessage), backendSchema),
  routes: z.record(z.string().regex(NAME, nameMessage), routeSchema),
  routing: z
    .strictObject({
      /** Concurrent retries to a backend may be at most this share of its active attempts… */
      retryBudgetPercent: z.number().min(0).max(100).default(20),
      /** …but at least this many. */
      minRetryConcurrency: z.number().int().min(0).default(3),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /** Off only by an explicit `enabled: false` (start-up then warns loudly): every caller is admin. */
      enabled: z.boolean().default(true),
      /** How long a key lookup is cached: the bound on revocation reaching every replica. */
      cacheTtlMs: z.number().int().min(0).max(300_000).default(5_000),
      /**
       * When the key store is empty at start-up, mint the first admin key and write it to this
       * file (mode 0600) instead of any log. Alternatives: SWITCHYARD_BOOTSTRAP_KEY, or the CLI.
       */
      bootstrapKeyFile: z.string().min(1).optional(),
    })
    .prefault({}),
  store: z
    .discriminatedUnion("type", [
      z.strictObject({ type: z.literal("sqlite"), path: z.string().min(1) }),
      z.strictObject({
        type: z.literal("postgres"),
        /** Secret by reference when it carries a password: "${DATABASE_URL}". */
        url: z.string().min(1),
        schema: z.string().optional(),
        poolSize: z.number().int().min(1).max(200).optional(),
      }),
      z.strictObject({ type: z.literal("memory") }),
    ])
    .default({ type: "sqlite", path: ".switchyard/switchyard.db" }),
  telemetry: z
    .strictObject({
      metrics: z
        .strictObject({
          /** Prometheus text format on the gateway's own port. */
          enabled: z.boolean().default(true),
          path: z.string().startsWith("/").default("/metrics"),
        })
        .prefault({}),
      tracing: z
        .strictObject({
          /** Export spans over OTLP/HTTP; also switched on by OTEL_EXPORTER_OTLP_ENDPOINT. */
          enabled: z.boolean().default(false),
          /** OTLP/HTTP traces URL; default from the standard OTEL_EXPORTER_OTLP_* variables. */
          endpoint: z.url().optional(),
          /** Share of new traces sampled (continued traces follow the caller's decision). */
          sampleRatio: z.number().min(0).max(1).default(1),
        })
        .prefault({}),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** memory: one process. redis: shared by every replica using the same URL and prefix. */
      store: z
        .discriminatedUnion("type", [
          z.strictObject({ type: z.literal("memory") }),
          z.strictObject({
            type: z.literal("redis"),
            url: z.string().min(1),
            keyPrefix: z.string().default("switchyard:"),
            /** What to do when Redis is unreachable: open = allow requests, closed = refuse them. */
            failureMode: z.enum(["open", "closed"]).default("open"),
            commandTimeoutMs: z.number().int().min(10).default(500),
          }),
        ])
        .default({ type: "memory" }),
      /** Each matching rule applies; all buckets are charged atomically (all or nothing). */
      rules: z
        .array(
          z
            .strictObject({
              /** What the limit is counted per. */
              scope: z.enum(["key", "team", "workload"]),
              /** A key id, team or workload; "*" = every one separately. */
              match: z.string().min(1).default("*"),
              requestsPerMinute: z.number().int().min(1).optional(),
              /** Tokens as `tokens` counts them; admission reserves an estimate, settlement charges the actual. */
              tokensPerMinute: z.number().int().min(1).optional(),
              /** Which tokens tokensPerMinute counts (docs/limits.md); default every input and output token. */
              tokens: z
                .strictObject({
                  count: z
                    .array(z.enum(["input", "output"]))
                    .min(1)
                    .default(["input", "output"]),
                  /** Cache reads are not counted as input (they still are in the ledger). */
                  excludeCacheReads: z.boolean().default(false),
                })
                .optional(),
            })
            .refine((r) => r.tokens === undefined || r.tokensPerMinute !== undefined, {
              message: "tokens says how tokensPerMinute counts: set tokensPerMinute too",
              path: ["tokens"],
            }),
        )
        .default([]),
    })
    .prefault({}),
  /** Spend budgets in USD over calendar windows; admission reserves the request's maximum cost. */
  budgets: z
    .array(
      z.strictObject({
        scope: z.enum(["key", "team", "workload"]),
        match: z.string().min(1).default("*"),
        period: z.enum(["day", "week", "month"]),
        limitUsd: z.number().positive(),
        /** IANA time zone of the calendar window. */
        timezone: z.string().default("UTC"),
      }),
    )
    .default([]),
  metering: z
    .strictObject({
      /** Append-only journal of usage records not yet in the ledger store: survives a crash. */
      journalPath: z.string().min(1).optional(),
      /** Include the bundled price list (docs/metering.md); `prices` entries override it. */
      defaultPrices: z.boolean().default(true),
    })
    .prefault({}),
  /** Keyed by "backend/model" or by model id alone (the first wins). */
  prices: z.record(z.string(), priceSchema).default({}),
  /** Guardrails, CEL rules and the response cache's store (docs/policies.md). */
  policies: policiesSchema,
});

export type Config = z.infer<typeof configSchema>;
export type BackendConfig = z.infer<typeof backendSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
export type Strategy = z.infer<typeof strategySchema>;
export type Price = z.infer<typeof priceSchema>;
export type TierPrice = z.infer<typeof tierPriceSchema>;
export type BreakerConfig = z.infer<typeof breakerSchema>;
