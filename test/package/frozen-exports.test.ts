/**
 * Issue 17: nothing mutable is exported. Every layer's public API (src/<layer>/index.ts, and the
 * package entry src/index.ts) is walked: each exported value, the static properties of exported
 * functions and classes, and everything reachable from them; then every other module of the
 * library layers, for the tables their files export to each other. The rule (src/frozen.ts):
 *
 * - a plain object or array is frozen (so, walked from the export, frozen all the way down);
 * - a keyed registry is a FrozenMap/FrozenSet (read-only view; its keys and values are walked);
 *   a bare Map, Set or WeakMap is refused (`Object.freeze` leaves `set` working);
 * - a class instance is allowed only if its API cannot change it: zod schemas (methods return new
 *   schemas) and RegExps without the g/y flags (no `lastIndex` state). Any other instance fails
 *   here, so exporting a new kind of object is a decision made in this file.
 *
 * Functions are code, not data: their closures are not reachable from here. A module namespace
 * (`import * as ort`) cannot be changed by its importers; the module itself is walked if it is ours.
 * Another package's module object (onnxruntime-node's, held by the runtime backend) is that
 * package's, not verge's.
 *
 * Readonly by type too: for every data property and array element reachable from a layer's
 * index.ts, a generated file assigns it to itself, and the type checker must refuse each assignment
 * (TS2540 read-only property, TS2542 readonly index).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import ortNode from 'onnxruntime-node';
import { z } from 'zod';
import { FrozenMap, FrozenSet } from '../../src/frozen.ts';
import { ROOT } from '../cli/cli.ts';

const SRC = join(ROOT, 'src');
/** src/index.ts and every src/<layer>/index.ts (a new layer is covered without editing this list). */
const ENTRIES = [
  'index.ts',
  ...readdirSync(SRC, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(SRC, d.name, 'index.ts')))
    .map((d) => `${d.name}/index.ts`),
];

/**
 * Every non-test module of the library layers and src/*.ts. Not the applications: web/ (the browser
 * app) and cli/ (commander declarations are Command instances built once per process).
 */
const MODULES = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
  .filter((f) => !/^(web|cli)\//.test(f) && f !== 'index.ts' && !ENTRIES.includes(f))
  .sort();

const FOREIGN = new Set<unknown>([ortNode]);

/** Function properties every function has; not data an export carries. */
const FUNCTION_OWN = new Set(['length', 'name', 'prototype', 'caller', 'arguments']);

function isPlainData(value: object): boolean {
  if (Array.isArray(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Own data properties (accessors are code), enumerable or not, symbols included. */
function children(value: object): [string, unknown][] {
  return Reflect.ownKeys(value).flatMap((k): [string, unknown][] => {
    if (typeof value === 'function' && FUNCTION_OWN.has(String(k))) return [];
    const d = Object.getOwnPropertyDescriptor(value, k);
    return d && 'value' in d ? [[String(k), d.value]] : [];
  });
}

/** The paths of everything mutable reachable from value, with why. */
function mutableParts(value: unknown, path: string, seen: WeakSet<object>, out: string[]): string[] {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return out;
  if (seen.has(value)) return out;
  seen.add(value);
  if ((value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Module' || FOREIGN.has(value)) return out;
  if (typeof value === 'function') {
    for (const [k, v] of children(value)) mutableParts(v, `${path}.${k}`, seen, out);
  } else if (isPlainData(value)) {
    if (!Object.isFrozen(value)) out.push(`${path} (not frozen)`);
    for (const [k, v] of children(value)) mutableParts(v, `${path}.${k}`, seen, out);
  } else if (value instanceof FrozenMap) {
    for (const [k, v] of value) {
      mutableParts(k, `${path}<key ${String(k)}>`, seen, out);
      mutableParts(v, `${path}.get(${String(k)})`, seen, out);
    }
  } else if (value instanceof FrozenSet) {
    for (const v of value) mutableParts(v, `${path}.has(${String(v)})`, seen, out);
  } else if (value instanceof Map || value instanceof Set || value instanceof WeakMap || value instanceof WeakSet) {
    out.push(`${path} (a ${value.constructor.name}: export a FrozenMap/FrozenSet from src/frozen.ts)`);
  } else if (value instanceof RegExp) {
    if (value.global || value.sticky) out.push(`${path} (a RegExp with lastIndex state: drop the g/y flag)`);
  } else if (!(value instanceof z.ZodType)) {
    out.push(`${path} (an instance of ${value.constructor?.name ?? '?'}: not known to be immutable)`);
  }
  return out;
}

const access = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`);

/** `x.p = x.p;` for each data property, `x[0] = x[0];` for each array, reachable from value. */
function selfAssignments(value: unknown, expr: string, seen: WeakSet<object>, out: string[]): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof FrozenMap) {
    for (const [k, v] of value)
      if (typeof k === 'string') selfAssignments(v, `${expr}.get(${JSON.stringify(k)})!`, seen, out);
  } else if (Array.isArray(value)) {
    if (value.length > 0) out.push(`  ${expr}[0] = ${expr}[0];`);
    value.forEach((v, i) => selfAssignments(v, `${expr}[${i}]`, seen, out));
  } else if (isPlainData(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'function') continue;
      out.push(`  ${expr}${access(k)} = ${expr}${access(k)};`);
      selfAssignments(v, `${expr}${access(k)}`, seen, out);
    }
  }
}

async function exportsOf(entry: string): Promise<Record<string, unknown>> {
  return (await import(join(SRC, entry))) as Record<string, unknown>;
}

describe('nothing mutable is exported', () => {
  it('covers the package entry and every layer', () => {
    expect(ENTRIES).toEqual(expect.arrayContaining(['index.ts', 'protocol/index.ts', 'cloud/index.ts']));
    expect(ENTRIES.length).toBeGreaterThanOrEqual(14);
  });

  it.each(ENTRIES)(
    'src/%s: every exported table is frozen all the way down',
    async (entry) => {
      const seen = new WeakSet<object>();
      const found: string[] = [];
      for (const [name, value] of Object.entries(await exportsOf(entry))) mutableParts(value, name, seen, found);
      expect(found).toEqual([]);
    },
    120_000,
  );

  it('every other module of the library layers exports nothing mutable', async () => {
    expect(MODULES.length).toBeGreaterThan(300);
    const seen = new WeakSet<object>();
    const found: string[] = [];
    for (const f of MODULES)
      for (const [name, value] of Object.entries(await exportsOf(f))) mutableParts(value, `${f}:${name}`, seen, found);
    expect(found).toEqual([]);
  }, 300_000);

  it('every table reachable from the public API is readonly by type', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'verge-readonly-'));
    try {
      const file = join(dir, 'assign.ts');
      const layers = ENTRIES.filter((e) => e !== 'index.ts').map((e) => e.split('/')[0]!);
      const statements: string[] = [];
      for (const layer of layers)
        for (const [name, value] of Object.entries(await exportsOf(`${layer}/index.ts`)))
          selfAssignments(value, `L_${layer}.${name}`, new WeakSet(), statements);
      const imports = layers.map((l) => `import * as L_${l} from ${JSON.stringify(join(SRC, l, 'index.ts'))};`);
      writeFileSync(file, [...imports, 'export function never(): void {', ...statements, '}', ''].join('\n'));
      expect(statements.length).toBeGreaterThan(500);
      const config = ts.getParsedCommandLineOfConfigFile(
        join(ROOT, 'tsconfig.json'),
        {},
        {
          ...ts.sys,
          onUnRecoverableConfigFileDiagnostic: () => undefined,
        },
      )!;
      const program = ts.createProgram([file], { ...config.options, noEmit: true });
      const sf = program.getSourceFile(file)!;
      const refused = new Set(
        program
          .getSemanticDiagnostics(sf)
          .filter((d) => d.code === 2540 || d.code === 2542)
          .map((d) => sf.getLineAndCharacterOfPosition(d.start!).line),
      );
      const first = imports.length + 1;
      const writable = statements.filter((_, i) => !refused.has(first + i)).map((st) => st.split(' = ')[0]);
      expect(writable).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('the walk finds what it is meant to find', () => {
    const seen = new WeakSet<object>();
    const tables = {
      flat: Object.freeze(['a']),
      nested: Object.freeze({ inner: { x: 1 } }),
      map: new Map([['k', 1]]),
      frozenMap: new FrozenMap([['k', { x: 1 }]]),
      set: new Set([1]),
      regexp: /a/g,
      instance: new Date(0),
      fn: Object.assign(() => 0, { table: [1] }),
    };
    expect(mutableParts(Object.freeze(tables), 'T', seen, []).sort()).toEqual(
      [
        'T.nested.inner (not frozen)',
        'T.map (a Map: export a FrozenMap/FrozenSet from src/frozen.ts)',
        'T.frozenMap.get(k) (not frozen)',
        'T.set (a Set: export a FrozenMap/FrozenSet from src/frozen.ts)',
        'T.regexp (a RegExp with lastIndex state: drop the g/y flag)',
        'T.instance (an instance of Date: not known to be immutable)',
        'T.fn.table (not frozen)',
      ].sort(),
    );
  });

  it('a change is refused, not applied for everyone', async () => {
    const { KALDI_MFCC_DEFAULTS, TOKENIZERS } = await import('../../src/data/index.ts');
    const { VERBS, HTTP_ROUTES } = await import('../../src/protocol/index.ts');
    const { GRAD_RULES } = await import('../../src/train/index.ts');
    expect(() => {
      (KALDI_MFCC_DEFAULTS as { numCeps: number }).numCeps = 40;
    }).toThrow(TypeError);
    expect(KALDI_MFCC_DEFAULTS.numCeps).toBe(13);
    expect(() => (TOKENIZERS as unknown[]).push({})).toThrow(TypeError);
    expect(() => {
      (VERBS.deploy as { qos: number }).qos = 0;
    }).toThrow(TypeError);
    expect(() => {
      (HTTP_ROUTES as { enroll: string }).enroll = '/elsewhere';
    }).toThrow(TypeError);
    // a registry view has no set/delete, and its map is not reachable
    expect((GRAD_RULES as unknown as Map<string, unknown>).set).toBeUndefined();
    expect(() => (GRAD_RULES as unknown as Map<string, unknown>).set('Relu', {})).toThrow(TypeError);
    expect(Object.keys(GRAD_RULES)).toEqual([]);
  });
});
