/** Additive Gaussian noise with standard deviation S on every value. */
import { gaussian, type PixelTransform } from './transform.ts';

export const noise: PixelTransform = {
  name: 'noise',
  summary: 'add Gaussian noise of standard deviation S',
  kind: 'pixel',
  imageOnly: false,
  arg: { default: 0.05, min: 0, max: 1, unit: 'std' },
  apply: (s, rng, x, offset, per) => {
    for (let i = offset; i < offset + per; i++) x[i] = x[i]! + s * gaussian(rng);
  },
};
