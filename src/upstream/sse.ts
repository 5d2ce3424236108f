import { Readable } from "node:stream";

/** One server-sent event. */
export type SseEvent = { event: string | undefined; data: string; id: string | undefined };

/**
 * Parses a byte stream as server-sent events (WHATWG rules): LF, CRLF or CR
 * line ends, `:` comment lines, multi-line data joined by "\n", an event
 * dispatched at each blank line. Events with no data field are skipped, and
 * so is an unnamed event whose data is empty: the spec would dispatch an empty
 * message, but a bare `data:` (a keep-alive some servers send) carries nothing
 * any JSON consumer can read. A named event is kept: its name is the message.
 */
export async function* parseSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  // A consumer that stops at its end marker must not have the body destroyed under it (an AbortError with a
  // stack trace per stream): the caller releases the body (releaseBody).
  const source = body instanceof Readable ? body.iterator({ destroyOnReturn: false }) : body;
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  let event: string | undefined;
  let id: string | undefined;
  let pendingCR = false;

  const takeLines = function* (): Generator<string> {
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const ch = buffer.charCodeAt(i);
      if (ch === 10 || ch === 13) {
        yield buffer.slice(start, i);
        if (ch === 13 && buffer.charCodeAt(i + 1) === 10) i++;
        start = i + 1;
      }
    }
    buffer = buffer.slice(start);
  };

  for await (const chunk of source) {
    let text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    // A CRLF split across chunks: drop the LF that belongs to the previous CR.
    if (pendingCR && text.startsWith("\n")) text = text.slice(1);
    pendingCR = text.endsWith("\r");
    buffer += text;
    for (const line of takeLines()) {
      if (line === "") {
        const joined = data.join("\n");
        if (data.length > 0 && (joined !== "" || event !== undefined)) yield { event, data: joined, id };
        data = [];
        event = undefined;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
      else if (field === "id") id = value;
    }
  }
  // A final event without its blank line is incomplete: the stream was cut, so it is dropped.
}
