import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { assertShown } from "../helpers/shown-answer.ts";

// docs/api-openai-facade.md's curl examples, sent for real to an echo gateway: each body must be
// answered, with every field the page shows after it and the value shown ("…" ends a prefix).
// The body is taken from the command's -d '…' and posted with fetch, so no curl binary is needed.

const DOC_URL = "http://127.0.0.1:8080";
const page = readFileSync("docs/api-openai-facade.md", "utf8");
const examples = [...page.matchAll(/```sh\n(curl [^\n]+)\n```\s*```json\n([\s\S]*?)\n```/g)].map((m) => ({
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

/** The URL and the JSON body of a one-line `curl -s <url> -H … -d '<json>'` (no other quoting). */
function requestOf(command: string): { url: string; body: string } {
  const url = /\s(http:\/\/\S+)/.exec(command)?.[1];
  const body = / -d '([^']*)'$/.exec(command)?.[1];
  if (!url?.startsWith(DOC_URL) || !body) assert.fail(`unreadable example: ${command.slice(0, 80)}`);
  return { url: url.replace(DOC_URL, gw.url), body };
}

test("docs/api-openai-facade.md has an example per capability", () => {
  assert.ok(examples.length >= 13, `found ${examples.length}`);
});

for (const [i, example] of examples.entries()) {
  test(`docs/api-openai-facade.md example ${i + 1} answers as shown`, async () => {
    const { url, body } = requestOf(example.command);
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
    assertShown(await res.json(), example.shown, "answer");
  });
}
