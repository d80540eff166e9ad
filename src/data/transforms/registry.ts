/**
 * The transforms by name: one file per transform (STYLE.md); transforms.test.ts checks each has a
 * case. Its own module so that pipeline.ts reads it without importing index.ts (which
 * re-exports pipeline.ts).
 */
import { deepFreeze } from '../../frozen.ts';
import { brightness } from './brightness.ts';
import { contrast } from './contrast.ts';
import { crop } from './crop.ts';
import { cutout } from './cutout.ts';
import { flip } from './flip.ts';
import { mixup } from './mixup.ts';
import { noise } from './noise.ts';
import { rotate } from './rotate.ts';
import { shift } from './shift.ts';
import { timeshift } from './timeshift.ts';
import type { Transform } from './transform.ts';
import { zoom } from './zoom.ts';

export const TRANSFORMS: readonly Transform[] = deepFreeze([
  crop,
  flip,
  rotate,
  shift,
  zoom,
  timeshift,
  brightness,
  contrast,
  noise,
  cutout,
  mixup,
]);

export function transform(name: string): Transform | undefined {
  return TRANSFORMS.find((t) => t.name === name);
}
