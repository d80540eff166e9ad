/** Cutout (DeVries & Taylor 2017): zero a random S×S square (clipped at the borders) in every channel. */
import type { PixelTransform } from './transform.ts';

export const cutout: PixelTransform = {
  name: 'cutout',
  summary: 'zero a random SxS square',
  kind: 'pixel',
  imageOnly: true,
  arg: { default: 8, min: 1, max: 1024, unit: 'pixels' },
  apply: (size, rng, x, _offset, _per, img) => {
    const { channels, height, width, offset } = img!;
    const cy = Math.floor(rng() * height);
    const cx = Math.floor(rng() * width);
    const y0 = Math.max(0, cy - Math.floor(size / 2));
    const x0 = Math.max(0, cx - Math.floor(size / 2));
    const y1 = Math.min(height, y0 + size);
    const x1 = Math.min(width, x0 + size);
    for (let c = 0; c < channels; c++)
      for (let y = y0; y < y1; y++)
        x.fill(0, offset + (c * height + y) * width + x0, offset + (c * height + y) * width + x1);
  },
};
