/**
 * Tensor profiles: which input tensors a KServe v2 / Triton LLM model takes and
 * which output carries the text. Tensor names and types differ per serving
 * backend, so the profile is chosen per backend in config and checked against
 * ModelMetadata (see metadata.ts). Optional inputs are sent only when the
 * model declares them, so older backend versions keep working.
 */
import type { Sampling } from "../adapter.ts";
import { boolTensor, bytesTensor, fp32Tensor, int32Tensor, type RawTensor, uint64Tensor } from "./tensors.ts";

export type ProfileName = "vllm" | "tensorrt-llm";

export type TensorSpec = { name: string; datatype: string };

export type BuildArgs = {
  prompt: string;
  sampling: Sampling;
  /** Cap used when the caller gave none (vLLM's own default is only 16 tokens). */
  defaultMaxTokens: number;
  /** Ask for incremental responses (decoupled models only). */
  stream: boolean;
  /** Whether the model declares this (optional) input. */
  has: (input: string) => boolean;
};

export type Profile = {
  name: ProfileName;
  /** Inputs the model must declare, with these datatypes. */
  required: TensorSpec[];
  /** Inputs used when declared; a declared one must have this datatype. */
  optional: TensorSpec[];
  /** BYTES output holding the generated text. */
  output: string;
  buildInputs(args: BuildArgs): RawTensor[];
};

/**
 * Triton vLLM backend: one prompt string, `sampling_parameters` as a JSON
 * string, `stream` for incremental deltas. Token counts and finish reason come
 * back as extra outputs when asked with the `return_*` inputs (r24.12+).
 */
const VLLM_FLAGS: TensorSpec[] = [
  { name: "exclude_input_in_output", datatype: "BOOL" },
  { name: "return_finish_reason", datatype: "BOOL" },
  { name: "return_num_input_tokens", datatype: "BOOL" },
  { name: "return_num_output_tokens", datatype: "BOOL" },
];

const vllm: Profile = {
  name: "vllm",
  required: [
    { name: "text_input", datatype: "BYTES" },
    { name: "stream", datatype: "BOOL" },
    { name: "sampling_parameters", datatype: "BYTES" },
  ],
  optional: VLLM_FLAGS,
  output: "text_output",
  buildInputs({ prompt, sampling, defaultMaxTokens, stream, has }) {
    const params: Record<string, unknown> = { max_tokens: sampling.maxOutputTokens ?? defaultMaxTokens };
    if (sampling.temperature !== undefined) params.temperature = sampling.temperature;
    if (sampling.topP !== undefined) params.top_p = sampling.topP;
    if (sampling.stop !== undefined && sampling.stop.length > 0) params.stop = sampling.stop;
    if (sampling.seed !== undefined) params.seed = sampling.seed;
    const inputs = [
      bytesTensor("text_input", [1], [prompt]),
      boolTensor("stream", [1], stream),
      bytesTensor("sampling_parameters", [1], [JSON.stringify(params)]),
    ];
    // Without exclude_input_in_output, a non-streamed answer starts with the prompt.
    for (const flag of VLLM_FLAGS) if (has(flag.name)) inputs.push(boolTensor(flag.name, [1], true));
    return inputs;
  },
};

/**
 * TensorRT-LLM `ensemble` model (max_batch_size > 0, so every shape carries a
 * leading batch dimension of 1).
 */
const tensorrtLlm: Profile = {
  name: "tensorrt-llm",
  required: [
    { name: "text_input", datatype: "BYTES" },
    { name: "max_tokens", datatype: "INT32" },
    { name: "stream", datatype: "BOOL" },
  ],
  optional: [
    { name: "temperature", datatype: "FP32" },
    { name: "top_p", datatype: "FP32" },
    { name: "random_seed", datatype: "UINT64" },
    { name: "stop_words", datatype: "BYTES" },
    { name: "exclude_input_in_output", datatype: "BOOL" },
  ],
  output: "text_output",
  buildInputs({ prompt, sampling, defaultMaxTokens, stream, has }) {
    const one = [1, 1];
    const inputs = [
      bytesTensor("text_input", one, [prompt]),
      int32Tensor("max_tokens", one, sampling.maxOutputTokens ?? defaultMaxTokens),
      boolTensor("stream", one, stream),
    ];
    if (sampling.temperature !== undefined && has("temperature"))
      inputs.push(fp32Tensor("temperature", one, sampling.temperature));
    if (sampling.topP !== undefined && has("top_p")) inputs.push(fp32Tensor("top_p", one, sampling.topP));
    if (sampling.seed !== undefined && sampling.seed >= 0 && has("random_seed"))
      inputs.push(uint64Tensor("random_seed", one, BigInt(Math.trunc(sampling.seed))));
    if (sampling.stop !== undefined && sampling.stop.length > 0 && has("stop_words"))
      inputs.push(bytesTensor("stop_words", [1, sampling.stop.length], sampling.stop));
    if (has("exclude_input_in_output")) inputs.push(boolTensor("exclude_input_in_output", one, true));
    return inputs;
  },
};

export const PROFILES: Record<ProfileName, Profile> = { vllm, "tensorrt-llm": tensorrtLlm };
