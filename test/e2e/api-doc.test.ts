// docs/api.md's buf curl examples, run for real against an echo gateway: each must succeed, and the
// answer must have every field the page shows after it, with the value shown ("…" ends a prefix).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { assertShown } from "../helpers/shown-answer.ts";

const run = promisify(execFile);
const BUF = "node_modules/.bin/buf";
const DOC_URL = "http://127.0.0.1:8080";

const page = readFileSync("docs/api.md", "utf8");
const examples = [...page.matchAll(/```sh\n(buf curl [^\n]+)\n```\s*```json\n([\s\S]*?)\n```/g)].map((m) => ({
  command: m[1]!,
  shown: JSON.parse(m[2]!) as unknown,
}));

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n",
    ),
  );
});
after(() => gw.stop());

/** buf curl's arguments from the page's one-line command (single-quoted JSON, no other quoting). */
function argsOf(command: string): string[] {
  const parts = command.match(/'[^']*'|\S+/g) ?? [];
  return parts.slice(1).map((p) => (p.startsWith("'") ? p.slice(1, -1) : p.replace(DOC_URL, gw.url)));
}

test("docs/api.md has an example per capability", () => {
  assert.ok(examples.length >= 5, `found ${examples.length}`);
});

for (const [i, example] of examples.entries()) {
  test(`docs/api.md example ${i + 1} answers as shown`, async () => {
    const { stdout } = await run(BUF, argsOf(example.command));
    assertShown(JSON.parse(stdout), example.shown, "answer");
  });
}
