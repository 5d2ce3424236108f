// A real inference engine for tests: llama.cpp through node-llama-cpp, CPU prebuilt only, serving a GGUF file
// (the tiny model tiny-llama.ts writes). Generation is greedy, so the same prompt always gives the same
// tokens; generations run one at a time on one sequence that starts empty each time, so nothing carries
// over between requests. Token counts come from llama.cpp's tokenizer and evaluation, not estimates.
// Every generation is recorded (prompt, counts, pieces, and when an abort was observed) for tests to check.
import {
  getLlama,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  LlamaLogLevel,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import type { EnginePiece, EngineRequest, EngineRun } from "../upstreams/engine-source.ts";

export type GenerationRecord = {
  prompt: string;
  promptTokens: number;
  completionTokens: number;
  /** The generated token ids, in order. */
  tokens: number[];
  /** The text pieces handed out, in order (their concatenation is the output). */
  pieces: string[];
  finishReason: "stop" | "length" | undefined;
  aborted: boolean;
  /** performance.now() when the generation loop stopped because of the abort. */
  abortObservedAt: number | undefined;
  /** Tokens in llama.cpp's sequence at the end: prompt + completion − 1 (the last sample is never fed back). */
  evaluatedTokens: number;
  done: boolean;
  /** Resolves once the generation has stopped (finished, aborted, or left by its consumer). */
  ended: Promise<void>;
};

export type LlamaEngineOptions = { modelPath: string; contextSize?: number };

export class LlamaEngine {
  /** Every generation so far, oldest first. */
  readonly generations: GenerationRecord[] = [];
  /** llama.cpp's log lines (warnings and errors), kept instead of printed. */
  readonly logs: string[];
  readonly #llama: Llama;
  readonly #model: LlamaModel;
  readonly #context: LlamaContext;
  readonly #sequence: LlamaContextSequence;
  #tail: Promise<void> = Promise.resolve();

  private constructor(llama: Llama, model: LlamaModel, context: LlamaContext, logs: string[]) {
    this.#llama = llama;
    this.#model = model;
    this.#context = context;
    this.#sequence = context.getSequence();
    this.logs = logs;
  }

  /**
   * Loads llama.cpp's CPU prebuilt (never a GPU variant, never a build from source or a download) and the
   * model. Throws when the prebuilt binary is missing or does not load on this machine.
   */
  static async load(options: LlamaEngineOptions): Promise<LlamaEngine> {
    const logs: string[] = [];
    const llama = await getLlama({
      gpu: false,
      build: "never",
      usePrebuiltBinaries: true,
      skipDownload: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        logs.push(`${level}: ${message}`);
      },
      // One thread: a model this small is fastest that way, and it leaves the other core to the gateway.
      maxThreads: 1,
    });
    try {
      const model = await llama.loadModel({ modelPath: options.modelPath, gpuLayers: 0 });
      const context = await model.createContext({
        contextSize: options.contextSize ?? model.trainContextSize,
        sequences: 1,
        threads: 1,
      });
      return new LlamaEngine(llama, model, context, logs);
    } catch (error) {
      await llama.dispose();
      throw error;
    }
  }

  get contextSize(): number {
    return this.#context.contextSize;
  }

  /** The prompt as llama.cpp tokenizes it for generation: BOS (when the model asks for it), then the text. */
  tokenize(prompt: string): number[] {
    const bos = this.#model.tokens.shouldPrependBosToken ? this.#model.tokens.bos : null;
    return [...(bos === null ? [] : [bos]), ...this.#model.tokenize(prompt)];
  }

  /** llama.cpp's text for generated tokens that followed `prompt`. */
  detokenize(tokens: readonly number[], prompt: string): string {
    return this.#model.detokenize(tokens as Token[], false, this.tokenize(prompt) as Token[]);
  }

  /** Starts a generation; nothing is evaluated until it is iterated. */
  generate(prompt: string, options: Omit<EngineRequest, "prompt">): EngineRun {
    const promptTokens = this.tokenize(prompt) as Token[];
    const room = this.contextSize - promptTokens.length;
    if (room < 1)
      throw new Error(`prompt of ${promptTokens.length} tokens fills the ${this.contextSize}-token context`);
    let ended = (): void => {};
    const record: GenerationRecord = {
      prompt,
      promptTokens: promptTokens.length,
      completionTokens: 0,
      tokens: [],
      pieces: [],
      finishReason: undefined,
      aborted: false,
      abortObservedAt: undefined,
      evaluatedTokens: 0,
      done: false,
      ended: new Promise<void>((resolve) => {
        ended = resolve;
      }),
    };
    this.generations.push(record);
    const pieces = this.#run(record, promptTokens, Math.min(options.maxTokens, room), options.signal, ended);
    let started = false;
    return {
      get promptTokens() {
        return record.promptTokens;
      },
      get completionTokens() {
        return record.completionTokens;
      },
      get finishReason() {
        return record.finishReason;
      },
      [Symbol.asyncIterator]() {
        if (started) throw new Error("an engine run can be iterated once");
        started = true;
        return pieces;
      },
    };
  }

  async close(): Promise<void> {
    await this.#context.dispose();
    await this.#model.dispose();
    await this.#llama.dispose();
  }

  async *#run(
    record: GenerationRecord,
    prompt: Token[],
    maxTokens: number,
    signal: AbortSignal,
    ended: () => void,
  ): AsyncGenerator<EnginePiece> {
    const release = await this.#exclusive();
    try {
      if (signal.aborted) return;
      await this.#sequence.clearHistory();
      // Greedy: temperature 0 takes the most likely token every time.
      for await (const token of this.#sequence.evaluate(prompt, { temperature: 0 })) {
        if (signal.aborted) return;
        const before = [...prompt, ...(record.tokens as Token[])].slice(-8);
        record.tokens.push(token);
        record.completionTokens += 1;
        const text = this.#model.detokenize([token], false, before);
        record.pieces.push(text);
        yield { text, tokens: 1 };
        if (signal.aborted) return;
        if (record.completionTokens >= maxTokens) {
          record.finishReason = "length";
          return;
        }
      }
      record.finishReason = "stop"; // the sequence ended itself (end-of-generation token)
    } finally {
      // Reached on completion, on an abort seen above, and when the consumer stops iterating early.
      if (record.finishReason === undefined) {
        record.aborted = true;
        record.abortObservedAt = performance.now();
      }
      record.evaluatedTokens = this.#sequence.nextTokenIndex;
      record.done = true;
      release();
      ended();
    }
  }

  /** Waits for the generations before this one; resolves to the release function. */
  async #exclusive(): Promise<() => void> {
    const previous = this.#tail;
    let release = (): void => {};
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    return release;
  }
}
