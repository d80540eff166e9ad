/**
 * Random crop with padding (the CIFAR recipe): pad P pixels of zeros on every side, then take a
 * crop of the original size at a random whole-pixel position — a translation by an integer in
 * [-P, P] with zero fill, so the resampling is exact.
 */
import type { AffineTransform } from './transform.ts';

export const crop: AffineTransform = {
  name: 'crop',
  summary: 'pad P pixels of zeros, then crop back to size at a random position',
  kind: 'affine',
  imageOnly: true,
  arg: { default: 4, min: 0, max: 64, unit: 'pixels' },
  matrix: (p, rng) => {
    const d = (): number => Math.floor(rng() * (2 * p + 1)) - p;
    return [1, 0, d(), 0, 1, d()];
  },
};
