import {
  type Arm,
  connectStream,
  connectUnary,
  grpcStream,
  grpcUnary,
  kserveDirect,
  modelOf,
  openaiTarget,
  workloadOf,
} from "./arms.ts";
import type { Portkey } from "./portkey.ts";
import type { Child } from "./proc.ts";
import type { Instance } from "./switchyard.ts";
import { KSERVE_TEXT, MODELS } from "./wire.ts";

export type Endpoints = {
  fake: Child;
  kserve: Child;
  bare: Child;
  syOn: Instance;
  syOff: Instance;
  syInfo: Instance;
  pk: Portkey;
};

/** Every arm of the bench, in the order of the rounds (see bench/README.md). */
export function buildArms({ fake, kserve, bare, syOn, syOff, syInfo, pk }: Endpoints): Arm[] {
  const fakeOrigin = `http://127.0.0.1:${fake.port}`;
  const origin = (c: Child) => `http://127.0.0.1:${c.port}`;
  const portkeyHeaders = {
    "x-portkey-provider": "openai",
    "x-portkey-custom-host": `${fakeOrigin}/v1`,
    authorization: "Bearer sk-bench-not-a-real-key",
  };
  const CHAT = "/v1/chat/completions";
  return [
    {
      id: "direct",
      label: "direct to fake upstream",
      pid: undefined,
      baseline: undefined,
      unary: (d) => openaiTarget(fakeOrigin, CHAT, {}, modelOf(d), false),
      stream: () => openaiTarget(fakeOrigin, CHAT, {}, MODELS.stream, true),
    },
    {
      id: "bare",
      label: "bare Node proxy",
      pid: bare.pid,
      baseline: "direct",
      unary: (d) => openaiTarget(origin(bare), CHAT, {}, modelOf(d), false),
      stream: () => openaiTarget(origin(bare), CHAT, {}, MODELS.stream, true),
    },
    {
      id: "sy-connect",
      label: "Switchyard Connect JSON",
      pid: syOn.pid,
      baseline: "direct",
      unary: (d) => connectUnary(origin(syOn), syOn.key, workloadOf(d)),
      stream: () => connectStream(origin(syOn), syOn.key),
    },
    {
      id: "sy-grpc",
      label: "Switchyard gRPC",
      pid: syOn.pid,
      baseline: "direct",
      unary: (d) => grpcUnary(syOn.port, syOn.key, workloadOf(d)),
      stream: () => grpcStream(syOn.port, syOn.key),
    },
    {
      id: "sy-openai",
      label: "Switchyard OpenAI facade",
      pid: syOn.pid,
      baseline: "direct",
      unary: (d) =>
        openaiTarget(
          origin(syOn),
          CHAT,
          { authorization: `Bearer ${syOn.key}` },
          `switchyard/${workloadOf(d)}`,
          false,
        ),
      stream: () =>
        openaiTarget(origin(syOn), CHAT, { authorization: `Bearer ${syOn.key}` }, "switchyard/stream", true),
    },
    {
      id: "sy-kserve",
      label: "Switchyard → KServe gRPC upstream",
      pid: syOn.pid,
      baseline: "direct-kserve",
      unary: () => connectUnary(origin(syOn), syOn.key, "kserve", KSERVE_TEXT),
      stream: undefined,
    },
    {
      id: "direct-kserve",
      label: "direct to KServe fake (gRPC)",
      pid: undefined,
      baseline: undefined,
      unary: () => kserveDirect(kserve.port),
      stream: undefined,
    },
    {
      id: "portkey",
      label: `Portkey ${"version" in pk ? pk.version : ""}`.trim(),
      pid: "child" in pk ? pk.child.pid : undefined,
      baseline: "direct",
      unary: (d) =>
        openaiTarget(origin("child" in pk ? pk.child : fake), CHAT, portkeyHeaders, modelOf(d), false),
      stream: () =>
        openaiTarget(origin("child" in pk ? pk.child : fake), CHAT, portkeyHeaders, MODELS.stream, true),
      ...("unavailable" in pk ? { unavailable: pk.unavailable } : {}),
    },
    {
      id: "sy-off",
      label: "Switchyard Connect JSON, features off",
      pid: syOff.pid,
      baseline: "direct",
      unary: (d) => connectUnary(origin(syOff), undefined, workloadOf(d)),
      stream: undefined,
    },
    {
      id: "sy-info",
      label: "Switchyard Connect JSON, log level info",
      pid: syInfo.pid,
      baseline: "direct",
      unary: (d) => connectUnary(origin(syInfo), syInfo.key, workloadOf(d)),
      stream: undefined,
    },
  ];
}
