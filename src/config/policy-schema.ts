import { z } from "zod";
import { NAME, nameMessage } from "./names.ts";

/**
 * The `policies` section (docs/policies.md): guardrails, CEL rules and the response cache's store.
 * Which routes a guardrail or rule applies to is named here; a route opts into caching itself.
 */

const name = () => z.string().regex(NAME, nameMessage);
/** Route or team names, or "*" for all. */
const matchList = (fallback: string[]) => z.array(z.string().min(1)).default(fallback);

const contentKind = z.enum(["text", "image", "audio", "document", "tool_result"]);

const guardrailSchema = z
  .strictObject({
    name: name(),
    /** Routes it applies to ("*" = all; [] = only when a rule requires it). */
    routes: matchList(["*"]),
    /** Teams it applies to ("*" = every caller, also keys without a team). */
    teams: matchList(["*"]),
    /** block: refuse the request; mask: replace what matched; monitor: record only. */
    mode: z.enum(["block", "mask", "monitor"]).default("block"),
    /** Input (the prompt), output (the answer), or both. */
    stages: z
      .array(z.enum(["input", "output"]))
      .min(1)
      .default(["input", "output"]),
    /** Built-in detectors. */
    detect: z.array(z.enum(["email", "phone", "payment_card", "iban", "secret"])).default([]),
    /** Regular expressions that must not appear; `maxLength` bounds a match (the stream look-behind). */
    deny: z
      .array(
        z.strictObject({
          name: name(),
          pattern: z.string().min(1).max(1000),
          maxLength: z.number().int().min(1).max(4096).optional(),
        }),
      )
      .default([]),
    /** Keywords (whole words, any case) of topics that must not come up. */
    topics: z
      .array(z.strictObject({ name: name(), keywords: z.array(z.string().min(1).max(100)).min(1) }))
      .default([]),
    /** Size and shape rules on the request (input only; always block). */
    shape: z
      .strictObject({
        maxInputTokens: z.number().int().min(1).optional(),
        maxImages: z.number().int().min(0).optional(),
        allowedContent: z.array(contentKind).optional(),
        allowedTools: z.array(z.string().min(1)).optional(),
      })
      .optional(),
    /** An external guardrail service (switchyard.guard.v1.GuardService over gRPC). */
    external: z
      .strictObject({
        url: z.url(),
        timeoutMs: z.number().int().min(1).max(60_000).default(500),
        /** The rule ids the service may report; any other reason is recorded as "external". */
        reasons: z.array(z.string().regex(/^[a-z0-9_.:-]{1,64}$/)).optional(),
      })
      .optional(),
    /** When the external service fails or times out: open = allow, closed = refuse. */
    failMode: z.enum(["open", "closed"]).default("closed"),
  })
  .refine(
    (g) =>
      g.detect.length > 0 ||
      g.deny.length > 0 ||
      g.topics.length > 0 ||
      g.shape !== undefined ||
      g.external !== undefined,
    { message: "a guardrail needs something to check: detect, deny, topics, shape or external" },
  );

const ruleSchema = z.strictObject({
  name: name(),
  /** Routes it applies to ("*" = all). */
  routes: matchList(["*"]),
  /** A boolean CEL expression over the request's facts (docs/policies.md). */
  when: z.string().min(1),
  action: z.union([
    z.strictObject({ deny: z.string().min(1).max(500) }),
    z.strictObject({ capMaxTokens: z.number().int().min(1) }),
    z.strictObject({ requireGuardrail: name() }),
    z.strictObject({ variant: name() }),
  ]),
});

export const policiesSchema = z
  .strictObject({
    guardrails: z.array(guardrailSchema).default([]),
    rules: z.array(ruleSchema).default([]),
    /** Where cached responses live: memory (one process) or Redis (shared by replicas). */
    cacheStore: z
      .discriminatedUnion("type", [
        z.strictObject({
          type: z.literal("memory"),
          maxBytes: z
            .number()
            .int()
            .min(1024)
            .default(64 * 1024 * 1024),
          maxEntryBytes: z
            .number()
            .int()
            .min(256)
            .default(1024 * 1024),
        }),
        z.strictObject({
          type: z.literal("redis"),
          url: z.string().min(1),
          keyPrefix: z.string().default("switchyard:"),
          maxEntryBytes: z
            .number()
            .int()
            .min(256)
            .default(1024 * 1024),
        }),
      ])
      .default({ type: "memory", maxBytes: 64 * 1024 * 1024, maxEntryBytes: 1024 * 1024 }),
  })
  .prefault({});

/** A route's response cache (exact match): off unless set. */
export const routeCacheSchema = z.strictObject({
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600),
  /** Entries are shared by a team's keys (default), or kept per key. Never across teams. */
  scope: z.enum(["team", "key"]).default("team"),
  /** Cache answers that call tools (their side effects would be skipped on a hit). */
  toolCalls: z.boolean().default(false),
});

export type GuardrailConfig = z.infer<typeof guardrailSchema>;
export type RuleConfig = z.infer<typeof ruleSchema>;
export type RouteCacheConfig = z.infer<typeof routeCacheSchema>;
