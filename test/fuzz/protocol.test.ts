/**
 * Fuzzing every wire schema of src/protocol (each zod schema it exports, found by walking the
 * module) and its decoders (MQTT messages, edge-loop policies and upload batches, codec frames, FL
 * updates): arbitrary JSON and edited valid values are parsed or refused — never an exception
 * other than the project's VergeError, never a hang, and what a schema accepts is no larger than
 * what it was given (plus its defaults).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as protocol from '../../src/protocol/index.ts';
import {
  CollectedItemMeta,
  DEVICE_TO_CLOUD_VERBS,
  CLOUD_TO_DEVICE_VERBS,
  EdgeLoopPolicy,
  MESSAGE_SCHEMAS,
  decodeCodecFrame,
  decodeMessage,
  decodeTelemetry,
  decodeUpdate,
  decodeUploadBatch,
  encodeCodecFrame,
  encodeUpdate,
  encodeUploadBatch,
  parseEdgeLoopPolicy,
  TelemetryMessage,
  type DeviceVerb,
} from '../../src/protocol/index.ts';
import { decodesOrRefuses, fuzzParams, HANG_MS, mutate, mutations } from './fuzz.ts';
import { arbitraryOf, editJson, jsonEdit } from './zod-arbitrary.ts';

const schemas = (Object.entries(protocol) as [string, unknown][])
  .filter((e): e is [string, z.ZodType] => e[1] instanceof z.ZodType)
  .map(([name, schema]) => ({ name, schema, valid: arbitraryOf(schema) }));
const VERBS: DeviceVerb[] = [...DEVICE_TO_CLOUD_VERBS, ...CLOUD_TO_DEVICE_VERBS];

/** safeParse never throws and is quick; an accepted value is no larger than the input plus defaults. */
function parsesOrRejects(schema: z.ZodType, input: unknown): void {
  const t0 = performance.now();
  const r = schema.safeParse(input);
  expect(performance.now() - t0).toBeLessThan(HANG_MS);
  if (r.success)
    expect(JSON.stringify(r.data)?.length ?? 0).toBeLessThanOrEqual((JSON.stringify(input)?.length ?? 0) + 4096);
}

describe('fuzz: every protocol schema', () => {
  it('finds the schemas (a moved export would silently shrink the fuzzed surface)', () => {
    expect(schemas.length).toBeGreaterThanOrEqual(100);
    for (const verb of VERBS) expect(schemas.map((s) => s.schema)).toContain(MESSAGE_SCHEMAS[verb]);
  });

  it('the generator makes valid values for most schemas, so edits start from valid messages', () => {
    const never: string[] = [];
    for (const s of schemas) {
      const samples = fc.sample(s.valid, { seed: 1, numRuns: 20 });
      if (!samples.some((v) => s.schema.safeParse(v).success)) never.push(s.name);
    }
    // refinements the generator does not aim at (cross-field checks) may reject every sample
    expect(never.length, `never valid: ${never.join(', ')}`).toBeLessThanOrEqual(schemas.length / 10);
  });

  it('arbitrary JSON: parsed or rejected, never thrown', () => {
    fc.assert(
      fc.property(fc.constantFrom(...schemas), fc.jsonValue({ maxDepth: 6 }), (s, json) =>
        parsesOrRejects(s.schema, json),
      ),
      fuzzParams(1500),
    );
  });

  it('edited valid values: parsed or rejected, never thrown', () => {
    const edited = fc
      .constantFrom(...schemas)
      .chain((s) => fc.tuple(fc.constant(s), s.valid, fc.array(jsonEdit, { minLength: 1, maxLength: 3 })));
    fc.assert(
      fc.property(edited, ([s, value, edits]) => parsesOrRejects(s.schema, editJson(value, edits))),
      fuzzParams(2000),
    );
  });
});

describe('fuzz: protocol decoders', () => {
  it('decodeMessage: edited messages of every verb decode or are E_PROTOCOL', () => {
    // one arbitrary per verb, built once (building them inside chain() costs ~0.3 s per run)
    const byVerb = new Map(VERBS.map((verb) => [verb, arbitraryOf(MESSAGE_SCHEMAS[verb])]));
    const message = fc
      .constantFrom(...VERBS)
      .chain((verb) => fc.tuple(fc.constant(verb), byVerb.get(verb)!, fc.array(jsonEdit, { maxLength: 3 })));
    fc.assert(
      fc.property(message, ([verb, value, edits]) => {
        const json = edits.length ? editJson(value, edits) : value;
        decodesOrRefuses(() => decodeMessage(verb, Buffer.from(JSON.stringify(json) ?? '')), ['E_PROTOCOL']);
      }),
      fuzzParams(1500),
    );
  });

  it('decodeTelemetry: edited telemetry batches decode record by record or are E_PROTOCOL', () => {
    // a batch of generated records (some valid, of the batch's device), then edited as a whole
    const record = arbitraryOf(TelemetryMessage);
    const batch = fc.record({
      v: fc.constant(1),
      id: fc.constant('batch-00000001'),
      ts: fc.nat(),
      device_id: fc.constant('dev-0123456789ab'),
      records: fc.array(
        fc.oneof(
          record.map((r) => ({ ...(r as object), device_id: 'dev-0123456789ab' })),
          record,
          fc.jsonValue({ maxDepth: 2 }),
        ),
        { minLength: 1, maxLength: 8 },
      ),
    });
    fc.assert(
      fc.property(batch, fc.array(jsonEdit, { maxLength: 3 }), (value, edits) => {
        const json = edits.length ? editJson(value, edits) : value;
        const r = decodesOrRefuses(() => decodeTelemetry(Buffer.from(JSON.stringify(json) ?? '')), ['E_PROTOCOL']);
        if (!r) return;
        for (const m of r.records) {
          expect(TelemetryMessage.safeParse(m).success).toBe(true);
          if (r.batch) expect(m.device_id).toBe((json as { device_id: string }).device_id);
        }
        if (r.batch) expect(r.records.length + r.refused.length).toBe((json as { records: unknown[] }).records.length);
      }),
      fuzzParams(800),
    );
  });

  it('decodeMessage: arbitrary bytes and text are E_PROTOCOL', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VERBS),
        fc.oneof(fc.uint8Array({ maxLength: 512 }).map(Buffer.from), fc.string({ unit: 'binary', maxLength: 256 })),
        (verb, payload) => {
          decodesOrRefuses(() => decodeMessage(verb, payload), ['E_PROTOCOL']);
        },
      ),
      fuzzParams(500),
    );
  });

  it('parseEdgeLoopPolicy: edited policies parse or are E_PROTOCOL', () => {
    fc.assert(
      fc.property(arbitraryOf(EdgeLoopPolicy), fc.array(jsonEdit, { maxLength: 3 }), (value, edits) => {
        decodesOrRefuses(() => parseEdgeLoopPolicy(editJson(value, edits)), ['E_PROTOCOL']);
      }),
      fuzzParams(500),
    );
  });

  it('binary containers: edited upload batches, codec frames and FL updates decode or are refused', () => {
    const meta = fc.sample(
      arbitraryOf(CollectedItemMeta).filter((m) => CollectedItemMeta.safeParse(m).success),
      {
        seed: 1,
        numRuns: 3,
      },
    ) as CollectedItemMeta[];
    const batch = encodeUploadBatch(meta.map((m, i) => ({ meta: m, frame: new Uint8Array(16 * i + 3).fill(i) })));
    const frame = encodeCodecFrame({
      codec: 'int8-affine',
      params: { scale: 0.5, zp: 3 },
      dims: [2, 3, 4],
      payload: new Uint8Array(24),
    });
    const length = 100;
    const updates = [
      encodeUpdate({ codec: 'fp32', length, values: new Float32Array(length).fill(0.25) }),
      encodeUpdate(
        { codec: 'int8', length, chunk: 32, scales: new Float32Array(4).fill(0.1), q: new Int8Array(length) },
        { deflate: true },
      ),
      encodeUpdate({ codec: 'topk', length, indices: Uint32Array.of(1, 5, 99), values: Float32Array.of(1, 2, 3) }),
    ];
    expect(decodeUploadBatch(batch).items).toHaveLength(3);
    fc.assert(
      fc.property(mutations(), fc.nat({ max: 4 }), (edits, which) => {
        if (which === 0) {
          const out = decodesOrRefuses(() => decodeUploadBatch(mutate(batch, edits)), ['E_DATA_INVALID']);
          if (out) expect(out.items.length).toBeLessThanOrEqual(3 + 1);
        } else if (which === 1) decodesOrRefuses(() => decodeCodecFrame(mutate(frame, edits)), ['E_DATA_INVALID']);
        else
          decodesOrRefuses(
            () => decodeUpdate(mutate(updates[which - 2]!, edits), length),
            ['E_PROTOCOL', 'E_SHAPE_MISMATCH'],
          );
      }),
      fuzzParams(1500),
    );
  });
});
