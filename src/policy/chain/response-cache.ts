import type { AdapterEvent, GenerateOutput } from "../../adapters/adapter.ts";
import { type CachedResponse, entryFromOutput } from "../../cache/cache-entry.ts";
import { cacheKeyOf } from "../../cache/cache-key.ts";
import type { CacheStore } from "../../cache/cache-store.ts";
import type { RouteCacheConfig } from "../../config/policy-schema.ts";
import type { GenerationRequest } from "../../pipeline/pipeline.ts";
import type { Exchange, Policy, StreamEvent } from "./policy.ts";

/** Counts lookups per route and result (hit, miss, bypass), for the metrics. */
export type CacheCounter = (route: string, result: "hit" | "miss" | "bypass" | "stored") => void;

/**
 * The exact-match response cache of a route (opt-in: `routes.<name>.cache`). The key is the tenant
 * (team, or key when configured: never shared across teams, by construction of the key) + the
 * planned route + a canonical hash of the neutral request (cache-key.ts). A hit answers the request
 * from the store (the policies after this one do not run; the ledger records it as `cached`, cost 0);
 * a miss records what the caller got and stores it once the request settled ok — never an error, a
 * response a guardrail blocked, masked or flagged, or (unless configured) one that calls tools.
 * `cache-control: no-cache` (or `no-store`) in the request headers bypasses it.
 */
export function responseCache(
  route: string,
  config: RouteCacheConfig,
  store: CacheStore,
  maxEntryBytes: number,
  count: CacheCounter,
): Policy {
  const ttlMs = config.ttlSeconds * 1000;
  return {
    name: "cache",
    async admit(x) {
      if (x.kind !== "generate" || bypassed(x)) {
        count(route, "bypass");
        return undefined;
      }
      const principal = x.ctx.principal;
      const scope = { by: config.scope, ...teamAndKey(principal?.team, principal?.keyId) };
      if (scope.team === undefined && scope.keyId === undefined) return undefined; // no tenant: no cache
      const key = cacheKeyOf(scope, x.plan?.route.workload ?? x.ctx.workload, x.request as GenerationRequest);
      const hit = await store.get(key);
      if (hit) {
        count(route, "hit");
        x.answer = hit;
        x.ctx.decision.cached = true;
        return undefined;
      }
      count(route, "miss");
      const recorded: AdapterEvent[] = [];
      let bytes = 0;
      let tooLarge = false;
      const keep = (event: AdapterEvent) => {
        if (tooLarge) return;
        bytes += approximateBytes(event);
        if (bytes > maxEntryBytes) {
          tooLarge = true; // stop buffering: it would not be stored anyway
          recorded.length = 0;
        } else recorded.push(event);
      };
      return {
        async *stream(events: AsyncIterable<StreamEvent>) {
          for await (const event of events) {
            if (event.type !== "attempt" && event.type !== "commit") keep(event);
            yield event;
          }
        },
        output(output: GenerateOutput) {
          for (const event of entryFromOutput(output)) keep(event);
          return output;
        },
        settle(outcome) {
          if (outcome.status !== "ok" || tooLarge || recorded.length === 0) return;
          if (x.ctx.decision.policyActions.some((a) => a.policy === "guardrails")) return;
          const callsTools = recorded.some((e) => e.type === "tool_call");
          if (callsTools && !config.toolCalls) return;
          const entry: CachedResponse = { events: recorded, storedAt: Date.now() };
          void store.set(key, entry, ttlMs).then(() => count(route, "stored"));
        },
      };
    },
  };
}

function bypassed(x: Exchange): boolean {
  const header = x.ctx.headers.get("cache-control");
  return header !== null && /\bno-(cache|store)\b/i.test(header);
}

function teamAndKey(team: string | undefined, keyId: string | undefined): { team?: string; keyId?: string } {
  return { ...(team ? { team } : {}), ...(keyId ? { keyId } : {}) };
}

/** Roughly what an event weighs once encoded: enough to stop buffering a stream that is too large. */
function approximateBytes(event: AdapterEvent): number {
  if (event.type === "text") return event.text.length * 3 + 32;
  if (event.type === "tool_call") return (event.argumentsDelta.length + (event.name?.length ?? 0)) * 3 + 64;
  if (event.type === "reasoning") return JSON.stringify(event).length;
  return 128;
}
