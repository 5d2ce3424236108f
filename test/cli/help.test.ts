// The CLI's command lines, run as a child process: every help form prints usage and exits 0; a
// malformed command line is a one-line error plus usage on stderr and exit 2 — never a stack trace.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";

const NODE = "node_modules/.bin/node";

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(NODE, ["src/main.ts", ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const MAIN = /^switchyard — gRPC-first AI inference gateway/;
const KEYS = /^switchyard keys — /;
const SPEND = /^switchyard spend — /;

const noTrace = (text: string) => {
  assert.doesNotMatch(text, /^\s+at /m, "no stack trace");
  assert.doesNotMatch(text, /ERR_PARSE_ARGS|fatal/);
};

const HELP: [string[], RegExp][] = [
  [["--help"], MAIN],
  [["-h"], MAIN],
  [["help"], MAIN],
  [["serve", "--help"], MAIN],
  [["check-config", "-h"], MAIN],
  [["keys", "--help"], KEYS],
  [["keys", "-h"], KEYS],
  [["keys", "help"], KEYS],
  [["keys", "create", "--help"], KEYS],
  [["help", "keys"], KEYS],
  [["spend", "--help"], SPEND],
  [["spend", "-h"], SPEND],
  [["help", "spend"], SPEND],
  [["help", "serve"], MAIN],
];

for (const [args, usage] of HELP) {
  test(`switchyard ${args.join(" ")} prints usage on stdout and exits 0`, async () => {
    const { code, stdout, stderr } = await cli(args);
    assert.equal(code, 0, stderr);
    assert.match(stdout, usage);
    assert.equal(stderr, "");
  });
}

const BAD: [string[], RegExp, RegExp][] = [
  [["keys", "--bogus"], /^switchyard keys: unknown option '--bogus'$/, KEYS],
  [["keys", "list", "-x"], /^switchyard keys: unknown option '-x'$/, KEYS],
  [["keys", "list", "--config"], /^switchyard keys: option '-c, --config <value>' argument missing$/, KEYS],
  [["spend", "--nope"], /^switchyard spend: unknown option '--nope'$/, SPEND],
  [["spend", "stray"], /^switchyard spend: unexpected argument 'stray'$/, SPEND],
  [["serve", "--bogus"], /^switchyard: unknown option '--bogus'$/, MAIN],
  [["--bogus"], /^switchyard: unknown option '--bogus'$/, MAIN],
  [["frobnicate"], /^switchyard: unknown command "frobnicate"$/, MAIN],
  [[], /^switchyard: missing command$/, MAIN],
  [["help", "nothing"], /^switchyard: no help for "nothing"$/, MAIN],
  [["keys", "frob"], /^switchyard keys: unknown subcommand "frob"$/, KEYS],
];

for (const [args, message, usage] of BAD) {
  test(`switchyard ${args.join(" ") || "(nothing)"} is a one-line error plus usage, exit 2`, async () => {
    const { code, stdout, stderr } = await cli(args);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    const [first = "", blank, ...rest] = stderr.split("\n");
    assert.match(first, message);
    assert.equal(blank, "");
    assert.match(rest.join("\n"), usage);
    noTrace(stderr);
  });
}

test("a config file that does not load is its config error, exit 1, no stack trace", async () => {
  for (const args of [
    ["keys", "list", "--config", "does/not/exist.yaml"],
    ["spend", "--config", "does/not/exist.yaml"],
    ["check-config", "does/not/exist.yaml"],
  ]) {
    const { code, stderr } = await cli(args);
    assert.equal(code, 1, `${args.join(" ")}: ${stderr}`);
    assert.equal(stderr, "invalid config does/not/exist.yaml:\n  cannot read file: ENOENT\n");
    noTrace(stderr);
  }
});
