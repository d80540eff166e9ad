/** Translation by up to a fraction F of the width and height (sub-pixel, resampled). */
import { uniform, type AffineTransform } from './transform.ts';

export const shift: AffineTransform = {
  name: 'shift',
  summary: 'move by up to F of the width/height in each direction',
  kind: 'affine',
  imageOnly: true,
  arg: { default: 0.1, min: 0, max: 0.5, unit: 'fraction' },
  matrix: (f, rng, width, height) => [1, 0, uniform(rng, -f, f) * width, 0, 1, uniform(rng, -f, f) * height],
};
