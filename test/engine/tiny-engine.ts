// The real engine loaded with the tiny model, for test files that drive it: one call, one model load (slow:
// ~1 s), or — outside CI — the reason to skip when node-llama-cpp's CPU prebuilt is missing or won't load
// here (another platform, a trimmed install). Under CI=true that is a failure, never a skip.
import type { LlamaEngine } from "./llama-engine.ts";
import { writeTinyLlama } from "./tiny-llama.ts";

/** The seed every real-engine test uses: the same file, the same generations, on every machine. */
export const TINY_SEED = 20_251_124;

export type TinyEngine = { engine: LlamaEngine; modelBytes: number; close(): Promise<void> };

export async function loadTinyEngine(): Promise<TinyEngine | { skip: string }> {
  const file = await writeTinyLlama(TINY_SEED);
  try {
    // Imported here so a missing node-llama-cpp is a reason to skip, not a crash of the importing file.
    const { LlamaEngine } = await import("./llama-engine.ts");
    const engine = await LlamaEngine.load({ modelPath: file.path });
    return {
      engine,
      modelBytes: file.size,
      close: async () => {
        await engine.close();
        await file.remove();
      },
    };
  } catch (error) {
    await file.remove();
    const reason = `node-llama-cpp's CPU prebuilt could not load the tiny model (${String(error)})`;
    if (process.env.CI === "true") throw new Error(`${reason}; CI=true: the real-engine test must not skip`);
    return { skip: `${reason}: skipped (npm ci installs it on linux-x64; CI=true makes this a failure)` };
  }
}
