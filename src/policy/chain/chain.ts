import type { GenerateOutput } from "../../adapters/adapter.ts";
import type { CompiledTarget } from "../../config/compile.ts";
import { type Outcome, outcomeOf } from "../../pipeline/outcome.ts";
import type { Logger } from "../../telemetry/logger.ts";
import type { Exchange, Policy, PolicyRun, StreamEvent } from "./policy.ts";

/**
 * An ordered list of policies, compiled per route and config generation. `admit` runs them in
 * order; the runs they return are settled exactly once, in reverse order, on every outcome — also
 * when a later policy refused (the ones before it settle with that refusal).
 */
export class PolicyChain {
  readonly policies: readonly Policy[];

  constructor(policies: readonly Policy[]) {
    this.policies = policies;
  }

  /** Admits `x` through every policy; throws the first refusal after settling what was admitted. */
  async admit(x: Exchange, logger: Logger): Promise<AdmittedChain> {
    const admitted = new AdmittedChain(logger);
    for (const policy of this.policies) {
      let run: PolicyRun | undefined;
      try {
        const result = policy.admit(x);
        // Most admits are synchronous: awaiting only promises keeps the chain off the microtask queue.
        run = result instanceof Promise ? await result : result;
      } catch (error) {
        await admitted.refused(x, error);
        throw error;
      }
      if (run) admitted.add(policy.name, run);
      if (x.answer) break; // answered (a cache hit): the policies after this one have nothing to do
    }
    return admitted;
  }
}

/** The runs of one admitted request, in admission order. */
export class AdmittedChain {
  readonly #logger: Logger;
  readonly #names: string[] = [];
  readonly #runs: PolicyRun[] = [];
  #settled = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  add(name: string, run: PolicyRun): void {
    this.#names.push(name);
    this.#runs.push(run);
  }

  get settled(): boolean {
    return this.#settled;
  }

  dispatched(target: CompiledTarget): void {
    for (const run of this.#runs) run.dispatched?.(target);
  }

  /** The caller's stream through every policy that watches it, in chain order. */
  stream(events: AsyncIterable<StreamEvent>): AsyncIterable<StreamEvent> {
    let out = events;
    for (const run of this.#runs) if (run.stream) out = run.stream(out);
    return out;
  }

  get watchesStream(): boolean {
    return this.#runs.some((run) => run.stream !== undefined);
  }

  async output(output: GenerateOutput): Promise<GenerateOutput> {
    let out = output;
    for (const run of this.#runs) if (run.output) out = await run.output(out);
    return out;
  }

  /**
   * Exactly once, in reverse order. A policy whose settle fails is logged and the others still
   * settle: a limit store that is down must not keep the ledger row from being written.
   */
  async settle(outcome: Outcome): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    for (let i = this.#runs.length - 1; i >= 0; i--) {
      const run = this.#runs[i]!;
      if (!run.settle) continue;
      try {
        const result = run.settle(outcome);
        if (result instanceof Promise) await result;
      } catch (error) {
        this.#logger.error({ err: error, policy: this.#names[i] }, "policy settlement failed");
      }
    }
  }

  /** A later policy refused: the ones already admitted settle with that refusal. */
  async refused(x: Exchange, failure: unknown): Promise<void> {
    x.ctx.outcome = outcomeOf(x.ctx, failure);
    await this.settle(x.ctx.outcome);
  }
}
