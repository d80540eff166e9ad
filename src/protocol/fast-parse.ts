/**
 * A fast path for validating JSON-parsed messages against their zod schemas, compiled from the
 * schemas themselves (the zod schema stays the one definition of every message).
 *
 * The control plane validates every device message at the protocol boundary; under a telemetry
 * burst zod's parse was the largest single cost of the process (bench/fleet --cpu-prof: ~23% of
 * the control plane's CPU, more than SQLite). Its generality has a price per value (a payload
 * and an issues array per node, a closure per check); this compiler walks a schema's definition
 * once and builds one plain function per node for the subset of zod the protocol uses (objects
 * that strip unknown keys, strings with length and regex checks, finite numbers with integer and
 * bound checks, literals, enums, booleans, unknown, arrays, records, optional, nullable, default, and
 * refinements — called exactly as zod calls them).
 *
 * It only ever says yes: a value it accepts, zod accepts, with the same output (unknown keys
 * dropped, defaults filled in); anything else — invalid, or merely unusual (a `__proto__` key, a
 * refinement that is async) — returns FAIL, and the caller asks zod, whose verdict and error
 * message stand. A schema using anything outside the subset gets no fast path at all
 * (`compileFastPath` returns null). Inputs come from JSON.parse (decodeMessage) or are plain
 * values built by code (encodeMessage): `undefined` means an absent key here, which zod keeps as an
 * `undefined` key — the same once serialized, and encodeMessage serializes what it validates.
 * test/fuzz/fast-parse.test.ts checks both directions against zod on generated messages.
 */
import type { z } from 'zod';

/** What a fast path returns for a value it does not accept (the caller then runs zod). */
export const FAIL: unique symbol = Symbol('fast-parse: not accepted');
export type FastPath = (input: unknown) => unknown;

/** The parts of zod 4's internals the compiler reads (`schema._zod.def`, `schema._zod.values`). */
interface Def {
  type: string;
  checks?: { _zod: { def: CheckDef } }[];
  shape?: Record<string, Node>;
  catchall?: Node;
  innerType?: Node;
  element?: Node;
  keyType?: Node;
  valueType?: Node;
  defaultValue?: unknown;
  coerce?: boolean;
  mode?: string;
}
interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  maximum?: number;
  length?: number;
  value?: number;
  inclusive?: boolean;
  fn?: (value: unknown) => unknown;
}
interface Node {
  _zod: { def: Def; values?: Set<unknown> };
}

class Unsupported extends Error {}

const isRecordLike = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** A value check from a zod check definition; refinements (`custom`) are run after the value is built. */
function valueCheck(c: CheckDef): (x: never) => boolean {
  const { minimum = 0, maximum = 0, length = 0, value = 0 } = c;
  switch (c.check) {
    case 'min_length':
      return (x: { length: number }) => x.length >= minimum;
    case 'max_length':
      return (x: { length: number }) => x.length <= maximum;
    case 'length_equals':
      return (x: { length: number }) => x.length === length;
    case 'string_format':
      if (c.format !== 'regex' || !c.pattern) break;
      return (x: string) => {
        c.pattern!.lastIndex = 0;
        return c.pattern!.test(x);
      };
    case 'number_format':
      if (c.format !== 'safeint') break;
      return (x: number) => Number.isSafeInteger(x);
    case 'greater_than':
      return c.inclusive ? (x: number) => x >= value : (x: number) => x > value;
    case 'less_than':
      return c.inclusive ? (x: number) => x <= value : (x: number) => x < value;
  }
  throw new Unsupported(`check ${c.check}${c.format ? ` (${c.format})` : ''}`);
}

/** A refinement's verdict on `value`, as zod takes it (truthy passes); async or throwing: not accepted here. */
function refined(refine: (x: unknown) => unknown, value: unknown): boolean {
  try {
    const r = refine(value);
    return Boolean(r) && !(r instanceof Promise);
  } catch {
    return false;
  }
}

/** Wrap `build` (which makes a node's output, or FAIL) with the node's checks. */
function withChecks(def: Def, build: FastPath): FastPath {
  const checks: ((x: never) => boolean)[] = [];
  const refinements: ((x: unknown) => unknown)[] = [];
  for (const c of def.checks ?? []) {
    const cd = c._zod.def;
    // a check's `when` can only make zod skip it (e.g. length checks run on values that have a
    // length): running it always is as strict or stricter, and stricter just means asking zod
    if (cd.check === 'custom') {
      if (typeof cd.fn !== 'function') throw new Unsupported('custom check without fn');
      refinements.push(cd.fn);
    } else checks.push(valueCheck(cd));
  }
  if (checks.length === 0 && refinements.length === 0) return build;
  return (input) => {
    const out = build(input);
    if (out === FAIL) return FAIL;
    for (let i = 0; i < checks.length; i++) if (!checks[i]!(out as never)) return FAIL;
    for (let i = 0; i < refinements.length; i++) if (!refined(refinements[i]!, out)) return FAIL;
    return out;
  };
}

function compileObject(def: Def): FastPath {
  if (def.catchall !== undefined) throw new Unsupported('object with catchall');
  // an absent key goes to its schema as undefined (a default fills it in, anything required
  // fails), except an optional one, which zod leaves out of the output
  const fields = Object.entries(def.shape!).map(([key, node]) => ({
    key,
    omit: node._zod.def.type === 'optional',
    parse: compile(node),
  }));
  return (input) => {
    if (!isRecordLike(input)) return FAIL;
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      const v = input[f.key];
      if (v === undefined && f.omit) continue;
      const r = f.parse(v);
      if (r === FAIL) return FAIL;
      out[f.key] = r;
    }
    return out;
  };
}

function compileRecord(def: Def): FastPath {
  if (def.mode !== undefined && def.mode !== 'strict') throw new Unsupported(`record mode ${def.mode}`);
  if (def.keyType!._zod.values) throw new Unsupported('record with enumerated keys');
  if (def.keyType!._zod.def.type !== 'string') throw new Unsupported('record key type');
  const key = compile(def.keyType!);
  const value = compile(def.valueType!);
  return (input) => {
    if (!isRecordLike(input) || Object.getPrototypeOf(input) !== Object.prototype) return FAIL;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(input)) {
      if (k === '__proto__' || key(k) === FAIL) return FAIL;
      const r = value(input[k]);
      if (r === FAIL) return FAIL;
      out[k] = r;
    }
    return out;
  };
}

function compileArray(def: Def): FastPath {
  const e = def.element!._zod.def;
  if (e.type === 'number' && !e.coerce && !e.checks?.length)
    // the histograms' bucket arrays: ~30 numbers in every telemetry record
    return (input) => {
      if (!Array.isArray(input)) return FAIL;
      for (let i = 0; i < input.length; i++) {
        const x: unknown = input[i];
        if (typeof x !== 'number' || !Number.isFinite(x)) return FAIL;
      }
      return input.slice();
    };
  const element = compile(def.element!);
  return (input) => {
    if (!Array.isArray(input)) return FAIL;
    const out = new Array<unknown>(input.length);
    for (let i = 0; i < input.length; i++) {
      const r = element(input[i]);
      if (r === FAIL) return FAIL;
      out[i] = r;
    }
    return out;
  };
}

function compile(node: Node): FastPath {
  const def = node._zod.def;
  if (def.coerce) throw new Unsupported('coercion');
  switch (def.type) {
    case 'string':
      return withChecks(def, (x) => (typeof x === 'string' ? x : FAIL));
    case 'number':
      return withChecks(def, (x) => (typeof x === 'number' && Number.isFinite(x) ? x : FAIL));
    case 'boolean':
      return withChecks(def, (x) => (typeof x === 'boolean' ? x : FAIL));
    case 'unknown':
      // anything, as is (zod returns the value itself): a batch's records, checked one by one later
      return withChecks(def, (x) => x);
    case 'literal':
    case 'enum': {
      const values = node._zod.values;
      if (!values) throw new Unsupported(`${def.type} without values`);
      return withChecks(def, (x) => (values.has(x) ? x : FAIL));
    }
    case 'object':
      return withChecks(def, compileObject(def));
    case 'record':
      return withChecks(def, compileRecord(def));
    case 'array':
      return withChecks(def, compileArray(def));
    case 'optional': {
      const inner = compile(def.innerType!);
      return withChecks(def, (x) => (x === undefined ? undefined : inner(x)));
    }
    case 'nullable': {
      const inner = compile(def.innerType!);
      return withChecks(def, (x) => (x === null ? null : inner(x)));
    }
    case 'default': {
      const inner = compile(def.innerType!);
      return withChecks(def, (x) => (x === undefined ? def.defaultValue : inner(x)));
    }
  }
  throw new Unsupported(`schema type ${def.type}`);
}

/**
 * The fast path of `schema` for JSON-parsed input: the parsed value when zod would accept it (the
 * same value zod returns), FAIL otherwise or when unsure. null when the schema uses zod features
 * outside the compiled subset (then zod alone decides).
 */
export function compileFastPath(schema: z.ZodType): FastPath | null {
  try {
    return compile(schema as unknown as Node);
  } catch (e) {
    if (e instanceof Unsupported) return null;
    throw e;
  }
}
