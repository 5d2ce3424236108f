import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseSse, type SseEvent } from "../../src/upstream/sse.ts";

async function parse(chunks: (string | Uint8Array)[]): Promise<SseEvent[]> {
  async function* body() {
    yield* chunks;
  }
  const out: SseEvent[] = [];
  for await (const e of parseSse(body())) out.push(e);
  return out;
}

test("parses data lines, named events, ids and comments", async () => {
  const events = await parse([
    ': keep-alive\n\nevent: message_start\nid: 7\ndata: {"a":1}\n\ndata: [DONE]\n\n',
  ]);
  assert.deepEqual(events, [
    { event: "message_start", data: '{"a":1}', id: "7" },
    { event: undefined, data: "[DONE]", id: "7" },
  ]);
});

test("accepts CRLF and CR line endings, and CRLF split across chunks", async () => {
  const events = await parse(["data: one\r", "\n\r\ndata: two\r\rdata: three\r\n", "\r\n"]);
  assert.deepEqual(
    events.map((e) => e.data),
    ["one", "two", "three"],
  );
});

test("joins multi-line data with newlines and strips one leading space only", async () => {
  const events = await parse(["data:  indented\ndata:second\n\n"]);
  assert.equal(events[0]?.data, " indented\nsecond");
});

test("drops a final event that lost its blank line (a cut stream)", async () => {
  const events = await parse(["data: complete\n\ndata: partial"]);
  assert.deepEqual(
    events.map((e) => e.data),
    ["complete"],
  );
});

test("decodes multi-byte UTF-8 split across chunks", async () => {
  const bytes = new TextEncoder().encode("data: héllo 🌍\n\n");
  const events = await parse([bytes.subarray(0, 8), bytes.subarray(8, 15), bytes.subarray(15)]);
  assert.equal(events[0]?.data, "héllo 🌍");
});

test("any chunking of a stream yields the same events (property)", async () => {
  const stream = "event: a\r\ndata: 1\r\n\r\n: c\ndata: 2\ndata: 3\n\nevent: b\rdata: x\r\r";
  const expected = await parse([stream]);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(stream.length), { maxLength: 8 }), async (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const chunks: string[] = [];
      let last = 0;
      for (const p of points) {
        chunks.push(stream.slice(last, p));
        last = p;
      }
      chunks.push(stream.slice(last));
      assert.deepEqual(await parse(chunks), expected);
    }),
  );
});

test("skips an unnamed event whose data is empty (a bare `data:` keep-alive carries nothing)", async () => {
  const events = await parse(['data: {"a":1}\n\ndata:\n\ndata: \r\n\r\ndata: [DONE]\n\n']);
  assert.deepEqual(
    events.map((e) => e.data),
    ['{"a":1}', "[DONE]"],
  );
});

test("keeps a named event whose data is empty: its name is the message", async () => {
  const events = await parse(["event: message_stop\ndata:\n\n"]);
  assert.deepEqual(events, [{ event: "message_stop", data: "", id: undefined }]);
});
