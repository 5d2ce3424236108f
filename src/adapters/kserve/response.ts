import type { InferParameter, ModelInferResponse } from "../../../gen/inference/grpc_service_pb.ts";
import type { FinishReason } from "../adapter.ts";
import { OutputTensors } from "./tensors.ts";

/** What one (streamed or unary) inference response contributes. */
export type ResponsePart = {
  text: string;
  /** Triton's `triton_final_response`: no more responses follow for this request. */
  final: boolean;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
  finishReason: string | undefined;
};

/** Reads the text output and the optional vLLM extras (token counts, finish reason). */
export function readResponse(response: ModelInferResponse, output: string): ResponsePart {
  const tensors = new OutputTensors(response);
  const input = tensors.integers("num_input_tokens");
  const produced = tensors.integers("num_output_tokens");
  const reason = tensors.strings("finish_reason")[0];
  return {
    text: tensors.strings(output)[0] ?? "",
    final: boolParam(response.parameters.triton_final_response) === true,
    inputTokens: input[0],
    outputTokens: produced.length > 0 ? produced.reduce((a, b) => a + b, 0) : undefined,
    // vLLM sends str(None) until the sequence has finished.
    finishReason: reason === "None" || reason === "" ? undefined : reason,
  };
}

function boolParam(parameter: InferParameter | undefined): boolean | undefined {
  return parameter?.parameterChoice.case === "boolParam" ? parameter.parameterChoice.value : undefined;
}

/** vLLM's finish reasons ("stop", "length", "abort"); anything else ends as "other". */
export function finishReasonOf(reason: string | undefined): FinishReason {
  if (reason === undefined || reason === "" || reason === "stop") return "stop";
  if (reason === "length") return "length";
  return "other";
}
