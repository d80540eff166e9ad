/**
 * Time shift: move every sample by a whole number of rows, up to N either way, along its time axis
 * — the rows of a sensor window [time, features] or of a speech feature window [1, frames,
 * coefficients] (or the rows of an image) — zeros shifted in, as the windows are zero-padded.
 * A word then need not start at the same frame in every window.
 */
import type { PixelTransform } from './transform.ts';

export const timeshift: PixelTransform = {
  name: 'timeshift',
  summary: 'move along the time axis by up to N rows, zeros shifted in',
  kind: 'pixel',
  imageOnly: false,
  rows: true,
  arg: { default: 10, min: 0, max: 100_000, unit: 'rows' },
  apply: (n, rng, x, _offset, _per, img) => {
    const { channels, height, width, offset } = img!;
    const s = Math.floor(rng() * (2 * Math.floor(n) + 1)) - Math.floor(n);
    if (s === 0) return;
    for (let c = 0; c < channels; c++) {
      const base = offset + c * height * width;
      const plane = x.subarray(base, base + height * width);
      if (s > 0) {
        plane.copyWithin(s * width, 0, Math.max(0, height - s) * width);
        plane.fill(0, 0, Math.min(height, s) * width);
      } else {
        plane.copyWithin(0, -s * width);
        plane.fill(0, Math.max(0, height + s) * width);
      }
    }
  },
};
