import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ClosedJob, LoadResult, OpenJob, Reply, StreamJob, StreamResult } from "./jobs.ts";
import { CORES, pin } from "./proc.ts";

/** The load generator process, driven one job at a time over IPC. */
export class LoadGenerator {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (r: Reply) => void }>();
  #next = 1;
  readonly pinned: boolean;

  constructor() {
    this.#child = fork(fileURLToPath(new URL("../loadgen.ts", import.meta.url)), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: ["--max-old-space-size=4096"],
    });
    this.pinned = this.#child.pid !== undefined && pin(this.#child.pid, CORES.loadgen);
    this.#child.on("message", (reply: Reply) => {
      this.#pending.get(reply.id)?.resolve(reply);
      this.#pending.delete(reply.id);
    });
    this.#child.on("exit", (code) => {
      for (const p of this.#pending.values()) p.resolve({ id: 0, error: `load generator exited (${code})` });
      this.#pending.clear();
    });
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  run(job: ClosedJob | OpenJob): Promise<LoadResult>;
  run(job: StreamJob): Promise<StreamResult>;
  async run(job: ClosedJob | OpenJob | StreamJob): Promise<LoadResult | StreamResult> {
    const id = this.#next++;
    // Bounded: the job's own duration, its request timeout for the stragglers, and a margin.
    const limitMs = job.durationMs + job.timeoutMs + 30_000;
    let timer: NodeJS.Timeout | undefined;
    const reply = await Promise.race([
      new Promise<Reply>((resolve) => {
        this.#pending.set(id, { resolve });
        this.#child.send({ id, job });
      }),
      new Promise<Reply>((resolve) => {
        timer = setTimeout(
          () => resolve({ id, error: `load job did not finish within ${limitMs} ms` }),
          limitMs,
        );
      }),
    ]);
    clearTimeout(timer);
    if (reply.error !== undefined || !reply.result)
      throw new Error(reply.error ?? "load generator sent no result");
    return reply.result;
  }

  close(): void {
    this.#child.disconnect();
  }
}
