// The Node load generator: a child process of bench/run.ts (pinned to its own core), taking one job at a
// time over IPC and answering with summaries (never raw samples). HTTP/1.1 arms use an undici Pool with
// keep-alive; gRPC arms use @grpc/grpc-js.
import type { Reply, Request } from "./lib/jobs.ts";
import { runClosed, runOpen, runStreams } from "./lib/load-runners.ts";

if (!process.send) throw new Error("bench/loadgen.ts runs as a child of bench/run.ts (IPC)");

process.on("message", (message: Request) => {
  const { id, job } = message;
  const run = job.type === "closed" ? runClosed(job) : job.type === "open" ? runOpen(job) : runStreams(job);
  run.then(
    (result) => process.send?.({ id, result } satisfies Reply),
    (error: unknown) =>
      process.send?.({
        id,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      } satisfies Reply),
  );
});
process.on("disconnect", () => process.exit(0));
