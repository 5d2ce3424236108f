import { z } from "zod";

/**
 * The config file's shape, with defaults. Documented in docs/config.md; keep
 * the two in step. Strict objects: a misspelt key is an error, not ignored.
 */

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const nameMessage = "use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit";
const ms = (fallback: number) => z.number().int().min(0).default(fallback);

const echoBackend = z.strictObject({
  type: z.literal("echo"),
  /** Pause between streamed words, to make streams observable in demos and tests. */
  chunkDelayMs: ms(0),
  /** Vector size of echo embeddings. */
  dimensions: z.number().int().min(1).max(4096).default(16),
  optional: z.boolean().default(false),
});

const openaiBackend = z.strictObject({
  type: z.literal("openai"),
  /** Base URL including the API prefix, e.g. https://api.openai.com/v1 */
  baseUrl: z.url({ protocol: /^https?$/ }),
  /** Secret by reference only: "${OPENAI_API_KEY}". */
  apiKey: z.string().optional(),
  /** When true, a missing secret variable disables this backend instead of failing the config. */
  optional: z.boolean().default(false),
  /** OpenAI's newer name for the output cap; most compatible servers know only max_tokens. */
  maxTokensField: z.enum(["max_tokens", "max_completion_tokens"]).default("max_tokens"),
  /** Most concurrent connections to this backend. */
  connections: z.number().int().min(1).max(4096).default(64),
  connectTimeoutMs: ms(5000),
});

export const backendSchema = z.discriminatedUnion("type", [echoBackend, openaiBackend]);

const targetSchema = z.strictObject({
  backend: z.string().min(1),
  /** Model id sent to the backend. */
  model: z.string().min(1),
  /** Other name callers may use for this target in the `model` field. */
  alias: z.string().min(1).optional(),
});

const routeSchema = z.strictObject({
  description: z.string().default(""),
  operations: z
    .array(z.enum(["generate", "embed"]))
    .min(1)
    .default(["generate"]),
  /** Tried in order (priority); the next one serves when one fails before output. */
  targets: z.array(targetSchema).min(1),
  timeouts: z
    .strictObject({
      /** Bound on the whole request, all attempts together; the caller's deadline may be shorter. */
      totalMs: z.number().int().min(1).default(120_000),
    })
    .prefault({}),
});

const serverSchema = z.strictObject({
  host: z.string().default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(8080),
  tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
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
    })
    .prefault({}),
  /** On SIGTERM, how long in-flight calls may take to finish before they are cut. */
  shutdownGraceMs: ms(15_000),
});

export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
  log: z
    .strictObject({
      level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
    })
    .prefault({}),
  backends: z.record(z.string().regex(NAME, nameMessage), backendSchema),
  routes: z.record(z.string().regex(NAME, nameMessage), routeSchema),
});

export type Config = z.infer<typeof configSchema>;
export type BackendConfig = z.infer<typeof backendSchema>;
export type RouteConfig = z.infer<typeof routeSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
