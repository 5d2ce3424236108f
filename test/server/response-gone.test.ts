import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { drained, responseGone } from "../../src/server/http/response-gone.ts";
import { within } from "../helpers/wait.ts";

/** What the test uses of either response type. */
type Res = Parameters<typeof responseGone>[0] & { write(chunk: string): boolean };

/** A server whose handler hands over its response once the caller went away (`close` already fired). */
async function afterCallerLeft(kind: "h1" | "h2"): Promise<{ res: Res; close(): void }> {
  const left = Promise.withResolvers<Res>();
  const handler = (_req: unknown, res: http.ServerResponse | http2.Http2ServerResponse) => {
    (res as Res).write("first bytes");
    res.once("close", () => left.resolve(res));
  };
  const server = kind === "h2" ? http2.createServer(handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (kind === "h2") {
    const session = http2.connect(url);
    const stream = session.request({ ":path": "/" });
    stream.on("error", () => {});
    stream.once("data", () => stream.close(http2.constants.NGHTTP2_CANCEL)); // a reset, as nghttp2 also sends
    const res = await within(left.promise, "the reset to reach the handler");
    return {
      res,
      close: () => {
        session.destroy();
        server.close();
      },
    };
  }
  const req = http.get(url, (r) => r.once("data", () => req.destroy()));
  req.on("error", () => {});
  const res = await within(left.promise, "the disconnect to reach the handler");
  return { res, close: () => server.close() };
}

for (const kind of ["h1", "h2"] as const) {
  test(`${kind}: a response whose caller left is gone, and waiting for drain returns at once`, async () => {
    const { res, close } = await afterCallerLeft(kind);
    try {
      assert.equal(responseGone(res), true);
      assert.equal(res.write("more"), false, "a write after the reset is refused; no drain or close follows");
      await within(drained(res), "drained() on a gone response", 1000);
    } finally {
      close();
    }
  });
}
