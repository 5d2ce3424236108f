import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { metrics } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { AdminService } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { MAX_CLIENT_STRING } from "../../src/telemetry/bounded.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { parsePrometheus, type Sample, total } from "../helpers/prometheus.ts";

// This file owns the process-wide MeterProvider (node --test runs each file in its own process).
const prometheus = new PrometheusExporter({ preventServerStart: true });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [prometheus] }));

const M = InferenceService.method;
const ADMIN = mintKey().secret;
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
/** 256 KB names, as the probe sent them. */
const HUGE = "w".repeat(256 * 1024);
const HUGE_MODEL = "m".repeat(256 * 1024);
const randomName = () => `wl-${randomBytes(8).toString("hex")}`;

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: small }\n",
      "",
      "auth: { enabled: true, cacheTtlMs: 60000 }\n",
    ),
    { SWITCHYARD_BOOTSTRAP_KEY: ADMIN },
    { prometheus },
  );
});
after(() => gw.stop());

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return { text, samples: parsePrometheus(text) };
}
const series = (samples: Sample[]) =>
  new Set(
    samples
      .filter((s) => s.name.startsWith("switchyard_"))
      .map((s) => `${s.name}${JSON.stringify(s.labels)}`),
  );

/** Unauthenticated calls naming `workload` (and `model`) over every client stack and the facade. */
async function unauthenticated(workload: string, model = "") {
  for (const c of allClients(gw.url)) {
    const req = { workload, model, messages: [user("hi")] };
    await assert.rejects(c.unary(M.generate, req));
    await assert.rejects(c.serverStream(M.generateStream, req));
    await assert.rejects(c.unary(M.embed, { workload, model, inputs: ["x"] }));
    c.close();
  }
  for (const name of [
    `switchyard/${workload}`,
    `switchyard/${workload}/${model || "x"}`,
    model || workload,
  ]) {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: name, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  }
}

test("without a key, huge and random workload names add no metric series and no bytes to /metrics", async () => {
  await unauthenticated("warm-up"); // the first refusals make the `other` series; the flood must add none
  const base = await scrape();
  await unauthenticated(HUGE, HUGE_MODEL);
  await unauthenticated(HUGE, HUGE_MODEL);
  for (let i = 0; i < 30; i++) await unauthenticated(randomName(), randomName());
  const flooded = await scrape();

  assert.deepEqual(
    [...series(flooded.samples)].filter((s) => !series(base.samples).has(s)),
    [],
    "no new series",
  );
  // Only counter values change; without the bound four 256 KB names added 31 MB.
  assert.ok(
    flooded.text.length - base.text.length < 2048,
    `/metrics grew ${flooded.text.length - base.text.length} bytes`,
  );
  const refused = (s: Sample[]) =>
    total(s, "switchyard_rejections_total", { reason: "unauthenticated", workload: "other" });
  assert.equal(
    refused(flooded.samples) - refused(base.samples),
    32 * (4 * 3 + 3),
    "counted as workload other",
  );
  for (const s of flooded.samples.filter((x) => x.name.startsWith("switchyard_") && "workload" in x.labels))
    assert.ok(["", "chat", "other"].includes(s.labels.workload!), `workload label ${s.labels.workload}`);
});

test("a configured workload keeps its own label, even when the call is refused", async () => {
  const base = await scrape();
  const c = allClients(gw.url)[1]!;
  await assert.rejects(c.unary(M.generate, { workload: "chat", messages: [user("hi")] }));
  c.close();
  const after = await scrape();
  const refused = (s: { samples: Sample[] }) =>
    total(s.samples, "switchyard_rejections_total", { reason: "unauthenticated", workload: "chat" });
  assert.equal(refused(after) - refused(base), 1);
});

test("log lines, audit rows and denial messages quote a client string at most 128 characters long", async () => {
  const logged = gw.logs.length;
  await unauthenticated(HUGE, HUGE_MODEL);
  // A denied admin call audits its target (here a key name) before the caller is known.
  const admin = allClients(gw.url)[1]!;
  await assert.rejects(admin.unary(AdminService.method.createKey, { name: HUGE, roles: ["developer"] }));
  // An authenticated key outside its scope: the denial quotes the workload and model it asked for.
  const auth = { headers: { authorization: `Bearer ${ADMIN}` } };
  const { message } = await admin.unary(
    AdminService.method.createKey,
    { name: "dev", roles: ["developer"], workloads: ["chat"], models: ["small"] },
    auth,
  );
  const dev = { headers: { authorization: `Bearer ${message.secret}` } };
  const denied = await admin.unary(M.generate, { workload: HUGE, messages: [user("hi")] }, dev).then(
    () => assert.fail("served"),
    (e: Error) => e.message,
  );
  assert.ok(denied.length < 300, `denial message of ${denied.length} chars`);
  assert.match(denied, new RegExp(`"w{${MAX_CLIENT_STRING - 1}}…"`));
  const deniedModel = await admin
    .unary(M.generate, { workload: "chat", model: HUGE_MODEL, messages: [user("hi")] }, dev)
    .then(
      () => assert.fail("served"),
      (e: Error) => e.message,
    );
  assert.ok(deniedModel.length < 300, `denial message of ${deniedModel.length} chars`);
  admin.close();

  const lines = gw.logs.slice(logged);
  assert.ok(lines.length > 20);
  for (const line of lines) {
    const text = JSON.stringify(line);
    assert.ok(text.length < 4096, `a log line of ${text.length} chars: ${text.slice(0, 200)}`);
  }
  assert.ok(
    lines.some((l) => l.workload === `${"w".repeat(MAX_CLIENT_STRING - 1)}…`),
    "the request line names the workload, cut with a marker",
  );
  const events = await gw.gateway.store.audit.list({ limit: 1000 });
  assert.ok(events.length >= 25);
  for (const e of events) {
    assert.ok(e.target.length <= MAX_CLIENT_STRING, `audit target of ${e.target.length} chars`);
    for (const value of Object.values(e.details))
      assert.ok(String(value).length <= MAX_CLIENT_STRING, `audit detail of ${String(value).length} chars`);
  }
  assert.ok(events.some((e) => e.action === "keys.create.denied" && e.target.endsWith("…")));
});
