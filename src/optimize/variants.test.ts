import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROFILE_PRESETS } from '../edge/profile-presets.ts';
import { resolveDeviceProfile } from './device-profiles.ts';
import { DEVICE_PROFILES, modelMemoryBudget, type DeviceProfile } from './profiles.ts';
import { measuredVariant as m } from '../../test/optimize/measured-variants.ts';
import { mcnemarP, selectVariant } from './variants.ts';

const KB = 1024;
const measured = [
  m('fp32', 'fp32', 478 * KB, 0.889, { 1: 0.2, 32: 3.0 }),
  m('fp16', 'fp16', 240 * KB, 0.889, { 1: 0.25, 32: 2.5 }),
  m('int8-static', 'int8', 127 * KB, 0.887, { 1: 0.15, 32: 1.2 }),
  m('filters+int8', 'int8', 38 * KB, 0.875, { 1: 0.08, 32: 0.5 }),
];

/** Outcomes of two classifiers on the same n samples: both right on `both`, only a on `onlyA`, only b on `onlyB`. */
function outcomes(n: number, both: number, onlyA: number, onlyB: number): [Uint8Array, Uint8Array] {
  const a = new Uint8Array(n);
  const b = new Uint8Array(n);
  for (let i = 0; i < both; i++) a[i] = b[i] = 1;
  for (let i = both; i < both + onlyA; i++) a[i] = 1;
  for (let i = both + onlyA; i < both + onlyA + onlyB; i++) b[i] = 1;
  return [a, b];
}

describe('mcnemarP', () => {
  it('is the two-sided exact binomial tail on the discordant samples (values from math.comb)', () => {
    const p = (onlyA: number, onlyB: number) => mcnemarP(...outcomes(4000, 1000, onlyA, onlyB));
    expect(p(10, 0)).toBeCloseTo(0.001953125, 12); // 2 · 2^-10
    expect(p(30, 20)).toBeCloseTo(0.20263875106454066, 12);
    expect(p(30, 5)).toBeCloseTo(2.2361520677804947e-5, 15);
    expect(p(1200, 1100)).toBeCloseTo(0.03896685268382058, 12); // 2^-2300 underflows: summed in log space
    expect(p(5, 5)).toBe(1);
    expect(p(0, 0)).toBe(1);
    expect(() => mcnemarP(new Uint8Array(3), new Uint8Array(4))).toThrow(/same samples/);
  });
});

describe('selectVariant', () => {
  it('picks the most accurate variant within every budget and says why the others lost', () => {
    // 2 MB device: 0.5 MB for a loaded model; loaded memory here is 3× the file
    const camera: DeviceProfile = {
      name: 'cam',
      memory_mb: 2,
      latency_budget_ms: 1,
      batch: 1,
      precisions: ['fp32', 'int8'],
    };
    const c = selectVariant(measured, camera);
    expect(c.selected?.name).toBe('int8-static');
    const why = Object.fromEntries(c.rejected.map((r) => [r.name, r.reason]));
    expect(why.fp32).toMatch(/1\.400 MB loaded at batch 1 exceeds the 0\.500 MB budget \(25% of the device's 2 MB\)/);
    expect(why.fp16).toMatch(/fp16 arithmetic is not supported/);
    expect(why['filters+int8']).toMatch(/fits, but accuracy 87.50% < 88.70% of int8-static/);
  });

  it('judges memory by what the variant takes loaded, not by its file (issue 15: the file fit, the session did not)', () => {
    const small: DeviceProfile = {
      name: 's',
      memory_mb: 4,
      latency_budget_ms: 10,
      batch: 1,
      precisions: ['fp32', 'int8'],
    };
    const fileFits = [
      m('fp32', 'fp32', 478 * KB, 0.9, { 1: 0.2 }, { loaded: [{ batch: 1, bytes: 1.6 * 2 ** 20 }] }),
      m('int8', 'int8', 127 * KB, 0.85, { 1: 0.2 }, { loaded: [{ batch: 1, bytes: 0.9 * 2 ** 20 }] }),
    ];
    const c = selectVariant(fileFits, small);
    expect(c.selected?.name).toBe('int8');
    expect(c.rejected[0]!.reason).toMatch(/1\.600 MB loaded at batch 1 exceeds the 1\.000 MB budget/);
    const unmeasured = [m('x', 'fp32', KB, 0.9, { 1: 0.2 }, { loaded: [] })];
    expect(selectVariant(unmeasured, small).rejected[0]!.reason).toMatch(/loaded memory was not measured at batch 1/);
  });

  it('judges latency at the profile batch size', () => {
    const batchy: DeviceProfile = {
      name: 'b',
      memory_mb: 100,
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

  it('breaks exact accuracy ties by loaded memory', () => {
    const all: DeviceProfile = {
      name: 'a',
      memory_mb: 100,
      latency_budget_ms: 10,
      batch: 1,
      precisions: ['fp32', 'fp16'],
    };
    expect(selectVariant(measured, all).selected?.name).toBe('fp16');
  });

  describe('accuracy differences the test set cannot tell from noise are ties (issue 15: 10 samples in 2,000)', () => {
    const profile: DeviceProfile = {
      name: 'c',
      memory_mb: 100,
      latency_budget_ms: 10,
      batch: 1,
      precisions: ['fp32', 'int8'],
    };
    const pair = (onlyFp32: number, onlyInt8: number) => {
      const [a, b] = outcomes(2000, 1790, onlyFp32, onlyInt8);
      return [
        m('fp32', 'fp32', 478 * KB, (1790 + onlyFp32) / 2000, { 1: 0.2 }, { samples: 2000, correct: a }),
        m('int8-static', 'int8', 127 * KB, (1790 + onlyInt8) / 2000, { 1: 0.15 }, { samples: 2000, correct: b }),
      ];
    };

    it('10 more right of 2,000, 30 against 20 discordant (p = 0.20): a tie, the smaller variant wins', () => {
      const c = selectVariant(pair(30, 20), profile);
      expect(c.selected?.name).toBe('int8-static');
      expect(c.reason).toMatch(
        /as accurate as fp32 \(90\.50% vs 91\.00%: no significant difference \(McNemar p=0\.20 on 2000 samples\)\)/,
      );
      expect(c.rejected[0]!.reason).toMatch(
        /^fits and is the most accurate \(91\.00%\), but int8-static \(90\.50%\) is not significantly less accurate \(McNemar p=0\.20 on 2000 samples\) and needs less/,
      );
    });

    it('the same 10 samples, 10 against 0 discordant (p = 0.002): a real difference, the more accurate wins', () => {
      const c = selectVariant(pair(10, 0), profile);
      expect(c.selected?.name).toBe('fp32');
      expect(c.reason).toMatch(/^most accurate of 2 variant\(s\)/);
      expect(c.rejected[0]!.reason).toMatch(
        /fits, but accuracy 89\.50% < 90\.00% of fp32 \(McNemar p=0\.0020 on 2000 samples\)/,
      );
    });

    it('without per-sample outcomes, only equal accuracies tie', () => {
      const [a, b] = pair(30, 20);
      const c = selectVariant(
        [
          { ...a!, correct: undefined },
          { ...b!, correct: undefined },
        ],
        profile,
      );
      expect(c.selected?.name).toBe('fp32');
    });
  });
});

describe('device profiles', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'verge-profile-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('has the built-in profiles: the named devices of `verge agent --profile`, one definition each', () => {
    expect(Object.keys(DEVICE_PROFILES)).toEqual(['gateway', 'camera', 'small', 'mcu-class']);
    expect(Object.keys(DEVICE_PROFILES)).toEqual(Object.keys(PROFILE_PRESETS));
    for (const [name, p] of Object.entries(DEVICE_PROFILES)) {
      // a name means the same device to optimize and to an agent (issue 15: camera was 0.25 MB here, 1 GB there)
      const agent = PROFILE_PRESETS[name]!;
      expect([p.memory_mb, [...p.precisions]], name).toEqual([agent.memory_mb, [...agent.precisions!]]);
      expect(agent.class).toBe(name);
    }
    expect(resolveDeviceProfile('mcu-class').precisions).toEqual(['int8']);
    expect(modelMemoryBudget(resolveDeviceProfile('camera'))).toBe(256 * 2 ** 20);
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
