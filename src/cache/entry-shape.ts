import type {
  AdapterEvent,
  FinishReason,
  ServiceTier,
  TokenLogprob,
  TokenUsage,
} from "../adapters/adapter.ts";

/**
 * Shape checks for decoded cache entries. Whatever Redis hands back is untrusted (another
 * version, a truncated write, someone's SET): each check returns a fresh copy holding only the
 * known fields, or undefined. Never throws.
 */

type Obj = Record<string, unknown>;

const FINISH: ReadonlySet<string> = new Set<FinishReason>([
  "stop",
  "length",
  "tool_calls",
  "content_filter",
  "other",
]);
const TIERS: ReadonlySet<string> = new Set<ServiceTier>(["auto", "default", "flex", "priority"]);
const USAGE_REQUIRED = ["inputTokens", "outputTokens", "cachedInputTokens"] as const;
const USAGE_OPTIONAL = [
  "reasoningTokens",
  "cacheWriteTokens",
  "cacheWrite1hTokens",
  "audioInputTokens",
  "imageInputTokens",
] as const;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
/** Optional: absent, or of the right type. */
const opt = (v: unknown, check: (x: unknown) => boolean): boolean => v === undefined || check(v);
const isStr = (v: unknown): v is string => typeof v === "string";
const isBool = (v: unknown): v is boolean => typeof v === "boolean";

export function validEvent(e: unknown): AdapterEvent | undefined {
  if (!isObj(e)) return undefined;
  switch (e.type) {
    case "text": {
      if (!isStr(e.text)) return undefined;
      if (e.logprobs === undefined) return { type: "text", text: e.text };
      const logprobs = validLogprobs(e.logprobs);
      return logprobs ? { type: "text", text: e.text, logprobs } : undefined;
    }
    case "tool_call": {
      if (!isCount(e.index) || !isStr(e.argumentsDelta) || !opt(e.id, isStr) || !opt(e.name, isStr))
        return undefined;
      return {
        type: "tool_call",
        index: e.index,
        ...(e.id !== undefined ? { id: e.id as string } : {}),
        ...(e.name !== undefined ? { name: e.name as string } : {}),
        argumentsDelta: e.argumentsDelta,
      };
    }
    case "reasoning": {
      if (!isCount(e.index) || !isStr(e.provider)) return undefined;
      if (![e.text, e.signature, e.encryptedContent, e.id].every((v) => opt(v, isStr))) return undefined;
      if (!opt(e.redacted, isBool)) return undefined;
      return {
        type: "reasoning",
        index: e.index,
        provider: e.provider,
        ...(e.text !== undefined ? { text: e.text as string } : {}),
        ...(e.signature !== undefined ? { signature: e.signature as string } : {}),
        ...(e.encryptedContent !== undefined ? { encryptedContent: e.encryptedContent as string } : {}),
        ...(e.id !== undefined ? { id: e.id as string } : {}),
        ...(e.redacted !== undefined ? { redacted: e.redacted as boolean } : {}),
      };
    }
    case "usage": {
      const usage = validUsage(e.usage);
      return usage ? { type: "usage", usage } : undefined;
    }
    case "finish": {
      if (!isStr(e.reason) || !FINISH.has(e.reason) || !opt(e.model, isStr)) return undefined;
      if (!opt(e.serviceTier, (t) => isStr(t) && TIERS.has(t))) return undefined;
      return {
        type: "finish",
        reason: e.reason as FinishReason,
        ...(e.model !== undefined ? { model: e.model as string } : {}),
        ...(e.serviceTier !== undefined ? { serviceTier: e.serviceTier as ServiceTier } : {}),
      };
    }
    default:
      return undefined;
  }
}

function validUsage(u: unknown): TokenUsage | undefined {
  if (!isObj(u)) return undefined;
  if (!USAGE_REQUIRED.every((k) => isCount(u[k])) || !USAGE_OPTIONAL.every((k) => opt(u[k], isCount)))
    return undefined;
  const usage: TokenUsage = {
    inputTokens: u.inputTokens as number,
    outputTokens: u.outputTokens as number,
    cachedInputTokens: u.cachedInputTokens as number,
  };
  for (const k of USAGE_OPTIONAL) if (u[k] !== undefined) usage[k] = u[k] as number;
  return usage;
}

function validLogprobs(list: unknown): TokenLogprob[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const out: TokenLogprob[] = [];
  for (const lp of list) {
    if (!isObj(lp) || !isStr(lp.token) || !isNum(lp.logprob) || !Array.isArray(lp.topLogprobs))
      return undefined;
    if (!opt(lp.bytes, (b) => Array.isArray(b) && b.every((x) => isCount(x) && x <= 255))) return undefined;
    const top: TokenLogprob["topLogprobs"] = [];
    for (const t of lp.topLogprobs) {
      if (!isObj(t) || !isStr(t.token) || !isNum(t.logprob)) return undefined;
      top.push({ token: t.token, logprob: t.logprob });
    }
    out.push({
      token: lp.token,
      logprob: lp.logprob,
      ...(lp.bytes !== undefined ? { bytes: [...(lp.bytes as number[])] } : {}),
      topLogprobs: top,
    });
  }
  return out;
}
