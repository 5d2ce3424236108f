import type { IncomingHttpHeaders } from "node:http";
import { PlainHeaders } from "./plain-headers.ts";

/** The caller's headers as a Headers object (HTTP/2 pseudo-headers left out); Node's parser already checked them. */
export function requestHeaders(raw: IncomingHttpHeaders): Headers {
  const out = new PlainHeaders();
  for (const name in raw) {
    const value = raw[name];
    if (name.charCodeAt(0) === 58 /* ":" */ || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.append(name, v);
    else out.append(name, value);
  }
  return out;
}
