import {
  type CelEnv,
  CelScalar,
  type CelType,
  celEnv,
  isCelError,
  listType,
  mapType,
  parse,
  plan,
} from "@bufbuild/cel";

/**
 * A static type checker for CEL rule expressions, over the parsed AST.
 *
 * Why our own: @bufbuild/cel 0.6.1 ships a `Checker`, but it is not exported from the package (only from
 * dist/, behind the exports map) and it only handles constants and identifiers — every call, select or
 * macro throws "Unsupported expression kind". The library does expose every function's overloads
 * (`env.funcs`: name, target, argument and result types), so this checker resolves calls against the
 * very table the evaluator dispatches on, instead of a hand-kept copy.
 *
 * It is deliberately lenient where CEL's own checker is strict, and strict where a mistake would
 * silently make a rule never match:
 * - refused: unknown identifiers and functions, calls with no overload for the argument types (e.g.
 *   `model > 3`), field selection on a scalar, comprehensions over a scalar, message construction;
 * - lenient: `dyn` matches anything; a ternary whose branches differ is `dyn`; equality is (dyn, dyn)
 *   as the library declares it, so `hour == 'x'` passes the check (and is simply false at run time).
 * A `dyn` top-level type is accepted; the evaluator reports a non-boolean result as a rule error.
 */

export type CelExpr = ReturnType<typeof parse>["expr"];

const DYN: CelType = CelScalar.DYN;
const BOOL: CelType = CelScalar.BOOL;

/** Type names usable as values, as in `type(x) == string`; the planner resolves them the same way. */
const TYPE_IDENTS = new Set(["bool", "int", "uint", "double", "string", "bytes", "list", "map", "null_type"]);
const MAP_KEY_TYPES = new Set(["int", "uint", "bool", "string", "dyn"]);

type Scope =
  | { readonly name: string; readonly type: CelType; readonly parent: Scope | undefined }
  | undefined;

export class CelTypeError extends Error {}

/** The static type of `expr`, or a CelTypeError saying why it cannot be typed. */
export function checkCelExpr(env: CelEnv, vars: ReadonlyMap<string, CelType>, expr: CelExpr): CelType {
  return new TypeWalker(env, vars).type(expr, undefined);
}

function same(a: CelType, b: CelType): boolean {
  return a.toString() === b.toString();
}

function assignable(param: CelType, arg: CelType): boolean {
  if (param.kind === "scalar" && param.scalar === "dyn") return true;
  if (arg.kind === "scalar" && arg.scalar === "dyn") return true;
  if (param.kind === "list" && arg.kind === "list") return assignable(param.element, arg.element);
  if (param.kind === "map" && arg.kind === "map") {
    return assignable(param.key, arg.key) && assignable(param.value, arg.value);
  }
  return param.kind === arg.kind && param.name === arg.name;
}

/** The common type of several, `dyn` when they differ. */
function join(types: readonly CelType[]): CelType {
  const first = types[0];
  if (first === undefined) return DYN;
  return types.every((t) => same(t, first)) ? first : DYN;
}

function isDyn(t: CelType): boolean {
  return t.kind === "scalar" && t.scalar === "dyn";
}

class TypeWalker {
  readonly #env: CelEnv;
  readonly #vars: ReadonlyMap<string, CelType>;

  constructor(env: CelEnv, vars: ReadonlyMap<string, CelType>) {
    this.#env = env;
    this.#vars = vars;
  }

  type(expr: CelExpr | undefined, scope: Scope): CelType {
    if (expr === undefined) return DYN;
    const kind = expr.exprKind;
    switch (kind.case) {
      case "constExpr":
        return constType(kind.value.constantKind.case);
      case "identExpr":
        return this.#ident(kind.value.name, scope);
      case "selectExpr": {
        const operand = this.type(kind.value.operand, scope);
        if (kind.value.testOnly) {
          if (operand.kind === "map" || operand.kind === "object" || isDyn(operand)) return BOOL;
          throw new CelTypeError(`has() is not supported on type '${operand}'`);
        }
        return selectType(operand, kind.value.field);
      }
      case "callExpr":
        return this.#call(kind.value.function, kind.value.target, kind.value.args, scope);
      case "listExpr":
        return listType(join(kind.value.elements.map((e) => this.type(e, scope))));
      case "structExpr": {
        if (kind.value.messageName !== "") {
          throw new CelTypeError(`message construction is not supported ('${kind.value.messageName}')`);
        }
        const keys: CelType[] = [];
        const values: CelType[] = [];
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === "mapKey") keys.push(this.type(entry.keyKind.value, scope));
          values.push(this.type(entry.value, scope));
        }
        const key = join(keys);
        if (!MAP_KEY_TYPES.has(key.name)) throw new CelTypeError(`unsupported map key type '${key}'`);
        return mapType(key as typeof CelScalar.STRING, join(values));
      }
      case "comprehensionExpr": {
        const c = kind.value;
        const range = this.type(c.iterRange, scope);
        let first: CelType;
        let second: CelType;
        if (range.kind === "list")
          [first, second] = c.iterVar2 ? [CelScalar.INT, range.element] : [range.element, DYN];
        else if (range.kind === "map") [first, second] = [range.key, range.value];
        else if (isDyn(range)) [first, second] = [DYN, DYN];
        else throw new CelTypeError(`type '${range}' cannot be the range of a comprehension`);
        const accu = this.type(c.accuInit, scope);
        let inner: Scope = { name: c.accuVar, type: accu, parent: scope };
        inner = { name: c.iterVar, type: first, parent: inner };
        if (c.iterVar2) inner = { name: c.iterVar2, type: second, parent: inner };
        this.type(c.loopCondition, inner);
        const step = this.type(c.loopStep, inner);
        return this.type(c.result, { name: c.accuVar, type: join([accu, step]), parent: scope });
      }
      default:
        throw new CelTypeError("unsupported expression");
    }
  }

  #ident(name: string, scope: Scope): CelType {
    for (let s = scope; s !== undefined; s = s.parent) if (s.name === name) return s.type;
    const declared = this.#vars.get(name);
    if (declared !== undefined) return declared;
    if (TYPE_IDENTS.has(name)) return CelScalar.TYPE;
    throw new CelTypeError(`undeclared reference to '${name}'`);
  }

  #call(fn: string, targetExpr: CelExpr | undefined, argExprs: readonly CelExpr[], scope: Scope): CelType {
    const target = targetExpr === undefined ? undefined : this.type(targetExpr, scope);
    const args = argExprs.map((a) => this.type(a, scope));
    switch (fn) {
      // Logic and the macros' helpers are planned specially, not looked up in env.funcs.
      case "_&&_":
      case "_||_":
      case "@not_strictly_false":
        if (args.every((a) => assignable(BOOL, a))) return BOOL;
        break;
      case "_?_:_":
        if (args.length === 3 && assignable(BOOL, args[0]!)) return join(args.slice(1));
        break;
      case "_[_]":
        if (args.length === 2) return indexType(args[0]!, args[1]!);
        break;
      case "matches":
        checkConstantPattern(argExprs[0]);
        return this.#overload(fn, target, args);
      default:
        return this.#overload(fn, target, args);
    }
    throw noOverload(fn, target, args);
  }

  #overload(fn: string, target: CelType | undefined, args: readonly CelType[]): CelType {
    const group = this.#env.funcs.find(fn);
    if (group === undefined) throw new CelTypeError(`undeclared reference to function '${fn}'`);
    const results: CelType[] = [];
    for (const f of group) {
      if ((f.target === undefined) !== (target === undefined)) continue;
      if (f.target !== undefined && target !== undefined && !assignable(f.target, target)) continue;
      if (f.arguments.length !== args.length) continue;
      if (f.arguments.every((p, i) => assignable(p, args[i]!))) results.push(f.result);
    }
    if (results.length === 0) throw noOverload(fn, target, args);
    return join(results);
  }
}

function noOverload(fn: string, target: CelType | undefined, args: readonly CelType[]): CelTypeError {
  const on = target === undefined ? "" : `${target}.`;
  return new CelTypeError(`found no matching overload for '${fn}' applied to '${on}(${args.join(", ")})'`);
}

// A constant pattern that RE2 refuses would make its rule fail on every request: refuse it at load.
// Compiled through the evaluator itself, so the same RE2 (linear time, no backreferences) judges it.
const PATTERN_PROBE = plan(celEnv(), parse("''.matches(pattern)"));

function checkConstantPattern(arg: CelExpr | undefined): void {
  const kind = arg?.exprKind;
  if (kind?.case !== "constExpr" || kind.value.constantKind.case !== "stringValue") return;
  if (isCelError(PATTERN_PROBE({ pattern: kind.value.constantKind.value }))) {
    throw new CelTypeError("the pattern given to matches() is not a valid RE2 regular expression");
  }
}

function constType(kind: string | undefined): CelType {
  switch (kind) {
    case "boolValue":
      return BOOL;
    case "int64Value":
      return CelScalar.INT;
    case "uint64Value":
      return CelScalar.UINT;
    case "doubleValue":
      return CelScalar.DOUBLE;
    case "stringValue":
      return CelScalar.STRING;
    case "bytesValue":
      return CelScalar.BYTES;
    case "nullValue":
      return CelScalar.NULL;
    default:
      return DYN; // deprecated duration/timestamp constants: the parser never produces them
  }
}

function selectType(operand: CelType, field: string): CelType {
  if (operand.kind === "map") {
    if (assignable(operand.key, CelScalar.STRING)) return operand.value;
  } else if (operand.kind === "object" || isDyn(operand)) {
    return DYN;
  }
  throw new CelTypeError(`type '${operand}' does not support field selection ('.${field}')`);
}

function indexType(operand: CelType, index: CelType): CelType {
  if (operand.kind === "list" && ["int", "uint", "dyn"].includes(index.name)) return operand.element;
  if (operand.kind === "map" && assignable(operand.key, index)) return operand.value;
  if (isDyn(operand)) return DYN;
  throw noOverload("_[_]", undefined, [operand, index]);
}
