/** Contrast: scale a sample's deviations from its mean by a factor in [1 - F, 1 + F]. */
import { uniform, type PixelTransform } from './transform.ts';

export const contrast: PixelTransform = {
  name: 'contrast',
  summary: "scale each sample's contrast by a random factor in [1-F, 1+F]",
  kind: 'pixel',
  imageOnly: false,
  arg: { default: 0.2, min: 0, max: 1, unit: 'fraction' },
  apply: (f, rng, x, offset, per) => {
    const s = uniform(rng, 1 - f, 1 + f);
    let mean = 0;
    for (let i = offset; i < offset + per; i++) mean += x[i]!;
    mean /= per;
    for (let i = offset; i < offset + per; i++) x[i] = mean + (x[i]! - mean) * s;
  },
};
