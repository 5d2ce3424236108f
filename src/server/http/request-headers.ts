import type { IncomingHttpHeaders } from "node:http";

/** The caller's headers as a Headers object (HTTP/2 pseudo-headers left out). */
export function requestHeaders(raw: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const name in raw) {
    const value = raw[name];
    if (name.charCodeAt(0) === 58 /* ":" */ || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      try {
        out.append(name, v);
      } catch {
        // a value Headers refuses (Node accepted it); routing and auth never need it
      }
    }
  }
  return out;
}
