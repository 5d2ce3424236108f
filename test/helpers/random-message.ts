import {
  type DescEnum,
  type DescField,
  type DescMessage,
  type Message,
  ScalarType,
} from "@bufbuild/protobuf";
import { type ReflectList, type ReflectMap, type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";

/**
 * A message of the given schema with random field values, built from one seed: well-formed on the
 * wire, so it reaches the handlers, but with values a handler must judge (enum numbers the schema
 * does not name, any int64 in a Timestamp, empty and odd strings, deep optional messages).
 */
export function randomMessage(desc: DescMessage, seed: number, strings: readonly string[] = []): Message {
  const rand = mulberry32(seed);
  const pool = [...strings, "", "x", "é€😀", "a".repeat(300), "\u0000", "../../etc"];
  return fill(reflect(desc), { rand, pool }, 0).message;
}

type Source = { rand: () => number; pool: string[] };
const MAX_DEPTH = 4;

function fill(r: ReflectMessage, s: Source, depth: number): ReflectMessage {
  for (const field of r.fields) {
    if (s.rand() < 0.4) continue;
    if (field.oneof && r.oneofCase(field.oneof) !== undefined) continue;
    switch (field.fieldKind) {
      case "scalar":
        r.set(field, scalar(field.scalar, s));
        break;
      case "enum":
        r.set(field, enumNumber(field.enum, s));
        break;
      case "message":
        if (depth < MAX_DEPTH) r.set(field, fill(reflect(field.message), s, depth + 1));
        break;
      case "list": {
        const list = r.get(field) as ReflectList<unknown>;
        for (let n = Math.floor(s.rand() * 4); n > 0; n--) {
          const item = element(field, field.listKind, s, depth);
          if (item !== undefined) list.add(item);
        }
        break;
      }
      case "map": {
        const map = r.get(field) as ReflectMap<unknown, unknown>;
        for (let n = Math.floor(s.rand() * 3); n > 0; n--) {
          const value = element(field, field.mapKind, s, depth);
          if (value !== undefined) map.set(scalar(field.mapKey, s), value);
        }
        break;
      }
    }
  }
  return r;
}

function element(field: DescField, kind: "scalar" | "enum" | "message", s: Source, depth: number): unknown {
  if (kind === "scalar") return scalar((field as { scalar: ScalarType }).scalar, s);
  if (kind === "enum") return enumNumber((field as { enum: DescEnum }).enum, s);
  if (depth >= MAX_DEPTH) return undefined;
  return fill(reflect((field as { message: DescMessage }).message), s, depth + 1);
}

/** Mostly a value the schema names, sometimes any int32. */
function enumNumber(e: DescEnum, s: Source): number {
  if (s.rand() < 0.8) return e.values[Math.floor(s.rand() * e.values.length)]!.number;
  return int(s, -(2 ** 31), 2 ** 31 - 1);
}

function scalar(type: ScalarType, s: Source): unknown {
  const edge = s.rand() < 0.3;
  switch (type) {
    case ScalarType.DOUBLE:
      return edge ? [Number.NaN, Number.POSITIVE_INFINITY, -0, 1e308][int(s, 0, 3)] : (s.rand() - 0.5) * 10;
    case ScalarType.FLOAT:
      return Math.fround((s.rand() - 0.5) * 10);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return edge
        ? [0n, -(2n ** 63n), 2n ** 63n - 1n, 100_000_000_000_000n][int(s, 0, 3)]
        : BigInt(int(s, -1e9, 1e9));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return edge ? 2n ** 64n - 1n : BigInt(int(s, 0, 1e9));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return edge ? [0, -(2 ** 31), 2 ** 31 - 1][int(s, 0, 2)] : int(s, -1000, 1000);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return edge ? 2 ** 32 - 1 : int(s, 0, 1000);
    case ScalarType.BOOL:
      return s.rand() < 0.5;
    case ScalarType.STRING:
      return s.pool[int(s, 0, s.pool.length - 1)];
    case ScalarType.BYTES:
      return new Uint8Array(int(s, 0, 8)).map(() => int(s, 0, 255));
  }
}

function int(s: Source, min: number, max: number): number {
  return min + Math.floor(s.rand() * (max - min + 1));
}

/** A small seeded PRNG: the same seed gives the same message. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
