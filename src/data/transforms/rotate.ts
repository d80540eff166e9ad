/** Rotation by a uniform angle in [-D, D] degrees about the image centre. */
import { aboutCentre, uniform, type AffineTransform } from './transform.ts';

export const rotate: AffineTransform = {
  name: 'rotate',
  summary: 'rotate by a random angle in [-D, D] degrees',
  kind: 'affine',
  imageOnly: true,
  arg: { default: 15, min: 0, max: 180, unit: 'degrees' },
  matrix: (deg, rng, width, height) => {
    const t = (uniform(rng, -deg, deg) * Math.PI) / 180;
    return aboutCentre([Math.cos(t), -Math.sin(t), 0, Math.sin(t), Math.cos(t), 0], width, height);
  },
};
