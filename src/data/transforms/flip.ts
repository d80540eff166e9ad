/** Horizontal flip with probability p (default 0.5). */
import type { AffineTransform } from './transform.ts';
import { IDENTITY } from './transform.ts';

export const flip: AffineTransform = {
  name: 'flip',
  summary: 'mirror left-right with probability P',
  kind: 'affine',
  imageOnly: true,
  arg: { default: 0.5, min: 0, max: 1, unit: 'probability' },
  matrix: (p, rng, width) => (rng() < p ? [-1, 0, width - 1, 0, 1, 0] : [...IDENTITY]),
};
