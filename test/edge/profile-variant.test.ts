import { describe, expect, it } from 'vitest';
import { detectProfile, parseProfileSpec } from '../../src/edge/profile.ts';
import { chooseVariant, estimatedMemoryMb, variantMemory } from '../../src/edge/variant-choice.ts';
import { backoffDelay, RECONNECT_MAX_MS } from '../../src/edge/mqtt-session.ts';
import type { ArtifactRef } from '../../src/protocol/index.ts';

const ref = (
  variant: string,
  precision: ArtifactRef['precision'],
  size: number,
  profile: string | null = null,
): ArtifactRef => ({
  variant,
  precision,
  profile,
  size,
  sha256: 'a'.repeat(64),
  url: '/v1/artifacts/x',
  signature: 'sig',
  key_id: 'k',
});
// sizes of the seed CNN variants the quickstart publishes
const VARIANTS = [ref('fp32', 'fp32', 488_857), ref('int8', 'int8', 128_974), ref('fp16', 'fp16', 245_879, 'small')];

describe('device profiles', () => {
  it('detects this host and applies presets and overrides', () => {
    const host = detectProfile();
    expect(host.cpu.cores).toBeGreaterThan(0);
    expect(host.memory_mb).toBeGreaterThan(0);
    const cam = parseProfileSpec('camera,memory_mb=256,precisions=int8', host);
    expect(cam).toMatchObject({ class: 'camera', arch: 'arm64', memory_mb: 256, precisions: ['int8'] });
    expect(parseProfileSpec(undefined, host)).toEqual(host);
  });

  it('refuses unknown presets, keys, precisions and bad numbers with E_BAD_ARGUMENT', () => {
    for (const spec of ['toaster', 'colour=red', 'precisions=int3', 'memory_mb=-1', 'cores=1.5']) {
      expect(() => parseProfileSpec(spec)).toThrow(expect.objectContaining({ code: 'E_BAD_ARGUMENT' }));
    }
  });
});

describe('variant choice', () => {
  it('gives each quickstart profile its variant: fp32-only gateway, int8 camera, fp16 for the small class', () => {
    expect(chooseVariant(VARIANTS, parseProfileSpec('gateway')).chosen?.variant).toBe('fp32');
    expect(chooseVariant(VARIANTS, parseProfileSpec('camera')).chosen?.variant).toBe('int8');
    expect(chooseVariant(VARIANTS, parseProfileSpec('small')).chosen?.variant).toBe('fp16');
  });

  it('rules out variants that do not fit in memory, and says why when nothing fits', () => {
    const tiny = parseProfileSpec('gateway,memory_mb=4'); // budget 1 MB; fp32 needs ~1.4 MB
    expect(estimatedMemoryMb(488_857)).toBeGreaterThan(1);
    const d = chooseVariant(VARIANTS, tiny);
    expect(d.chosen).toBeNull();
    expect(d.reasons.join('; ')).toMatch(
      /fp32 needs ~1\.40 MB \(estimated: 3× its file; not measured\), budget 1\.00 MB/,
    );
    expect(chooseVariant(VARIANTS, parseProfileSpec('gateway,memory_mb=4,precisions=fp32+int8')).chosen?.variant).toBe(
      'int8',
    );
  });
});

describe('variant choice by measured loaded memory', () => {
  const MB = 2 ** 20;
  const measured = (r: ArtifactRef, ...points: [batch: number, mb: number][]): ArtifactRef => ({
    ...r,
    loaded_memory: points.map(([batch, mb]) => ({ batch, bytes: Math.round(mb * MB) })),
  });
  const small = parseProfileSpec('gateway,memory_mb=4,precisions=fp32'); // budget 1 MB

  it('refuses a variant whose file is small but whose measured loaded memory exceeds the budget', () => {
    // 4-bit weights: a 70 kB file (the estimate: 0.2 MB) that onnxruntime rebuilds dense when it loads it
    const bits = ref('w4', 'fp32', 70_000);
    expect(chooseVariant([bits], small).chosen?.variant).toBe('w4'); // the estimate lets it through…
    const d = chooseVariant([measured(bits, [1, 6.6])], small); // …the measurement does not
    expect(d.chosen).toBeNull();
    expect(d.reasons).toEqual(['w4 needs 6.60 MB loaded (measured at batch 1), budget 1.00 MB']);
    expect(variantMemory(measured(bits, [1, 6.6]))).toMatchObject({ measured: true, batch: 1 });
    expect(variantMemory(measured(bits, [1, 6.6])).mb).toBeCloseTo(6.6, 5);
  });

  it('accepts a variant whose file is large but whose measured loaded memory fits', () => {
    const big = ref('fp32', 'fp32', 500_000); // the estimate: 1.43 MB > 1 MB
    expect(chooseVariant([big], small).chosen).toBeNull();
    expect(chooseVariant([measured(big, [1, 0.9])], small).chosen?.variant).toBe('fp32');
  });

  it('takes the smallest batch measured, and falls back to the estimate only without a measurement', () => {
    const v = measured(ref('fp32', 'fp32', 500_000), [32, 4.63], [1, 0.8]);
    expect(variantMemory(v)).toMatchObject({ measured: true, batch: 1 });
    expect(variantMemory(v).mb).toBeCloseTo(0.8, 5);
    expect(variantMemory(ref('fp32', 'fp32', 500_000))).toEqual({ mb: estimatedMemoryMb(500_000), measured: false });
  });
});

describe('reconnect backoff', () => {
  it('grows exponentially with full jitter and is capped', () => {
    expect(backoffDelay(0, 250, 15_000, () => 1)).toBe(250);
    expect(backoffDelay(3, 250, 15_000, () => 1)).toBe(2000);
    expect(backoffDelay(30, 250, 15_000, () => 1)).toBe(15_000);
    expect(backoffDelay(5, 250, 15_000, () => 0)).toBe(0);
    const samples = Array.from({ length: 200 }, () => backoffDelay(10));
    expect(Math.max(...samples)).toBeLessThanOrEqual(RECONNECT_MAX_MS);
    expect(new Set(samples).size).toBeGreaterThan(50); // jittered, not lock-step
  });
});
