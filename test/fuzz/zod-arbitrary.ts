/**
 * A fast-check arbitrary of (mostly) valid values for a zod schema, read from the schema's own
 * definition (`_zod.def`): objects, strings with their regex and length checks, bounded numbers,
 * arrays, records, enums, literals, unions, optional/nullable/default. Refinements are not
 * satisfied on purpose-free guesses: a generated value may fail them, which is fine for a fuzzer
 * that mutates the values anyway. Unknown parts fall back to arbitrary JSON.
 */
import fc from 'fast-check';
import type { z } from 'zod';

interface Check {
  check: string;
  format?: string;
  pattern?: RegExp;
  value?: number | bigint;
  inclusive?: boolean;
  minimum?: number;
  maximum?: number;
  length?: number;
}
interface Def {
  type: string;
  checks?: { _zod: { def: Check } }[];
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  items?: z.ZodType[];
  values?: unknown[];
  entries?: Record<string, string | number>;
  in?: z.ZodType;
}

/** Generated arrays, records and free strings stay short: the fuzzer is about shape, not volume. */
const MAX_GENERATED_ITEMS = 3;
const MAX_DEPTH = 10;

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;
const checksOf = (d: Def): Check[] => (d.checks ?? []).map((c) => c._zod.def);

function lengths(d: Def): { min: number; max: number | undefined } {
  let min = 0;
  let max: number | undefined;
  for (const c of checksOf(d)) {
    if (c.check === 'min_length') min = c.minimum!;
    if (c.check === 'max_length') max = c.maximum!;
    if (c.check === 'length_equals') min = max = c.length!;
  }
  return { min, max };
}

function stringArb(d: Def): fc.Arbitrary<string> {
  const { min, max } = lengths(d);
  const regex = checksOf(d).find((c) => c.check === 'string_format' && c.pattern)?.pattern;
  const inLength = (s: string) => s.length >= min && (max === undefined || s.length <= max);
  if (regex) {
    try {
      return fc.stringMatching(regex).filter(inLength);
    } catch {
      /* a regex fast-check cannot generate from: plain strings below */
    }
  }
  return fc.string({ minLength: min, maxLength: Math.max(min, Math.min(max ?? 12, 12)) });
}

function numberArb(d: Def): fc.Arbitrary<number> {
  let min = -1e9;
  let max = 1e9;
  let minExcluded = false;
  let maxExcluded = false;
  let int = false;
  for (const c of checksOf(d)) {
    if (c.check === 'number_format') int = c.format !== 'float32' && c.format !== 'float64';
    if (c.check === 'greater_than') [min, minExcluded] = [Number(c.value), !c.inclusive];
    if (c.check === 'less_than') [max, maxExcluded] = [Number(c.value), !c.inclusive];
  }
  if (int)
    return fc.integer({ min: Math.ceil(min + (minExcluded ? 1 : 0)), max: Math.floor(max - (maxExcluded ? 1 : 0)) });
  return fc.double({ min, max, minExcluded, maxExcluded, noNaN: true, noDefaultInfinity: true });
}

function objectArb(d: Def, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const shape = d.shape!;
  const arbs: Record<string, fc.Arbitrary<unknown>> = {};
  const required: string[] = [];
  for (const [k, v] of Object.entries(shape)) {
    const t = defOf(v).type;
    arbs[k] = arbitraryOf(t === 'optional' || t === 'default' ? defOf(v).innerType! : v, depth + 1);
    if (t !== 'optional' && t !== 'default') required.push(k);
  }
  return fc.record(arbs, { requiredKeys: required });
}

/** An arbitrary of values shaped like `schema`. */
export function arbitraryOf(schema: z.ZodType, depth = 0): fc.Arbitrary<unknown> {
  const d = defOf(schema);
  if (depth > MAX_DEPTH) return fc.jsonValue({ maxDepth: 1 });
  const items = { maxLength: MAX_GENERATED_ITEMS };
  switch (d.type) {
    case 'object':
      return objectArb(d, depth);
    case 'string':
      return stringArb(d);
    case 'number':
      return numberArb(d);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'literal':
      return fc.constantFrom(...d.values!);
    case 'enum':
      return fc.constantFrom(...Object.values(d.entries!));
    case 'array': {
      const { min, max } = lengths(d);
      const maxLength = Math.max(min, Math.min(max ?? MAX_GENERATED_ITEMS, MAX_GENERATED_ITEMS));
      return fc.array(arbitraryOf(d.element!, depth + 1), { minLength: min, maxLength });
    }
    case 'tuple':
      return fc.tuple(...d.items!.map((s) => arbitraryOf(s, depth + 1)));
    case 'record':
      return fc.dictionary(
        arbitraryOf(d.keyType!, depth + 1) as fc.Arbitrary<string>,
        arbitraryOf(d.valueType!, depth + 1),
        {
          maxKeys: items.maxLength,
        },
      );
    case 'union':
      return fc.oneof(...d.options!.map((s) => arbitraryOf(s, depth + 1)));
    case 'optional':
    case 'default':
      return fc.option(arbitraryOf(d.innerType!, depth + 1), { nil: undefined });
    case 'nullable':
      return fc.option(arbitraryOf(d.innerType!, depth + 1), { nil: null });
    case 'pipe':
      return arbitraryOf(d.in!, depth + 1);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** An edit of a JSON value: replace, delete or add at the `at`-th node (modulo the node count). */
export type JsonEdit =
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'delete'; at: number }
  | { kind: 'add'; at: number; key: string; value: unknown };

export const jsonEdit: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    // hostile scalars: huge and negative numbers, long strings, NUL bytes, prototype keys
    value: fc.constantFrom(-1, 2 ** 53, 1e308, -0, '', 'x'.repeat(70_000), '\u0000', '__proto__', [], {}),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('add' as const),
    at: fc.nat(),
    key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'v', 'id')),
    value: fc.jsonValue({ maxDepth: 2 }),
  }),
);

/** Containers of a JSON value with the key/index of each child, depth first. */
function nodes(v: Json, out: { parent: Json[] | { [k: string]: Json }; key: string | number }[] = []) {
  if (Array.isArray(v))
    v.forEach((c, i) => {
      out.push({ parent: v, key: i });
      nodes(c, out);
    });
  else if (v && typeof v === 'object')
    for (const [k, c] of Object.entries(v)) {
      out.push({ parent: v, key: k });
      nodes(c, out);
    }
  return out;
}

/** Apply edits to a deep copy of `value` (through JSON, as a peer would send it). */
export function editJson(value: unknown, edits: readonly JsonEdit[]): Json {
  let root = JSON.parse(JSON.stringify(value ?? null)) as Json;
  for (const e of edits) {
    const all = nodes(root);
    if (all.length === 0) {
      if (e.kind !== 'delete') root = JSON.parse(JSON.stringify(e.value ?? null)) as Json;
      continue;
    }
    const { parent, key } = all[e.at % all.length]!;
    const value = JSON.parse(JSON.stringify(e.kind === 'delete' ? null : (e.value ?? null))) as Json;
    if (e.kind === 'replace') (parent as Record<string | number, Json>)[key] = value;
    else if (e.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
    } else {
      const target = (parent as Record<string | number, Json>)[key];
      if (target && typeof target === 'object' && !Array.isArray(target))
        Object.defineProperty(target, e.key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}
