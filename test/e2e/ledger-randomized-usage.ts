// The randomized ledger test's usage and prices: the usage each fake reports, in OpenAI's wire shape
// with every token class, and an invoice-style cost of it computed here from integer rates, apart from
// the gateway's price table, so the ledger's cost is checked against an independent calculation.

/** What a fake reports (OpenAI usage with its details); every class is a part of its total. */
export type Usage = {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  audio_tokens: number;
  reasoning_tokens: number;
};

export type Tier = "default" | "flex";

/** A random usage: each class absent (0) half the time, else a random share of what is left. */
export function randomUsage(int: (lo: number, hi: number) => number, rnd: () => number): Usage {
  const some = (max: number) => (rnd() < 0.5 || max <= 0 ? 0 : int(0, max));
  const prompt = int(1, 400);
  const completion = int(1, 300);
  const cached = some(prompt);
  const written = some(prompt - cached);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    cached_tokens: cached,
    cache_write_tokens: written,
    audio_tokens: some(prompt - cached - written),
    reasoning_tokens: some(completion),
  };
}

/** Rates in pico-USD (1e-12 USD) per token, so that the expected cost needs no floating point. */
type Rates = {
  input: bigint;
  cacheRead: bigint;
  cacheWrite: bigint;
  audioInput: bigint;
  output: bigint;
  reasoning: bigint;
  perRequest: bigint;
};
type Priced = { base: Rates; flex: Rates };

const M = 1_000_000n; // pico-USD per token = micro-USD per million tokens
/**
 * Backend a: whole micro-USD per token in every class and tier, so a sum of its rows equals the
 * invoice total (tokens per class × rate) with no rounding at all. Its flex tier sets its own input
 * and output rates and halves the rest.
 */
const A: Priced = {
  base: {
    input: 3n * M,
    cacheRead: 2n * M,
    cacheWrite: 4n * M,
    audioInput: 10n * M,
    output: 15n * M,
    reasoning: 20n * M,
    perRequest: 2n * M,
  },
  flex: {
    input: 2n * M,
    cacheRead: 1n * M,
    cacheWrite: 2n * M,
    audioInput: 5n * M,
    output: 8n * M,
    reasoning: 10n * M,
    perRequest: 1n * M,
  },
};
/**
 * Backends b and c: gpt-4o-mini's list prices (fractions of a micro-USD per token), reasoning unset
 * (billed as output), flex at half: each request's cost is rounded once, half up.
 */
const BC: Priced = {
  base: {
    input: 150_000n,
    cacheRead: 75_000n,
    cacheWrite: 187_500n,
    audioInput: 700_000n,
    output: 600_000n,
    reasoning: 600_000n,
    perRequest: 0n,
  },
  flex: {
    input: 75_000n,
    cacheRead: 37_500n,
    cacheWrite: 93_750n,
    audioInput: 350_000n,
    output: 300_000n,
    reasoning: 300_000n,
    perRequest: 0n,
  },
};
export const PRICED: Record<"a" | "b" | "c", Priced> = { a: A, b: BC, c: BC };

const usd = (pico: bigint) => `${Number(pico) / 1e6}`; // per million tokens: pico / 1e6 USD (exact here)
const yamlRates = (r: Rates, withReasoning: boolean) =>
  `input: ${usd(r.input)}, cacheRead: ${usd(r.cacheRead)}, cacheWrite: ${usd(r.cacheWrite)}, ` +
  `audioInput: ${usd(r.audioInput)}, output: ${usd(r.output)}` +
  (withReasoning ? `, reasoning: ${usd(r.reasoning)}` : "");

/** The `prices:` section giving the gateway these rates. */
export const PRICES_YAML =
  "prices:\n" +
  `  a/gpt-4o-mini: { ${yamlRates(A.base, true)}, perRequest: ${Number(A.base.perRequest) / 1e12},\n` +
  `    serviceTiers: { flex: { multiplier: 0.5, input: ${usd(A.flex.input)}, output: ${usd(A.flex.output)} } } }\n` +
  `  gpt-4o-mini: { ${yamlRates(BC.base, false)}, serviceTiers: { flex: { multiplier: 0.5 } } }\n`;

/** The classes a usage is billed in, each token once. */
export function classes(u: Usage) {
  return {
    input: u.prompt_tokens - u.cached_tokens - u.cache_write_tokens - u.audio_tokens,
    cacheRead: u.cached_tokens,
    cacheWrite: u.cache_write_tokens,
    audioInput: u.audio_tokens,
    output: u.completion_tokens - u.reasoning_tokens,
    reasoning: u.reasoning_tokens,
  };
}

/** Pico-USD of one request, unrounded. */
export function costPico(p: Priced, u: Usage, tier: Tier): bigint {
  const r = tier === "flex" ? p.flex : p.base;
  const c = classes(u);
  return (
    r.perRequest +
    BigInt(c.input) * r.input +
    BigInt(c.cacheRead) * r.cacheRead +
    BigInt(c.cacheWrite) * r.cacheWrite +
    BigInt(c.audioInput) * r.audioInput +
    BigInt(c.output) * r.output +
    BigInt(c.reasoning) * r.reasoning
  );
}

/** Micro-USD of one request: rounded once, half up. */
export const costMicro = (p: Priced, u: Usage, tier: Tier): number =>
  Number((costPico(p, u, tier) + M / 2n) / M);
