/**
 * The telemetry batch form (TelemetryBatchMessage): encodeTelemetryBatch puts encoded records
 * together as they are, within its bounds; decodeTelemetry reads a batch record by record (an
 * invalid one refused alone) and a single record as before.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeTelemetry,
  emptyHistogram,
  encodeMessage,
  encodeTelemetryBatch,
  MAX_DEVICE_MESSAGE_BYTES,
  MAX_TELEMETRY_BATCH,
} from '../../src/protocol/index.ts';
import { isVergeError, type ErrorCode } from '../../src/errors.ts';

const DEV = 'dev-0123456789ab';
const record = (i: number, extra: Record<string, unknown> = {}) =>
  encodeMessage('telemetry', {
    id: `rec-${String(i).padStart(8, '0')}`,
    device_id: DEV,
    window_start: 1,
    window_end: 2,
    model: { name: 'm', version: '1.0.0', variant: 'fp32' },
    inferences: i,
    errors: 0,
    latency_ms: emptyHistogram(),
    receipt: true,
    ...extra,
  });

function code(f: () => unknown): ErrorCode | 'none' | string {
  try {
    f();
    return 'none';
  } catch (e) {
    return isVergeError(e) ? e.code : String(e);
  }
}

describe('telemetry batches', () => {
  it('round trip: every record, in order, as the single-record decoder reads it', () => {
    const records = Array.from({ length: 5 }, (_, i) => record(i));
    const d = decodeTelemetry(encodeTelemetryBatch(DEV, records));
    expect(d.batch).toBe(true);
    expect(d.refused).toEqual([]);
    expect(d.records).toEqual(records.map((r) => decodeTelemetry(r).records[0]));
    const single = decodeTelemetry(records[0]!);
    expect(single.batch).toBe(false);
    expect(single.records[0]!.id).toBe('rec-00000000');
  });

  it('bounds: 1 to MAX_TELEMETRY_BATCH records, MAX_DEVICE_MESSAGE_BYTES in all, a valid device id', () => {
    expect(code(() => encodeTelemetryBatch(DEV, []))).toBe('E_PROTOCOL');
    const many = Array.from({ length: MAX_TELEMETRY_BATCH + 1 }, (_, i) => record(i));
    expect(code(() => encodeTelemetryBatch(DEV, many))).toBe('E_PROTOCOL');
    expect(code(() => encodeTelemetryBatch(DEV, many.slice(1)))).toBe('none');
    const big = record(1, {
      results: Object.fromEntries(Array.from({ length: 250 }, (_, k) => [`c${k}${'y'.repeat(50)}`, k])),
    });
    const n = Math.ceil(MAX_DEVICE_MESSAGE_BYTES / big.length) + 1;
    expect(
      code(() =>
        encodeTelemetryBatch(
          DEV,
          Array.from({ length: n }, () => big),
        ),
      ),
    ).toBe('E_PROTOCOL');
    expect(code(() => encodeTelemetryBatch('dev-x", "records": [', [record(1)]))).toBe('E_PROTOCOL');
    // what a peer sends beyond the bound is refused whole
    const over = Buffer.from(
      JSON.stringify({
        v: 1,
        id: 'batch-0001',
        ts: 1,
        device_id: DEV,
        records: many.map((r) => JSON.parse(r.toString())),
      }),
    );
    expect(code(() => decodeTelemetry(over))).toBe('E_PROTOCOL');
  });

  it('an invalid record is refused alone; an invalid envelope refuses the message', () => {
    const batch = (records: unknown[], env: Record<string, unknown> = {}) =>
      Buffer.from(JSON.stringify({ v: 1, id: 'batch-0001', ts: 1, device_id: DEV, records, ...env }));
    const ok = JSON.parse(record(1).toString()) as Record<string, unknown>;
    const d = decodeTelemetry(
      batch([
        ok,
        { ...ok, id: 'rec-nul', model: { name: 'm', version: '1.0.0', variant: 'x\u0000' } },
        42,
        { ...ok, v: 2 },
        { ...ok, device_id: 'dev-other00000' },
      ]),
    );
    expect(d.records.map((r) => r.id)).toEqual(['rec-00000001']);
    expect(d.refused).toHaveLength(4);
    expect(d.refused[0]).toMatch(/^record 1: .*NUL/);
    expect(code(() => decodeTelemetry(batch([ok], { v: 2 })))).toBe('E_PROTOCOL');
    expect(code(() => decodeTelemetry(batch([ok], { device_id: 'x/y' })))).toBe('E_PROTOCOL');
    expect(code(() => decodeTelemetry(batch([])))).toBe('E_PROTOCOL');
    expect(code(() => decodeTelemetry(batch([ok], { records: 'no' })))).toBe('E_PROTOCOL');
  });
});
