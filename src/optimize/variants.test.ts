import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEVICE_PROFILES, resolveDeviceProfile, type DeviceProfile } from './device-profiles.ts';
import { measuredVariant as m } from '../../test/optimize/measured-variants.ts';
import { selectVariant } from './variants.ts';

const KB = 1024;
const measured = [
  m('fp32', 'fp32', 478 * KB, 0.889, { 1: 0.2, 32: 3.0 }),
  m('fp16', 'fp16', 240 * KB, 0.889, { 1: 0.25, 32: 2.5 }),
  m('int8-static', 'int8', 127 * KB, 0.887, { 1: 0.15, 32: 1.2 }),
  m('filters+int8', 'int8', 38 * KB, 0.875, { 1: 0.08, 32: 0.5 }),
];

describe('selectVariant', () => {
  it('picks the most accurate variant within every budget and says why the others lost', () => {
    const camera: DeviceProfile = {
      name: 'cam',
      memory_mb: 0.25,
      latency_budget_ms: 1,
      batch: 1,
      precisions: ['fp32', 'int8'],
    };
    const c = selectVariant(measured, camera);
    expect(c.selected?.name).toBe('int8-static');
    const why = Object.fromEntries(c.rejected.map((r) => [r.name, r.reason]));
    expect(why.fp32).toMatch(/exceeds the 0.25 MB memory budget/);
    expect(why.fp16).toMatch(/fp16 arithmetic is not supported/);
    expect(why['filters+int8']).toMatch(/fits, but accuracy 87.50% < 88.70%/);
  });

  it('judges latency at the profile batch size', () => {
    const batchy: DeviceProfile = {
      name: 'b',
      memory_mb: 10,
      latency_budget_ms: 1,
      batch: 32,
      precisions: ['fp32', 'fp16', 'int8'],
    };
    const c = selectVariant(measured, batchy);
    expect(c.selected?.name).toBe('filters+int8');
    expect(c.rejected.find((r) => r.name === 'int8-static')?.reason).toMatch(
      /p50 1.2 ms at batch 32 exceeds the 1 ms budget/,
    );
  });

  it('reports when nothing fits, and when a batch size was not measured', () => {
    const tiny: DeviceProfile = { name: 't', memory_mb: 0.01, latency_budget_ms: 0.01, batch: 8, precisions: ['int8'] };
    const c = selectVariant(measured, tiny);
    expect(c.selected).toBeNull();
    expect(c.rejected).toHaveLength(4);
    expect(c.rejected[0]!.reason).toMatch(/not measured at batch 8/);
  });

  it('breaks accuracy ties by size', () => {
    const all: DeviceProfile = {
      name: 'a',
      memory_mb: 10,
      latency_budget_ms: 10,
      batch: 1,
      precisions: ['fp32', 'fp16'],
    };
    expect(selectVariant(measured, all).selected?.name).toBe('fp16');
  });
});

describe('device profiles', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'verge-profile-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('has the built-in profiles', () => {
    expect(Object.keys(DEVICE_PROFILES)).toEqual(['gateway', 'camera', 'mcu-class']);
    expect(resolveDeviceProfile('mcu-class').precisions).toEqual(['int8']);
  });

  it('reads a profile from JSON and rejects bad ones with the field named', () => {
    const good = join(tmp, 'kiosk.json');
    writeFileSync(
      good,
      JSON.stringify({ name: 'kiosk', memory_mb: 2, latency_budget_ms: 5, batch: 4, precisions: ['fp32'] }),
    );
    expect(resolveDeviceProfile(good).batch).toBe(4);
    const bad = join(tmp, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ name: 'x', memory_mb: -1, latency_budget_ms: 5, batch: 1, precisions: ['fp32'] }),
    );
    expect(() => resolveDeviceProfile(bad)).toThrow(/memory_mb/);
    const notJson = join(tmp, 'broken.json');
    writeFileSync(notJson, '{ name: ');
    expect(() => resolveDeviceProfile(notJson)).toThrow(/not valid JSON/);
    expect(() => resolveDeviceProfile('toaster')).toThrow(/unknown device profile 'toaster'/);
    expect(() => resolveDeviceProfile(join(tmp, 'missing.json'))).toThrow(/does not exist/);
  });
});
