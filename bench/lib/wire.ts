/** What the bench's fake upstreams answer, so load generators can check every response really came from them. */
export const UNARY_TEXT = "Hello from the bench upstream.";
/** Content chunks of a fake stream: "t0 ", "t1 ", … */
export const streamText = (chunks: number): string =>
  Array.from({ length: chunks }, (_, i) => `t${i} `).join("");
/** The KServe fake's default generation. */
export const KSERVE_TEXT = "Hello from fake";
/** Models the fake OpenAI upstream knows by name: "slow" in the name means 20±5 ms before answering. */
export const MODELS = { fast: "bench-fast", slow: "bench-slow", stream: "bench-stream" } as const;
export const PROMPT = "Say hello to the benchmark.";
