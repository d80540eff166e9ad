import { describe, expect, it } from 'vitest';
import { rng } from '../../data/dataset.ts';
import {
  EntropyCalibrator,
  MinMaxCalibrator,
  PercentileCalibrator,
  makeCalibrator,
  type Calibrator,
} from './calibrate.ts';

function gaussian(n: number, seed: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // Box-Muller
    const u = Math.max(next(), 1e-12);
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Feed data in two batches through every pass the calibrator needs. */
function run(c: Calibrator, data: Float32Array): { min: number; max: number } {
  const half = data.length >> 1;
  for (let p = 0; p < c.passes; p++) {
    c.observe(p, data.subarray(0, half));
    c.observe(p, data.subarray(half));
  }
  return c.range();
}

describe('calibrators on known distributions', () => {
  it('min-max returns the exact extremes across batches', () => {
    const d = Float32Array.from([0.5, -2, 3, 1, -0.25, 7.5, 0]);
    expect(run(new MinMaxCalibrator(), d)).toEqual({ min: -2, max: 7.5 });
  });

  it('percentile 99.99 of a standard normal is about ±3.9σ, ignoring one huge outlier', () => {
    const d = gaussian(400_000, 3);
    d[123] = 1000; // an outlier min-max would stretch the range to
    const r = run(new PercentileCalibrator(99.99), d);
    // two-sided 99.99% central interval of N(0,1): ±3.89
    expect(r.max).toBeGreaterThan(3.6);
    expect(r.max).toBeLessThan(4.4);
    expect(r.min).toBeLessThan(-3.6);
    expect(r.min).toBeGreaterThan(-4.4);
    expect(run(new MinMaxCalibrator(), d).max).toBe(1000);
  });

  it('percentile keeps a non-negative (ReLU) tensor anchored at 0', () => {
    const d = gaussian(100_000, 4).map((v) => Math.max(0, v));
    const r = run(new PercentileCalibrator(99.9), d);
    expect(r.min).toBe(0);
    expect(r.max).toBeLessThan(4);
  });

  it('entropy clips a long-tailed distribution well inside its extremes', () => {
    const d = gaussian(200_000, 5);
    for (let i = 0; i < 20; i++) d[i * 997] = 50 + i; // rare large values
    const r = run(new EntropyCalibrator(), d);
    expect(r.max).toBeGreaterThan(2);
    expect(r.max).toBeLessThan(20);
    expect(r.min).toBeCloseTo(-r.max, 6); // symmetric threshold on |x|
  });

  it('entropy keeps (nearly) the whole range of a uniform distribution', () => {
    const next = rng(6);
    const d = Float32Array.from({ length: 100_000 }, () => next() * 4 - 2);
    const r = run(new EntropyCalibrator(), d);
    expect(r.max).toBeGreaterThan(1.8);
    expect(r.max).toBeLessThanOrEqual(2);
  });

  it('entropy is not dragged to 0 by the zero spike of a ReLU output', () => {
    const g = gaussian(100_000, 7);
    const d = g.map((v) => Math.max(0, v)); // half exactly zero
    const r = run(new EntropyCalibrator(), d);
    expect(r.min).toBe(0);
    expect(r.max).toBeGreaterThan(2);
  });

  it('rejects unknown methods and bad percentiles with E_BAD_ARGUMENT', () => {
    expect(() => makeCalibrator({ method: 'median' as never })).toThrow(/unknown calibration method/);
    expect(() => new PercentileCalibrator(40)).toThrow(/percentile must be/);
  });
});
