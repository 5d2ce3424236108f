import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ATTR } from "../../src/telemetry/tracing.ts";

const doc = readFileSync("docs/observability.md", "utf8");

test("every span attribute the code sets is documented", () => {
  for (const key of Object.values(ATTR))
    assert.ok(doc.includes(`\`${key}\``), `${key} missing from docs/observability.md`);
});

test("every instrument created in metrics.ts is documented under its Prometheus name", () => {
  const source = readFileSync("src/telemetry/metrics.ts", "utf8");
  const names = [...source.matchAll(/meter\.create(\w+)\("([a-z_.]+)"/g)];
  assert.ok(names.length >= 10);
  for (const [, kind, name] of names) {
    const prom = name!.replaceAll(".", "_") + (kind === "Counter" ? "_total" : "");
    assert.ok(doc.includes(`\`${prom}\``), `${prom} missing from docs/observability.md`);
  }
});
