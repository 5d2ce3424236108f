/**
 * A minimal Chrome DevTools Protocol client for a child process started with `--inspect=127.0.0.1:0`:
 * enough to force a full GC and read the process's memory from outside, without any code in the
 * gateway for it. Uses Node's built-in WebSocket.
 */
export type Inspector = {
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Full GC (twice: weak callbacks and finalizers run in between), then process.memoryUsage(). */
  memoryAfterGc(): Promise<NodeJS.MemoryUsage>;
  close(): void;
};

/** The ws:// address a child started with --inspect prints on stderr. */
export const INSPECTOR_URL = /Debugger listening on (ws:\/\/\S+)/;

export async function connectInspector(url: string): Promise<Inspector> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error(`cannot reach the inspector at ${url}`)), {
      once: true,
    });
  });
  let nextId = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  ws.addEventListener("message", (event) => {
    const reply = JSON.parse(String(event.data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    if (reply.id === undefined) return; // an event: not asked for
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.error) waiter?.reject(new Error(reply.error.message));
    else waiter?.resolve(reply.result);
  });
  const call = <T>(method: string, params: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve: (v) => resolve(v as T), reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    call,
    async memoryAfterGc() {
      await call("HeapProfiler.collectGarbage");
      await call("HeapProfiler.collectGarbage");
      const { result } = await call<{ result: { value: string } }>("Runtime.evaluate", {
        expression: "JSON.stringify(process.memoryUsage())",
        returnByValue: true,
      });
      return JSON.parse(result.value) as NodeJS.MemoryUsage;
    },
    close: () => ws.close(),
  };
}
