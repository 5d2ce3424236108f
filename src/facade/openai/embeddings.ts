import { create } from "@bufbuild/protobuf";
import { z } from "zod";
import { EmbedRequestSchema } from "../../../gen/switchyard/v1/inference_service_pb.ts";
import { toEmbeddingRequest } from "../../api/validate.ts";
import { GatewayError } from "../../errors/gateway-error.ts";
import type { Pipeline } from "../../pipeline/pipeline.ts";
import { usageOf } from "./chat-response.ts";
import { invalidParam } from "./errors.ts";
import type { Exchange } from "./exchange.ts";
import type { ResolvedModel } from "./model-mapping.ts";
import { parseBody } from "./schema-errors.ts";

const MAX_INPUTS = 2048; // as api/validate.ts
const tokenArrays = "token arrays are not supported: send text";

export const embeddingsBodySchema = z.strictObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string())], {
    error: (issue) =>
      Array.isArray(issue.input) && issue.input.some((x) => typeof x === "number" || Array.isArray(x))
        ? tokenArrays
        : "expected string or array of strings",
  }),
  dimensions: z.int().nullable().optional(),
  encoding_format: z.enum(["float", "base64"]).nullable().optional(),
  /** Accepted and ignored (no end-user field on embeddings). */
  user: z.string().optional(),
});

export type EmbeddingsBody = z.output<typeof embeddingsBodySchema>;

/** Shape, then the gateway's own rules (those of api/validate.ts, named by OpenAI's field paths). */
export function parseEmbeddingsBody(raw: unknown): EmbeddingsBody {
  const body = parseBody(embeddingsBodySchema, raw);
  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  if (inputs.length === 0) throw new GatewayError("empty_inputs", "input: send at least one text");
  if (inputs.length > MAX_INPUTS) throw invalidParam("input", `at most ${MAX_INPUTS} texts per call`);
  const empty = inputs.indexOf("");
  if (empty !== -1) {
    throw invalidParam(typeof body.input === "string" ? "input" : `input[${empty}]`, "must not be empty");
  }
  if (body.dimensions != null && body.dimensions < 1) throw invalidParam("dimensions", "must be at least 1");
  return body;
}

/** POST /v1/embeddings once the body is valid and the model resolved. */
export async function embeddings(
  ex: Exchange,
  pipeline: Pipeline,
  body: EmbeddingsBody,
  target: ResolvedModel,
): Promise<void> {
  // Same conversion and checks as the gRPC API, so both front-ends agree.
  const request = toEmbeddingRequest(
    create(EmbedRequestSchema, {
      workload: target.workload,
      model: target.requestedModel,
      inputs: typeof body.input === "string" ? [body.input] : body.input,
      ...(body.dimensions != null ? { dimensions: body.dimensions } : {}),
    }),
  );
  const { output, usage } = await pipeline.embed(ex.ctx, request);
  const base64 = body.encoding_format === "base64";
  const { prompt_tokens } = usageOf(usage);
  ex.ok(
    {
      object: "list",
      data: output.vectors.map((vector, index) => ({
        object: "embedding",
        index,
        embedding: base64 ? toBase64(vector) : Array.from(vector),
      })),
      model: output.model,
      usage: { prompt_tokens, total_tokens: prompt_tokens },
    },
    output.model,
    usage,
  );
}

/** OpenAI's base64 encoding: the float32 values as little-endian bytes, whatever this machine's order. */
export function toBase64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
  return bytes.toString("base64");
}
