/**
 * The compiled fast path of the protocol schemas (src/protocol/fast-parse.ts) against zod itself,
 * on every exported schema it compiles: whatever the fast path accepts, zod accepts, with a deeply
 * equal output (unknown keys dropped, defaults filled in) — on generated valid values, edited ones
 * and arbitrary JSON, all through JSON as a peer sends them. And it does accept what zod accepts
 * for the device messages, or decodeMessage would gain nothing.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as protocol from '../../src/protocol/index.ts';
import { DEVICE_TO_CLOUD_VERBS, MESSAGE_SCHEMAS, emptyHistogram, encodeMessage } from '../../src/protocol/index.ts';
import { compileFastPath, FAIL, type FastPath } from '../../src/protocol/fast-parse.ts';
import { fuzzParams } from './fuzz.ts';
import { arbitraryOf, editJson, jsonEdit } from './zod-arbitrary.ts';

const compiled = (Object.entries(protocol) as [string, unknown][])
  .filter((e): e is [string, z.ZodType] => e[1] instanceof z.ZodType)
  .map(([name, schema]) => ({ name, schema, fast: compileFastPath(schema), valid: arbitraryOf(schema) }))
  .filter((s): s is typeof s & { fast: FastPath } => s.fast !== null);

/** The fast path never says yes where zod says no, and its yes is zod's value. */
function agrees(s: { schema: z.ZodType; fast: FastPath }, input: unknown): void {
  const fast = s.fast(input);
  if (fast === FAIL) return;
  const r = s.schema.safeParse(input);
  expect(r.success, `fast path accepted what zod refuses: ${JSON.stringify(input)?.slice(0, 300)}`).toBe(true);
  expect(isDeepStrictEqual(fast, r.data), `outputs differ for ${JSON.stringify(input)?.slice(0, 300)}`).toBe(true);
}

describe('fast path of the protocol schemas (differential against zod)', () => {
  it('compiles the device messages and most exported schemas', () => {
    for (const verb of DEVICE_TO_CLOUD_VERBS) expect(compiled.map((s) => s.schema)).toContain(MESSAGE_SCHEMAS[verb]);
    expect(compiled.length).toBeGreaterThanOrEqual(50);
  });

  it('valid values: the same verdict and output as zod', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...compiled).chain((s) => fc.tuple(fc.constant(s), s.valid)),
        ([s, value]) => {
          const input = JSON.parse(JSON.stringify(value ?? null)) as unknown;
          agrees(s, input);
          // what zod accepts, the fast path accepts too (else the device messages pay zod anyway)
          if (s.schema.safeParse(input).success) expect(s.fast(input)).not.toBe(FAIL);
        },
      ),
      fuzzParams(1500),
    );
  });

  it('valid values as code builds them (encodeMessage): accepted only where zod accepts, serialized the same', () => {
    // not through JSON: optional keys may be present with `undefined`, arrays and objects are the
    // generator's own; what encodeMessage sends is JSON.stringify of the accepted value
    fc.assert(
      fc.property(
        fc.constantFrom(...compiled).chain((s) => fc.tuple(fc.constant(s), s.valid)),
        ([s, value]) => {
          const fast = s.fast(value);
          if (fast === FAIL) return;
          const r = s.schema.safeParse(value);
          expect(r.success, `fast path accepted what zod refuses: ${JSON.stringify(value)?.slice(0, 300)}`).toBe(true);
          expect(JSON.parse(JSON.stringify(fast) ?? 'null')).toEqual(JSON.parse(JSON.stringify(r.data) ?? 'null'));
        },
      ),
      fuzzParams(1500),
    );
  });

  it('encodeMessage: the same message as through zod, optional keys left undefined included', () => {
    const viaZod = (verb: 'command' | 'ack', msg: Record<string, unknown>) =>
      JSON.parse(JSON.stringify(MESSAGE_SCHEMAS[verb].parse(msg))) as unknown;
    const receipt = {
      v: 1 as const,
      id: 'msg-00000001',
      ts: 1,
      device_id: 'dev-0123456789ab',
      command: 'receipt' as const,
    };
    const withIds = { ...receipt, telemetry: ['tel-00000001', 'tel-00000002'], reason: undefined };
    expect(JSON.parse(encodeMessage('command', withIds).toString())).toEqual(viaZod('command', withIds));
    const ack = {
      v: 1 as const,
      id: 'msg-00000002',
      ts: 2,
      device_id: 'dev-0123456789ab',
      deployment_id: 'dep-1',
      model: { name: 'm', version: '1.0.0' },
      state: 'failed' as const,
      variant: undefined,
      error: { code: 'E_NETWORK', message: 'm', extra: 1 },
    };
    expect(JSON.parse(encodeMessage('ack', ack).toString())).toEqual(viaZod('ack', ack));
    // refused as before, with zod's message
    expect(() => encodeMessage('command', { ...receipt, command: 'nope' as never })).toThrow(/invalid command message/);
  });

  it('edited valid values: never accepted where zod refuses, never a different output', () => {
    fc.assert(
      fc.property(
        fc
          .constantFrom(...compiled)
          .chain((s) => fc.tuple(fc.constant(s), s.valid, fc.array(jsonEdit, { minLength: 1, maxLength: 3 }))),
        ([s, value, edits]) => agrees(s, editJson(value, edits)),
      ),
      fuzzParams(3000),
    );
  });

  it('arbitrary JSON: never accepted where zod refuses', () => {
    fc.assert(
      fc.property(fc.constantFrom(...compiled), fc.jsonValue({ maxDepth: 6 }), (s, json) => agrees(s, json)),
      fuzzParams(1500),
    );
  });

  it('a telemetry record at the edges of its schema', () => {
    const fast = compileFastPath(MESSAGE_SCHEMAS.telemetry)!;
    const base = JSON.parse(
      encodeMessage('telemetry', {
        device_id: 'dev-0123456789ab',
        window_start: 1,
        window_end: 2,
        model: { name: 'm', version: '1.0.0', variant: 'fp32' },
        inferences: 1,
        errors: 0,
        latency_ms: emptyHistogram(),
        results: { cat: 1 },
      }).toString(),
    ) as Record<string, unknown>;
    const edits: ((m: Record<string, any>) => void)[] = [
      () => undefined,
      (m) => (m.inferences = 1.5), // int
      (m) => (m.errors = -1), // nonnegative
      (m) => (m.ts = 2 ** 53), // safe integer
      (m) => (m.latency_ms.counts = m.latency_ms.counts.slice(1)), // counts = bounds + 1 (object refinement)
      (m) => (m.latency_ms.bounds[0] = 0), // bounds positive (array refinement)
      (m) => (m.latency_ms.counts[0] = 0.5),
      (m) => (m.results = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 1]))), // maxEntries
      (m) => (m.model.version = '1.0'), // min length
      (m) => (m.model.version = '1.0.0'.padEnd(64, '0')),
      (m) => (m.model.version = '1.0.0'.padEnd(65, '0')), // max length
      (m) => (m.model.variant = 'v'.repeat(64)),
      (m) => (m.model.variant = 'v'.repeat(65)),
      (m) => (m.id = 'a'.repeat(7)), // the id's regex length
      (m) => (m.latency_ms.bounds = Array.from({ length: 64 }, (_, i) => i + 1)),
      (m) => (m.latency_ms.counts = new Array(65).fill(0)),
      (m) => {
        m.latency_ms.bounds = Array.from({ length: 64 }, (_, i) => i + 1);
        m.latency_ms.counts = new Array(65).fill(0);
      },
      (m) => {
        m.latency_ms.bounds = Array.from({ length: 65 }, (_, i) => i + 1); // array max length
        m.latency_ms.counts = new Array(66).fill(0);
      },
      (m) => (m.latency_ms.sum = -0.5),
      (m) => (m.latency_ms.sum = 0),
      (m) => (m.results = { ['k'.repeat(64)]: 1 }),
      (m) => (m.results = { ['k'.repeat(65)]: 1 }), // record key max length
      (m) => (m.device_id = 'Dev-0123456789ab'), // regex
      (m) => (m.v = 2),
      (m) => delete m.deployment_id, // default null
      (m) => (m.deployment_id = null),
      (m) => (m.receipt = 'yes'),
      (m) => (m.extra = { deep: [1, 2] }), // stripped
      (m) => delete m.id,
    ];
    for (const edit of edits) {
      const m = structuredClone(base);
      edit(m);
      const input = JSON.parse(JSON.stringify(m)) as unknown;
      agrees({ schema: MESSAGE_SCHEMAS.telemetry, fast }, input);
      expect(fast(input) !== FAIL, edit.toString()).toBe(MESSAGE_SCHEMAS.telemetry.safeParse(input).success);
    }
    // a `__proto__` result key: zod skips it and accepts; the fast path leaves that to zod
    const proto = JSON.parse(
      JSON.stringify({ ...base, results: { cat: 1 } }).replace('"cat"', '"__proto__"'),
    ) as unknown;
    expect(fast(proto)).toBe(FAIL);
    expect(MESSAGE_SCHEMAS.telemetry.safeParse(proto).success).toBe(true);
  });
});
