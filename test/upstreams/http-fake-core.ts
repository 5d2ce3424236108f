// The scaffolding the HTTP upstream fakes (openai-fake.ts, anthropic-fake.ts, gemini-fake.ts) share: the
// script queue, per-request recording with abort detection, waiters, socket tracking, listen and close.
// Each fake keeps only its wire behaviour.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { readBody } from "./openai-http.ts";

export type RecordedRequest = {
  method: string;
  /** Path and query, e.g. /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  aborted: boolean;
  completed: boolean;
};

/** A request whose body has been read and recorded; `signal` fires when its response closes. */
export type Received = {
  rec: RecordedRequest;
  parsed: { body: unknown; badJson: boolean };
  signal: AbortSignal;
  /** The fake is about to drop the connection itself: not a client abort. */
  markCut(): void;
  /** RST the connection before any response (a fake-initiated cut). */
  reset(): void;
};

/** The counters every fake's `served` carries; the core bumps them, the fake owns the object. */
type CoreCounters = { requests: number; aborts: number };

/** The part of every fake's API that the core implements; each fake spreads it into its own. */
export type FakeControls<S> = {
  requests: RecordedRequest[];
  enqueue(...scripts: S[]): void;
  setDefault(script: S | ((req: RecordedRequest) => S)): void;
  waitForRequests(n: number): Promise<void>;
  waitForAbort(index: number): Promise<void>;
  /** Resolves once `ready` holds; re-checked whenever the fake's state changes (requests, aborts, completed streams). */
  waitUntil(ready: () => boolean): Promise<void>;
  openSockets(): number;
  /** Destroys every socket, then closes the server; closing cuts are not client aborts. */
  close(): Promise<void>;
};

export type FakeCore<S> = {
  controls: FakeControls<S>;
  /** The next queued script, else the default (undefined when neither is set). */
  nextScript(rec: RecordedRequest): S | undefined;
  /** Records the request once its body is read; undefined when the client went away mid-body. */
  receive(req: IncomingMessage, res: ServerResponse): Promise<Received | undefined>;
  /** Re-checks the waiters; call after changing anything they may watch (e.g. streamsCompleted). */
  notify(): void;
  /** Serves `handle` on a loopback port (`crash` answers when it throws); resolves to the port. */
  listen(
    handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
    crash: (res: ServerResponse, err: unknown) => void,
  ): Promise<number>;
};

export function createFakeCore<S>(served: CoreCounters, check: (script: S) => void): FakeCore<S> {
  const requests: RecordedRequest[] = [];
  const queue: S[] = [];
  let fallback: S | ((req: RecordedRequest) => S) | undefined;
  const sockets = new Set<Socket>();
  const waiters = new Set<{ ready: () => boolean; resolve: () => void }>();
  let server: Server | undefined;
  let closing = false;

  const notify = (): void => {
    for (const waiter of waiters) {
      if (waiter.ready()) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  };
  const waitFor = (ready: () => boolean): Promise<void> =>
    ready() ? Promise.resolve() : new Promise((resolve) => waiters.add({ ready, resolve }));

  async function receive(req: IncomingMessage, res: ServerResponse): Promise<Received | undefined> {
    const rec: RecordedRequest = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: { ...req.headers },
      body: undefined,
      aborted: false,
      completed: false,
    };
    const abort = new AbortController();
    let cut = false;
    let recorded = false;
    const record = (): void => {
      if (recorded) return;
      recorded = true;
      requests.push(rec);
      served.requests += 1;
      notify();
    };
    res.on("finish", () => {
      rec.completed = true;
      notify();
    });
    res.on("close", () => {
      if (!res.writableFinished && !cut && !closing) {
        rec.aborted = true;
        served.aborts += 1;
        record();
      }
      abort.abort();
      notify();
    });
    const markCut = (): void => {
      cut = true;
    };

    let parsed: Received["parsed"];
    try {
      parsed = await readBody(req);
    } catch {
      return undefined; // the client went away mid-body; the close handler recorded it
    }
    rec.body = parsed.body;
    record();
    const reset = (): void => {
      markCut();
      req.socket.resetAndDestroy();
    };
    return { rec, parsed, signal: abort.signal, markCut, reset };
  }

  const controls: FakeControls<S> = {
    requests,
    enqueue(...scripts) {
      for (const script of scripts) check(script);
      queue.push(...scripts);
    },
    setDefault(script) {
      // A function default is only known per request, so only a fixed one can be checked now.
      if (typeof script !== "function") check(script as S);
      fallback = script;
    },
    waitForRequests: (n) => waitFor(() => requests.length >= n),
    waitForAbort: (index) => waitFor(() => requests[index]?.aborted === true),
    waitUntil: waitFor,
    openSockets: () => sockets.size,
    async close() {
      closing = true;
      const closed = [...sockets].map((socket) => once(socket, "close"));
      for (const socket of sockets) socket.destroy();
      const serverClosed = new Promise<void>((resolve) =>
        server ? server.close(() => resolve()) : resolve(),
      );
      await Promise.all([...closed, serverClosed]);
    },
  };

  return {
    controls,
    nextScript(rec) {
      const queued = queue.shift();
      if (queued !== undefined) return queued;
      return typeof fallback === "function" ? (fallback as (req: RecordedRequest) => S)(rec) : fallback;
    },
    receive,
    notify,
    async listen(handle, crash) {
      const srv = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          if (res.headersSent) res.destroy();
          else crash(res, err);
        });
      });
      server = srv;
      srv.on("connection", (socket: Socket) => {
        sockets.add(socket);
        socket.on("close", () => {
          sockets.delete(socket);
          notify(); // waitUntil(() => openSockets() === 0) wakes on it
        });
      });
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => resolve());
      });
      return (srv.address() as AddressInfo).port;
    },
  };
}
