/**
 * Checks a model's ModelMetadata against a tensor profile, so a wrong profile
 * or model name fails at start-up with a message that says what to fix,
 * instead of as an INVALID_ARGUMENT on the first request.
 */
import type { ModelMetadataResponse } from "../../../gen/inference/grpc_service_pb.ts";
import { PROFILES, type Profile } from "./profiles.ts";

/** The model's declared tensors: name → datatype. */
export type ModelTensors = { inputs: Map<string, string>; outputs: Map<string, string> };

/** Throws an Error naming the backend, model and first missing or mistyped tensor. */
export function checkModelMetadata(
  backend: string,
  model: string,
  profile: Profile,
  metadata: ModelMetadataResponse,
): ModelTensors {
  const tensors: ModelTensors = {
    inputs: new Map(metadata.inputs.map((t) => [t.name, t.datatype])),
    outputs: new Map(metadata.outputs.map((t) => [t.name, t.datatype])),
  };
  const where = `backend "${backend}": model "${model}"`;
  for (const spec of profile.required) {
    const datatype = tensors.inputs.get(spec.name);
    if (datatype === undefined) {
      throw new Error(
        `${where} has no input "${spec.name}" (profile ${profile.name}); inputs are: ${list(tensors.inputs)}`,
      );
    }
    if (datatype !== spec.datatype)
      throw mistyped(where, "input", spec.name, datatype, spec.datatype, profile);
  }
  for (const spec of profile.optional) {
    const datatype = tensors.inputs.get(spec.name);
    if (datatype !== undefined && datatype !== spec.datatype)
      throw mistyped(where, "input", spec.name, datatype, spec.datatype, profile);
  }
  const output = tensors.outputs.get(profile.output);
  if (output === undefined) {
    throw new Error(
      `${where} has no output "${profile.output}" (profile ${profile.name}); outputs are: ${list(tensors.outputs)}`,
    );
  }
  if (output !== "BYTES") throw mistyped(where, "output", profile.output, output, "BYTES", profile);
  return tensors;
}

function mistyped(
  where: string,
  role: string,
  name: string,
  actual: string,
  wanted: string,
  profile: Profile,
): Error {
  const shown = DATATYPES.has(actual) ? actual : "an unknown datatype";
  return new Error(`${where} ${role} "${name}" is ${shown}, but profile ${profile.name} needs ${wanted}`);
}

/*
 * These messages reach logs and callers, and the metadata's strings are the server's: it can put the
 * Authorization header it was sent into a tensor name. So only names and datatypes we know are shown.
 */
const DATATYPES = new Set([
  ...["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"],
  ...["FP16", "FP32", "FP64", "BF16", "BYTES"],
]);
const KNOWN_TENSORS = new Set([
  ...Object.values(PROFILES).flatMap((p) => [...p.required, ...p.optional].map((t) => t.name)),
  ...Object.values(PROFILES).map((p) => p.output),
  ...["num_input_tokens", "num_output_tokens", "finish_reason"], // vLLM's extra outputs
]);

function list(tensors: Map<string, string>): string {
  if (tensors.size === 0) return "(none)";
  const names = [...tensors.keys()];
  const known = names.filter((n) => KNOWN_TENSORS.has(n));
  const others = names.length - known.length;
  return [...known, ...(others > 0 ? [`${others} other${others === 1 ? "" : "s"}`] : [])].join(", ");
}
