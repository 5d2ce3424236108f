import assert from "node:assert/strict";
import { test } from "node:test";
import { PlainHeaders } from "../../src/server/http/plain-headers.ts";

// The same operations on PlainHeaders and on the WHATWG Headers it stands in for must read back the same.
function both(ops: (h: Headers) => void): [Headers, Headers] {
  const plain = new PlainHeaders();
  const real = new Headers();
  ops(plain);
  ops(real);
  return [plain, real];
}

test("PlainHeaders reads back like Headers: case-insensitive names, appends joined, sorted iteration", () => {
  const [plain, real] = both((h) => {
    h.set("X-Switchyard-Route", "chat");
    h.append("Accept", "text/plain");
    h.append("accept", "application/json");
    h.set("content-type", "application/json");
    h.set("Authorization", "Bearer a");
    h.set("authorization", "Bearer b");
    h.append("zeta", "1");
    h.delete("ZETA");
  });
  assert.deepEqual([...plain], [...real]);
  assert.deepEqual([...plain.keys()], [...real.keys()]);
  assert.deepEqual([...plain.values()], [...real.values()]);
  assert.deepEqual(Object.fromEntries(plain), Object.fromEntries(real));
  for (const name of ["accept", "ACCEPT", "authorization", "x-switchyard-route", "zeta", "missing"]) {
    assert.equal(plain.get(name), real.get(name), name);
    assert.equal(plain.has(name), real.has(name), name);
  }
  const seen: [string, string][] = [];
  plain.forEach((value, key, parent) => {
    assert.equal(parent, plain);
    seen.push([key, value]);
  });
  assert.deepEqual(seen, [...real.entries()]);
});
