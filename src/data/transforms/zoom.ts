/** Scaling by a factor in [1 - F, 1 + F] about the image centre. */
import { aboutCentre, uniform, type AffineTransform } from './transform.ts';

export const zoom: AffineTransform = {
  name: 'zoom',
  summary: 'scale by a random factor in [1-F, 1+F]',
  kind: 'affine',
  imageOnly: true,
  arg: { default: 0.1, min: 0, max: 0.9, unit: 'fraction' },
  matrix: (f, rng, width, height) => {
    const s = uniform(rng, 1 - f, 1 + f);
    return aboutCentre([s, 0, 0, 0, s, 0], width, height);
  },
};
