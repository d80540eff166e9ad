import { describe, expect, it } from 'vitest';
import { rng } from '../dataset.ts';
import { augmentBatch, checkAugment, parseAugment, TRANSFORMS } from './index.ts';
import type { AugmentBatch } from './transform.ts';

/** A batch of one [channels, size, size] image with distinct values (value = index + 1). */
function image(size: number, channels = 1): AugmentBatch {
  const x = Float32Array.from({ length: channels * size * size }, (_, i) => i + 1);
  return { x, y: Int32Array.of(0), count: 1, shape: [channels, size, size], classes: 2 };
}

/** Run `spec` on `b` with a generator that always returns r (so the random draw is known). */
function run(spec: string, b: AugmentBatch, r = 0.75): AugmentBatch {
  augmentBatch(parseAugment(spec), b, () => r);
  return b;
}

const at = (b: AugmentBatch, y: number, x: number, size = 4): number => b.x[y * size + x]!;

/** Each transform's defining property, on inputs where the answer is known exactly. */
const CASES: Record<string, () => void> = {
  crop: () => {
    // r = 0.75, P = 1: offset floor(0.75·3) − 1 = +1 in x and y, zeros shifted in
    const b = run('crop:1', image(4));
    expect([at(b, 0, 0), at(b, 0, 3), at(b, 1, 1), at(b, 3, 3)]).toEqual([0, 0, 1, 11]);
  },
  flip: () => {
    expect(Array.from(run('flip:1', image(4)).x.subarray(0, 4))).toEqual([4, 3, 2, 1]);
    expect(Array.from(run('flip:0', image(4)).x)).toEqual(Array.from(image(4).x));
  },
  rotate: () => {
    // r = 0.75 → angle = D/2 = 90°: an exact quarter turn of the 4x4 grid
    const b = run('rotate:180', image(4));
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++) expect(at(b, y, x)).toBeCloseTo(image(4).x[(3 - x) * 4 + y]!, 4);
  },
  shift: () => {
    // r = 0.75, F = 0.5: (−0.5 + 0.75) · 4 = one pixel right and down
    const b = run('shift:0.5', image(4));
    expect([at(b, 0, 0), at(b, 1, 1), at(b, 2, 3)]).toEqual([0, 1, 7]);
  },
  zoom: () => {
    const b = run('zoom:0.5', image(5), 0.75); // ×1.25 about the centre: the centre pixel stays
    expect(b.x[12]).toBeCloseTo(13, 5);
    expect(b.x[0]).not.toBeCloseTo(1, 2);
  },
  timeshift: () => {
    // a [time 4, features 2] window: r = 0.75, N = 2 → floor(0.75·5) − 2 = one row later, zeros in front
    const series = (shape: number[]): AugmentBatch => ({
      x: Float32Array.from({ length: 8 }, (_, i) => i + 1),
      y: Int32Array.of(0),
      count: 1,
      shape,
      classes: 2,
    });
    expect(Array.from(run('timeshift:2', series([4, 2])).x)).toEqual([0, 0, 1, 2, 3, 4, 5, 6]);
    // r = 0 → two rows earlier; a speech window [1, frames, coefficients] moves the same way
    expect(Array.from(run('timeshift:2', series([1, 4, 2]), 0).x)).toEqual([5, 6, 7, 8, 0, 0, 0, 0]);
    expect(Array.from(run('timeshift:9', series([4, 2]), 0).x)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => checkAugment(parseAugment('timeshift:2'), [20])).toThrow(
      /timeshift need samples with a time axis .*\[20\]/,
    );
  },
  brightness: () => {
    const b = run('brightness:0.2', image(2));
    expect(Array.from(b.x)).toEqual([1.1, 2.1, 3.1, 4.1].map(Math.fround));
  },
  contrast: () => {
    const b = run('contrast:0.2', image(2)); // ×1.1 around the mean 2.5
    expect(Array.from(b.x).map((v) => Number(v.toFixed(4)))).toEqual([0.85, 1.95, 3.05, 4.15]);
  },
  noise: () => {
    const b = image(64);
    const before = b.x.slice();
    augmentBatch(parseAugment('noise:0.1'), b, rng(1));
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < b.x.length; i++) {
      const d = b.x[i]! - before[i]!;
      s += d;
      s2 += d * d;
    }
    expect(Math.abs(s / b.x.length)).toBeLessThan(0.01);
    expect(Math.sqrt(s2 / b.x.length)).toBeCloseTo(0.1, 2);
  },
  cutout: () => {
    const b = run('cutout:2', image(6, 3), 0.5); // centre (3, 3): rows/cols 2..3 in every channel
    const zeros = Array.from(b.x).flatMap((v, i) => (v === 0 ? [i] : []));
    expect(zeros).toEqual([0, 36, 72].flatMap((c) => [c + 14, c + 15, c + 20, c + 21]));
  },
  mixup: () => {
    const b: AugmentBatch = {
      x: Float32Array.of(0, 0, 1, 1),
      y: Int32Array.of(0, 1),
      count: 2,
      shape: [2],
      classes: 2,
    };
    augmentBatch(parseAugment('mixup:0.4'), b, rng(3));
    const lam = 1 - b.x[0]!; // sample 0 mixed with itself or with sample 1
    for (let i = 0; i < 2; i++) {
      expect(b.soft![2 * i]! + b.soft![2 * i + 1]!).toBeCloseTo(1, 6);
      expect(b.soft![2 * i + 1]).toBeCloseTo(b.x[2 * i]!, 6); // the label mixes like the input
    }
    expect(lam).toBeGreaterThanOrEqual(0);
  },
};

describe('transforms', () => {
  it('every registered transform has a case', () => {
    expect(TRANSFORMS.map((t) => t.name).filter((n) => !(n in CASES))).toEqual([]);
  });
  for (const t of TRANSFORMS) it(`${t.name}: ${t.summary}`, CASES[t.name]!);

  it('is reproducible for a seed, and composes geometry into one resampling', () => {
    const steps = parseAugment('flip,rotate:15,shift:0.1,zoom:0.1,cutout:3,noise:0.01');
    const a = image(8, 3);
    const b = image(8, 3);
    augmentBatch(steps, a, rng(7));
    augmentBatch(steps, b, rng(7));
    expect(Array.from(a.x)).toEqual(Array.from(b.x));
    // shift right by 1 then left by 1 is the identity: no blur from two resamplings
    const c = image(4);
    let k = 0;
    augmentBatch(parseAugment('shift:0.5,shift:0.5'), c, () => [0.75, 0.75, 0.25, 0.25][k++ % 4]!);
    expect(Array.from(c.x)).toEqual(Array.from(image(4).x));
  });

  it('rejects unknown names, bad numbers and image transforms on other data', () => {
    expect(() => parseAugment('flip,blur:2')).toThrow(
      "--augment: unknown transform 'blur' (known: crop, flip, rotate, shift, zoom, timeshift, brightness, contrast, noise, cutout, mixup)",
    );
    expect(() => parseAugment('rotate:400')).toThrow(
      "--augment: rotate takes one number (degrees) in 0..180, got 'rotate:400'",
    );
    expect(() => parseAugment('shift:x')).toThrow(/shift takes one number/);
    expect(() => checkAugment(parseAugment('flip,noise'), [20])).toThrow(/flip need image samples/);
    expect(() => checkAugment(parseAugment('noise,mixup'), [20])).not.toThrow();
  });
});
