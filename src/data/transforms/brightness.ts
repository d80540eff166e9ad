/** Brightness: add a uniform offset in [-D, D] to every value of a sample (data in [0, 1]). */
import { uniform, type PixelTransform } from './transform.ts';

export const brightness: PixelTransform = {
  name: 'brightness',
  summary: 'add a random offset in [-D, D] to every pixel',
  kind: 'pixel',
  imageOnly: false,
  arg: { default: 0.2, min: 0, max: 1, unit: 'offset' },
  apply: (d, rng, x, offset, per) => {
    const delta = uniform(rng, -d, d);
    for (let i = offset; i < offset + per; i++) x[i] = x[i]! + delta;
  },
};
