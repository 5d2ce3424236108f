import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Code } from "@connectrpc/connect";
import { catalog } from "../../src/errors/catalog.ts";
import { kindForHttpStatus } from "../../src/upstream/classify.ts";

const doc = readFileSync("docs/errors.md", "utf8");
const grpcName = (code: Code) =>
  code === Code.Canceled ? "CANCELLED" : Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

test("docs/errors.md lists exactly the catalog's reasons, codes and statuses", () => {
  const rows = [...doc.matchAll(/^\| `([a-z_]+)` +\| ([A-Z_]+) +\| (\d+) +\|/gm)].map((m) => [
    m[1],
    m[2],
    Number(m[3]),
  ]);
  const expected = Object.entries(catalog).map(([reason, e]) => [reason, grpcName(e.code), e.http]);
  assert.deepEqual(rows, expected);
});

test("docs/errors.md's classification table matches kindForHttpStatus", () => {
  const section = doc.slice(doc.search(/\| upstream HTTP status +\| kind +\|/));
  const rows = [...section.matchAll(/^\| (\d{3}) +\| ([a-z_]+) +\|$/gm)];
  assert.ok(rows.length >= 10);
  for (const [, status, kind] of rows)
    assert.equal(kindForHttpStatus(Number(status)), kind, `HTTP ${status}`);
});
