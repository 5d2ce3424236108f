import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type ReasoningPartSchema,
  ServiceTier,
  type TokenLogprobSchema,
} from "../../gen/switchyard/v1/generation_pb.ts";
import type {
  ReasoningBlock,
  ReasoningDelta,
  ServiceTier as Tier,
  TokenLogprob,
} from "../adapters/adapter.ts";

/** Neutral output pieces as their switchyard.v1 messages (responses and stream events). */

export const WIRE_TIER: Record<Tier, ServiceTier> = {
  auto: ServiceTier.AUTO,
  default: ServiceTier.DEFAULT,
  flex: ServiceTier.FLEX,
  priority: ServiceTier.PRIORITY,
};

export function wireReasoning(block: ReasoningBlock): MessageInitShape<typeof ReasoningPartSchema> {
  return {
    text: block.text,
    signature: block.signature ?? "",
    encryptedContent: block.encryptedContent ?? "",
    id: block.id ?? "",
    provider: block.provider,
    redacted: block.redacted ?? false,
  };
}

export function wireReasoningDelta(d: ReasoningDelta) {
  return {
    index: d.index,
    text: d.text ?? "",
    signature: d.signature ?? "",
    encryptedContent: d.encryptedContent ?? "",
    id: d.id ?? "",
    provider: d.provider,
    redacted: d.redacted ?? false,
  };
}

export function wireLogprobs(list: readonly TokenLogprob[]): MessageInitShape<typeof TokenLogprobSchema>[] {
  return list.map((t) => ({
    token: t.token,
    logprob: t.logprob,
    bytes: t.bytes ? Uint8Array.from(t.bytes) : new Uint8Array(),
    topLogprobs: t.topLogprobs,
  }));
}
