// Guardrails and CEL rules on every front door (issue #17): input with each PII kind blocked or masked
// as configured over gRPC, Connect, gRPC-Web and the three REST doors; streamed output with a card
// number split across chunks masked before it reaches the caller; a rule that denies team X on model
// Y, a rule that caps max_tokens, an invalid expression refused at load with its path; every action
// in routing info, the log line and the audit log, never the matched text.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AdminService } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { PolicyActionKind } from "../../gen/switchyard/v1/routing_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { allClients, Code } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const M = InferenceService.method;
const ADMIN = mintKey().secret;
const auth = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

/** One sample per built-in kind, each a realistic valid value. */
const PII: Record<string, string> = {
  "pii.email": "write to jane.doe@example.com today",
  "pii.phone": "call me at +44 20 7946 0958 please",
  "pii.payment_card": "my card is 4111 1111 1111 1111 ok",
  "pii.iban": "send it to GB82 WEST 1234 5698 7654 32 now",
  "secret.openai_key": "use sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd as the key",
};
const CARD = "4111 1111 1111 1111";

let gw: TestGateway;
let upstream: OpenAIFake;
let teamX: string;
let teamY: string;

const ask = (text: string) => ({
  messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: text } }] }],
});

before(async () => {
  upstream = await startOpenAIFake();
  upstream.setDefault({ text: "fine" });
  const route = (name: string, backend = "echo", model = "small") =>
    `  ${name}:\n    targets:\n      - { backend: ${backend}, model: ${model} }\n`;
  gw = await startTestGateway(
    configYaml(
      `  echo: { type: echo }\n  oa:\n    type: openai\n    baseUrl: ${upstream.url}/v1\n`,
      route("blocked") +
        route("masked") +
        route("outmask") +
        route("plain") +
        route("capped", "oa", "gpt-4o-mini"),
      "",
      "auth: { enabled: true, cacheTtlMs: 60000 }\n" +
        "policies:\n  guardrails:\n" +
        "    - { name: pii, routes: [blocked], detect: [email, phone, payment_card, iban, secret], stages: [input] }\n" +
        "    - { name: scrub, routes: [masked], mode: mask, detect: [email, phone, payment_card, iban, secret], stages: [input] }\n" +
        "    - { name: cards, routes: [outmask], mode: mask, detect: [payment_card], stages: [output] }\n" +
        "    - { name: strict, routes: [], detect: [email], stages: [input] }\n" +
        "  rules:\n" +
        "    - { name: no-x-on-small, when: \"team == 'x' && model == 'small'\", action: { deny: 'team x may not use small' } }\n" +
        "    - { name: short, routes: [capped], when: 'true', action: { capMaxTokens: 7 } }\n" +
        "    - { name: y-strict, routes: [plain], when: \"team == 'y'\", action: { requireGuardrail: strict } }\n",
    ),
    { SWITCHYARD_BOOTSTRAP_KEY: ADMIN },
  );
  const admin = allClients(gw.url)[1]!;
  const mint = async (team: string) =>
    (
      await admin.unary(
        AdminService.method.createKey,
        { name: `k-${team}`, roles: ["developer"], team },
        auth(ADMIN),
      )
    ).message.secret;
  teamX = await mint("x");
  teamY = await mint("y");
  admin.close();
});
after(async () => {
  await gw.stop();
  await upstream.close();
});

describe("input guardrails over gRPC, Connect and gRPC-Web", () => {
  for (const client of allClients("http://placeholder")) {
    test(`${client.name}: each PII kind is blocked with guardrail_blocked, naming the rule, never the value`, async () => {
      const c = allClients(gw.url).find((k) => k.name === client.name)!;
      try {
        for (const [rule, text] of Object.entries(PII)) {
          const error = await c.unary(M.generate, { workload: "blocked", ...ask(text) }, auth(teamY)).then(
            () => assert.fail(`${rule} was let through`),
            (e) => e,
          );
          assert.equal(error.code, Code.InvalidArgument, `${rule}: ${error.message}`);
          assert.equal(error.metadata.get("x-switchyard-reason"), "guardrail_blocked");
          assert.match(error.message, new RegExp(rule.replace(".", "\\.")));
          assert.ok(
            !error.message.includes(text.split(" ").slice(3, 5).join(" ")),
            "the value is not echoed",
          );
        }
      } finally {
        c.close();
      }
    });
  }

  test("mask mode: the upstream and the caller see the value masked; routing info names the rules", async () => {
    const c = allClients(gw.url)[2]!; // @grpc/grpc-js, an independent implementation
    try {
      for (const [rule, text] of Object.entries(PII)) {
        const { message } = await c.unary(M.generate, { workload: "masked", ...ask(text) }, auth(teamY));
        // The echo backend answers with the prompt it received.
        assert.ok(message.text.includes(`[REDACTED:${rule}]`), `${rule}: ${message.text}`);
        const actions = message.routing?.policyActions ?? [];
        assert.deepEqual(
          actions.map((a) => [a.rule, a.action]),
          [[`scrub:${rule}`, PolicyActionKind.MASKED]],
        );
      }
    } finally {
      c.close();
    }
  });
});

describe("input guardrails on the REST front doors", () => {
  const post = (path: string, body: unknown, key = teamY) =>
    fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
      },
      body: JSON.stringify(body),
    });
  const doors = [
    [
      "/v1/chat/completions",
      (w: string, t: string) => ({ model: `switchyard/${w}`, messages: [{ role: "user", content: t }] }),
    ],
    [
      "/v1/messages",
      (w: string, t: string) => ({
        model: `switchyard/${w}`,
        max_tokens: 50,
        messages: [{ role: "user", content: t }],
      }),
    ],
    ["/v1/responses", (w: string, t: string) => ({ model: `switchyard/${w}`, input: t })],
  ] as const;
  for (const [path, body] of doors) {
    test(`${path}: blocked (400, guardrail_blocked) and masked as configured`, async () => {
      const res = await post(path, body("blocked", PII["pii.payment_card"]!));
      assert.equal(res.status, 400);
      assert.equal(res.headers.get("x-switchyard-reason"), "guardrail_blocked");
      const text = await res.text();
      assert.ok(!text.includes(CARD), "the card number is not echoed");
      const masked = await post(path, body("masked", PII["pii.email"]!));
      assert.equal(masked.status, 200);
      const answer = await masked.text();
      assert.ok(answer.includes("[REDACTED:pii.email]"), answer);
      assert.ok(!answer.includes("jane.doe@example.com"));
    });
  }
});

describe("streamed output", () => {
  for (const client of allClients("http://placeholder")) {
    test(`${client.name}: a card number split across chunks is masked before it reaches the caller`, async () => {
      const c = allClients(gw.url).find((k) => k.name === client.name)!;
      try {
        // The echo backend streams the prompt back word by word: the card arrives in four chunks.
        const { messages } = await c.serverStream(
          M.generateStream,
          { workload: "outmask", ...ask(`pay with ${CARD} please`) },
          auth(teamY),
        );
        const deltas = messages.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value.text] : []));
        const text = deltas.join("");
        assert.equal(text.replace(/\s+/g, " ").trim(), "pay with [REDACTED:pii.payment_card] please");
        for (const d of deltas)
          assert.ok(!/\d{4}/.test(d), `a chunk with card digits reached the caller: ${d}`);
        const final = messages.at(-1)?.event;
        assert.equal(final?.case, "final");
        if (final?.case === "final")
          assert.deepEqual(
            final.value.routing?.policyActions.map((a) => a.rule),
            ["cards:pii.payment_card"],
          );
      } finally {
        c.close();
      }
    });
  }
});

describe("CEL rules", () => {
  test("a rule denies team x on model small, and not team y", async () => {
    const c = allClients(gw.url)[1]!;
    try {
      const error = await c
        .unary(M.generate, { workload: "plain", model: "small", ...ask("hi") }, auth(teamX))
        .then(
          () => assert.fail("team x was served"),
          (e) => e,
        );
      assert.equal(error.code, Code.PermissionDenied);
      assert.equal(error.metadata.get("x-switchyard-reason"), "policy_denied");
      assert.match(error.message, /no-x-on-small: team x may not use small/);
      const ok = await c.unary(M.generate, { workload: "plain", model: "small", ...ask("hi") }, auth(teamY));
      assert.equal(ok.message.text.trim(), "hi");
    } finally {
      c.close();
    }
  });

  test("a rule caps max_tokens: the upstream receives the cap, a smaller ask is kept", async () => {
    const c = allClients(gw.url)[1]!;
    try {
      const before = upstream.requests.length;
      await c.unary(
        M.generate,
        { workload: "capped", ...ask("hi"), sampling: { maxOutputTokens: 500 } },
        auth(teamY),
      );
      await c.unary(
        M.generate,
        { workload: "capped", ...ask("hi"), sampling: { maxOutputTokens: 3 } },
        auth(teamY),
      );
      const sent = upstream.requests
        .slice(before)
        .map((r) => r.body as { max_tokens?: number; max_completion_tokens?: number });
      assert.deepEqual(
        sent.map((b) => b.max_completion_tokens ?? b.max_tokens),
        [7, 3],
      );
    } finally {
      c.close();
    }
  });

  test("a rule requires a guardrail for team y only", async () => {
    const c = allClients(gw.url)[1]!;
    try {
      const error = await c
        .unary(M.generate, { workload: "plain", ...ask(PII["pii.email"]!) }, auth(teamY))
        .then(
          () => assert.fail("the required guardrail did not run"),
          (e) => e,
        );
      assert.equal(error.metadata.get("x-switchyard-reason"), "guardrail_blocked");
      const { message } = await c.unary(
        M.generate,
        { workload: "plain", ...ask(PII["pii.email"]!) },
        auth(teamX),
      );
      assert.ok(message.text.includes("jane.doe@example.com"), "team x has no such rule");
    } finally {
      c.close();
    }
  });
});

test("blocks and masks are audited and logged by rule id, never with the matched text", async () => {
  const audits = gw.logs.filter(
    (l) => typeof l.msg === "string" && String(l.msg).startsWith("audit inference.policy"),
  );
  assert.ok(audits.length > 0, "policy actions are audited");
  const lines = gw.logs.filter((l) => l.msg === "request" && l.policyActions !== undefined);
  assert.ok(lines.length > 0, "the request line lists the policy actions");
  const text = gw.logText();
  for (const sample of ["jane.doe@example.com", CARD, "GB82 WEST", "sk-proj-AbCd", "7946 0958"])
    assert.ok(!text.includes(sample), `${sample} appears in the log`);
});

test("an invalid CEL expression is refused at load, with its path", async () => {
  await assert.rejects(
    startTestGateway(
      configYaml(
        "  echo: { type: echo }\n",
        "  chat:\n    targets:\n      - { backend: echo, model: small }\n",
        "",
        "auth: { enabled: false }\npolicies:\n  rules:\n    - { name: ok, when: 'true', action: { deny: no } }\n    - { name: bad, when: 'input_tokens + 1', action: { deny: no } }\n",
      ),
    ),
    /policies\.rules\[1\]\.when: .*boolean/,
  );
});

test("a rule name used twice, or an unknown guardrail or route, is refused at load with its path", async () => {
  await assert.rejects(
    startTestGateway(
      configYaml(
        "  echo: { type: echo }\n",
        "  chat:\n    targets:\n      - { backend: echo, model: small }\n",
        "",
        "auth: { enabled: false }\npolicies:\n  rules:\n" +
          "    - { name: twice, when: 'true', action: { deny: no } }\n" +
          "    - { name: twice, routes: [nope], when: 'true', action: { requireGuardrail: ghost } }\n",
      ),
    ),
    (error: Error) => {
      assert.match(error.message, /policies\.rules\[1\]\.name: "twice" is used twice/);
      assert.match(error.message, /policies\.rules\[1\]\.routes: unknown route "nope"/);
      assert.match(
        error.message,
        /policies\.rules\[1\]\.action\.requireGuardrail: unknown guardrail "ghost"/,
      );
      return true;
    },
  );
});
