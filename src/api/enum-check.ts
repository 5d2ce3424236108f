import type { DescEnum } from "@bufbuild/protobuf";
import { GatewayError } from "../errors/gateway-error.ts";

/**
 * Open enums let any number through the decoder (proto3); a value the schema does not name is the
 * caller's mistake, refused like an unknown role rather than read as "unset".
 */
export function requireKnown(schema: DescEnum, value: number, field: string): void {
  if (schema.value[value] === undefined) {
    const names = schema.values.map((v) => v.name).join(", ");
    throw new GatewayError(
      "invalid_argument",
      `${field}: ${value} is not a ${schema.name} value (one of ${names})`,
    );
  }
}
