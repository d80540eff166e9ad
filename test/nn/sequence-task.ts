/**
 * A seeded synthetic sequence-classification task that needs memory across time steps.
 * Each sample is T steps of F features of Gaussian noise (std 0.5) with two markers: A (+2.5 on
 * feature 0) at step i and B (+2.5 on feature 1) at another step j. The class is
 * 2·[A comes before B] + [the mean of feature 2 over all steps is positive]: order and
 * accumulation, neither visible in any single step. Chance is 25%.
 */
import { rng, type Dataset, type Split } from '../../src/data/dataset.ts';
import { normalSample } from '../../src/nn/init.ts';

export const SEQUENCE_STEPS = 5;
export const SEQUENCE_FEATURES = 8;
export const SEQUENCE_CLASSES = 4;
const NOISE_STD = 0.5;
const MARKER = 2.5;

function split(count: number, seed: number, T: number, F: number): Split {
  const r = rng(seed);
  const x = new Float32Array(count * T * F);
  const y = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const base = n * T * F;
    for (let k = 0; k < T * F; k++) x[base + k] = normalSample(r) * NOISE_STD;
    const i = Math.floor(r() * T);
    let j = Math.floor(r() * (T - 1));
    if (j >= i) j++;
    x[base + i * F + 0]! += MARKER;
    x[base + j * F + 1]! += MARKER;
    let s = 0;
    for (let t = 0; t < T; t++) s += x[base + t * F + 2]!;
    y[n] = 2 * (i < j ? 1 : 0) + (s > 0 ? 1 : 0);
  }
  return { x, y, count };
}

export function sequenceTask(opts: {
  train: number;
  test: number;
  seed?: number;
  steps?: number;
  features?: number;
}): Dataset {
  const seed = opts.seed ?? 0;
  const T = opts.steps ?? SEQUENCE_STEPS;
  const F = opts.features ?? SEQUENCE_FEATURES;
  return {
    name: 'order-and-sum',
    source: `synthetic (seed ${seed})`,
    shape: [T, F],
    classes: SEQUENCE_CLASSES,
    train: split(opts.train, seed, T, F),
    test: split(opts.test, seed + 1, T, F),
  };
}
