import { type DescFile, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ServerReflection as ReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import type { ServerReflection as ReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.ts";

const NOT_FOUND = 5; // gRPC status code, as the reflection protocol reports errors in-band

/** The request fields both reflection versions share (field names and numbers are identical). */
type ReflectionRequest = {
  host: string;
  messageRequest:
    | {
        case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices";
        value: string;
      }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
};

/**
 * Answers reflection queries from the descriptors embedded in gen/, so
 * grpcurl and `buf curl --reflect` work without .proto files.
 */
export class DescriptorIndex {
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  readonly #messages = new Map<string, DescMessage>();
  readonly services: readonly string[];

  constructor(files: readonly DescFile[], services: readonly string[]) {
    this.services = services;
    const visit = (file: DescFile) => {
      if (this.#files.has(file.proto.name)) return;
      this.#files.set(file.proto.name, file);
      for (const dep of file.dependencies) visit(dep);
      const addMessage = (m: DescMessage) => {
        this.#symbols.set(m.typeName, file);
        this.#messages.set(m.typeName, m);
        for (const e of m.nestedEnums) this.#symbols.set(e.typeName, file);
        for (const n of m.nestedMessages) addMessage(n);
      };
      for (const m of file.messages) addMessage(m);
      for (const e of file.enums) this.#symbols.set(e.typeName, file);
      for (const s of file.services) {
        this.#symbols.set(s.typeName, file);
        for (const method of s.methods) this.#symbols.set(`${s.typeName}.${method.name}`, file);
      }
    };
    for (const file of files) visit(file);
  }

  /** The file and every file it imports, serialised, requested file first. */
  fileWithDependencies(file: DescFile): Uint8Array[] {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const walk = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dep of f.dependencies) walk(dep);
    };
    walk(file);
    return out;
  }

  answer(req: ReflectionRequest) {
    const base = { validHost: req.host, originalRequest: req };
    const notFound = (what: string) => ({
      ...base,
      messageResponse: {
        case: "errorResponse" as const,
        value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` },
      },
    });
    const files = (file: DescFile | undefined, what: string) =>
      file
        ? {
            ...base,
            messageResponse: {
              case: "fileDescriptorResponse" as const,
              value: { fileDescriptorProto: this.fileWithDependencies(file) },
            },
          }
        : notFound(what);
    const r = req.messageRequest;
    switch (r.case) {
      case "listServices":
        return {
          ...base,
          messageResponse: {
            case: "listServicesResponse" as const,
            value: { service: this.services.map((name) => ({ name })) },
          },
        };
      case "fileByFilename":
        return files(this.#files.get(r.value), `file "${r.value}"`);
      case "fileContainingSymbol":
        return files(this.#symbols.get(r.value.replace(/^\./, "")), `symbol "${r.value}"`);
      case "allExtensionNumbersOfType":
        return this.#messages.has(r.value)
          ? {
              ...base,
              messageResponse: {
                case: "allExtensionNumbersResponse" as const,
                value: { baseTypeName: r.value, extensionNumber: [] },
              },
            }
          : notFound(`type "${r.value}"`);
      case "fileContainingExtension":
        return notFound(`extension ${r.value.extensionNumber} of "${r.value.containingType}"`);
      default:
        return {
          ...base,
          messageResponse: {
            case: "errorResponse" as const,
            value: { errorCode: 3, errorMessage: "empty reflection request" },
          },
        };
    }
  }
}

export function reflectionServiceV1(index: DescriptorIndex): ServiceImpl<typeof ReflectionV1> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield index.answer(req);
    },
  };
}

export function reflectionServiceV1alpha(index: DescriptorIndex): ServiceImpl<typeof ReflectionV1alpha> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield index.answer(req);
    },
  };
}
