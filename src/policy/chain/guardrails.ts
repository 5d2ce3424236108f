import type { GenerateOutput } from "../../adapters/adapter.ts";
import type { PolicyAction } from "../../api/request-context.ts";
import type { GuardrailConfig } from "../../config/policy-schema.ts";
import { GatewayError } from "../../errors/gateway-error.ts";
import { compileDetector, type Detector, type Finding, maskText } from "../../guardrails/detectors.ts";
import { StreamMasker } from "../../guardrails/stream-masker.ts";
import type { EmbeddingRequest, GenerationRequest } from "../../pipeline/pipeline.ts";
import {
  type ExternalGuard,
  type ExternalResult,
  externalInput,
  externalOutput,
} from "./guardrail-external.ts";
import { scanMessages, scanTexts } from "./guardrail-input.ts";
import { shapeViolation } from "./guardrail-shape.ts";
import type { Exchange, Policy, PolicyRun, StreamEvent } from "./policy.ts";

/** A guardrail compiled once per config generation. */
export type CompiledGuardrail = {
  config: GuardrailConfig;
  detector: Detector | undefined;
  external: ExternalGuard | undefined;
};

/** Told of every block, mask and flag (guardrail, rule id, action, stage), for metrics. */
export type GuardrailCounter = (action: PolicyAction) => void;

export function compileGuardrail(
  config: GuardrailConfig,
  external: ExternalGuard | undefined,
): CompiledGuardrail {
  const detecting = config.detect.length > 0 || config.deny.length > 0 || config.topics.length > 0;
  return {
    config,
    detector: detecting
      ? compileDetector({
          kinds: config.detect,
          deny: config.deny.map((d) =>
            d.maxLength === undefined
              ? { name: d.name, pattern: d.pattern }
              : { ...d, maxLength: d.maxLength },
          ),
          topics: config.topics,
        })
      : undefined,
    external,
  };
}

/**
 * The guardrails of a route (and those a policy rule requires), in config order. Input: shape rules,
 * detectors and the external service check the request before routing — `block` refuses it
 * (guardrail_blocked), `mask` rewrites the prompt, `monitor` only records. Output: unary answers are
 * checked whole; streamed text goes through a StreamMasker (bounded look-behind, stream-masker.ts), so
 * a masked value never reaches the caller. Every action is recorded (rule ids, never the content) in
 * the decision, which feeds routing info, the log line, the audit log and the metrics.
 */
export function guardrails(
  always: readonly CompiledGuardrail[],
  onRequest: readonly CompiledGuardrail[],
  count: GuardrailCounter,
): Policy {
  const forEveryone = always.every((g) => g.config.teams.includes("*"));
  return {
    name: "guardrails",
    async admit(x) {
      const team = x.ctx.principal?.team;
      // The common case (no team lists, nothing a rule requires) is decided at compile time.
      const active =
        forEveryone && x.requiredGuardrails.length === 0
          ? always
          : [...always, ...onRequest.filter((g) => x.requiredGuardrails.includes(g.config.name))].filter(
              (g) => g.config.teams.includes("*") || (team !== undefined && g.config.teams.includes(team)),
            );
      if (active.length === 0) return undefined;
      const record = (
        g: CompiledGuardrail,
        rule: string,
        action: PolicyAction["action"],
        stage: PolicyAction["stage"],
      ) => {
        const entry: PolicyAction = { policy: "guardrails", rule: `${g.config.name}:${rule}`, action, stage };
        x.ctx.decision.policyActions.push(entry);
        count(entry);
      };
      const outputs: CompiledGuardrail[] = [];
      for (const g of active) {
        if (g.config.stages.includes("input")) await checkInput(x, g, record);
        if (g.config.stages.includes("output") && (g.detector || g.external) && x.kind === "generate")
          outputs.push(g);
      }
      return outputs.length === 0 ? undefined : outputRun(x, outputs, record);
    },
  };
}

type Record = (
  g: CompiledGuardrail,
  rule: string,
  action: PolicyAction["action"],
  stage: PolicyAction["stage"],
) => void;

async function checkInput(x: Exchange, g: CompiledGuardrail, record: Record): Promise<void> {
  const shape = g.config.shape && x.kind === "generate" ? shapeViolation(g.config.shape, x) : undefined;
  if (shape) {
    record(g, shape, "blocked", "input");
    throw blocked(g, [shape]);
  }
  if (g.detector) {
    const generation = x.kind === "generate" ? (x.request as GenerationRequest) : undefined;
    const scan = generation
      ? scanMessages(generation.messages, g.detector)
      : scanTexts((x.request as EmbeddingRequest).inputs, g.detector);
    if (scan.findings.length > 0)
      act(g, rulesOf(scan.findings), "input", record, () => {
        if (!scan.masked) return;
        x.request = generation
          ? { ...generation, messages: scan.masked as GenerationRequest["messages"] }
          : { ...(x.request as EmbeddingRequest), inputs: scan.masked as string[] };
      });
  }
  if (g.external) {
    const verdict = await externalInput(g.external, x);
    if (judged(g, verdict, "input", record)) x.request = verdict.apply(x.request);
  }
}

/**
 * The external service's verdict, recorded: a deny blocks (whatever the mode), a failure blocks as
 * guardrail_unavailable only when the guardrail fails closed. True when its mask is to be applied.
 */
function judged(
  g: CompiledGuardrail,
  verdict: ExternalResult,
  stage: "input" | "output",
  record: Record,
): verdict is Extract<ExternalResult, { kind: "mask" }> {
  if (verdict.kind === "error") {
    record(g, `external.${verdict.error}`, "flagged", stage);
    if (g.config.failMode === "closed") throw unavailable(g);
  } else if (verdict.kind === "deny") {
    record(g, verdict.reason, "blocked", stage);
    throw blocked(g, [verdict.reason]);
  } else if (verdict.kind === "mask" && g.config.mode !== "monitor") {
    record(g, verdict.reason, "masked", stage);
    return true;
  }
  return false;
}

/** block refuses, mask rewrites (`mask()`), monitor only records. */
function act(
  g: CompiledGuardrail,
  rules: string[],
  stage: "input" | "output",
  record: Record,
  mask: () => void,
): void {
  const action = g.config.mode === "block" ? "blocked" : g.config.mode === "mask" ? "masked" : "flagged";
  for (const rule of rules) record(g, rule, action, stage);
  if (action === "blocked") throw blocked(g, rules);
  if (action === "masked") mask();
}

function outputRun(x: Exchange, outputs: CompiledGuardrail[], record: Record): PolicyRun {
  return {
    async output(output: GenerateOutput) {
      let text = output.text;
      for (const g of outputs) {
        if (g.detector) {
          const found = g.detector.find(text);
          if (found.length > 0)
            act(g, rulesOf(found), "output", record, () => (text = maskText(text, found)));
        }
        if (g.external) {
          const verdict = await externalOutput(g.external, x, text, 0);
          if (judged(g, verdict, "output", record)) text = verdict.applyText(text);
        }
      }
      return text === output.text ? output : { ...output, text };
    },
    stream(events: AsyncIterable<StreamEvent>) {
      return guardedStream(events, outputs, record);
    },
  };
}

/**
 * Streamed text through each output guardrail's masker in turn (block and mask). Text is held back
 * only as long as a match could still cover it (stream-masker.ts: ≤ 65 chars with the PII
 * detectors, more after a secret's prefix) and flushed before any other event, so the order of
 * events is kept; a block ends the stream with guardrail_blocked before the match is released.
 * Monitor guardrails delay nothing: they read the text as it passes (up to 1 MiB) and record at the
 * end. Logprobs of text that went through a masker are dropped (they would not match it any more).
 */
async function* guardedStream(
  events: AsyncIterable<StreamEvent>,
  outputs: CompiledGuardrail[],
  record: Record,
): AsyncGenerator<StreamEvent> {
  const masking = outputs.filter((g) => g.detector && g.config.mode !== "monitor");
  const monitoring = outputs.filter((g) => g.detector && g.config.mode === "monitor");
  const fresh = () =>
    masking.map((g) => new StreamMasker(g.detector!, g.config.mode === "block" ? "block" : "mask"));
  let maskers = fresh();
  const reported = masking.map(() => new Set<string>());
  const report = (i: number, findings: readonly Finding[]) => {
    const rules = rulesOf(findings).filter((r) => !reported[i]!.has(r));
    for (const r of rules) reported[i]!.add(r);
    if (rules.length > 0) act(masking[i]!, rules, "output", record, () => {});
  };
  /** Through every masker: `end` flushes each (the segment of text ends here). */
  const pass = (text: string, end: boolean): string => {
    let out = text;
    maskers.forEach((m, i) => {
      const pushed = out === "" ? undefined : m.push(out);
      const flushed = end ? m.flush() : undefined;
      report(i, [...(pushed?.findings ?? []), ...(flushed?.findings ?? [])]);
      out = (pushed?.text ?? "") + (flushed?.text ?? "");
    });
    if (end) maskers = fresh(); // text after a tool call or reasoning is a new segment
    return out;
  };
  let watched = "";
  for await (const event of events) {
    if (event.type === "text") {
      if (monitoring.length > 0 && watched.length < MONITOR_CHARS) watched += event.text;
      if (maskers.length === 0) {
        yield event;
        continue;
      }
      const out = pass(event.text, false);
      if (out !== "") yield { type: "text", text: out };
      continue;
    }
    if (event.type !== "attempt" && event.type !== "commit" && maskers.length > 0) {
      const rest = pass("", true);
      if (rest !== "") yield { type: "text", text: rest };
    }
    yield event;
  }
  if (maskers.length > 0) {
    const rest = pass("", true);
    if (rest !== "") yield { type: "text", text: rest };
  }
  for (const g of monitoring) {
    const found = g.detector!.find(watched);
    if (found.length > 0) act(g, rulesOf(found), "output", record, () => {});
  }
}

/** How much streamed text a monitor guardrail reads (it records; it never delays or changes the text). */
const MONITOR_CHARS = 1024 * 1024;

function rulesOf(findings: readonly Finding[]): string[] {
  return [...new Set(findings.map((f) => f.rule))];
}

function blocked(g: CompiledGuardrail, rules: string[]): GatewayError {
  return new GatewayError("guardrail_blocked", `blocked by guardrail ${g.config.name} (${rules.join(", ")})`);
}

function unavailable(g: CompiledGuardrail): GatewayError {
  return new GatewayError(
    "guardrail_unavailable",
    `the external guardrail service of ${g.config.name} did not answer (failMode: closed)`,
  );
}
