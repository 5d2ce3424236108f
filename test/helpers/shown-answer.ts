import assert from "node:assert/strict";

/**
 * A doc example's answer holds every field the page shows, with the value shown; a string ending in
 * "…" is a prefix, and a list shows its first items. Fields the page leaves out are not checked.
 */
export function assertShown(actual: unknown, shown: unknown, path: string): void {
  if (typeof shown === "string" && shown.endsWith("…")) {
    assert.equal(typeof actual, "string", path);
    assert.ok((actual as string).startsWith(shown.slice(0, -1)), `${path}: ${String(actual)}`);
  } else if (Array.isArray(shown)) {
    assert.ok(Array.isArray(actual), `${path} is not a list`);
    for (const [i, item] of shown.entries()) assertShown((actual as unknown[])[i], item, `${path}[${i}]`);
  } else if (shown !== null && typeof shown === "object") {
    assert.ok(actual !== null && typeof actual === "object", `${path} is missing`);
    for (const [key, value] of Object.entries(shown))
      assertShown((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
  } else assert.deepEqual(actual, shown, path);
}
