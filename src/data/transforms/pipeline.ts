/**
 * `--augment "flip,rotate:15,shift:0.1,cutout:8"` → a seeded pipeline over batches. Geometric
 * transforms are composed into one affine map per image and applied first, in one bilinear
 * resampling (zero fill); then pixel transforms in the order given; then batch transforms
 * (mixup). The random stream is the caller's (one per training step), so runs repeat exactly.
 */
import { VergeError } from '../../errors.ts';
import { TRANSFORMS, transform } from './registry.ts';
import { compose, IDENTITY, invert, type Affine, type AugmentBatch, type Image, type Transform } from './transform.ts';

export interface AugmentStep {
  transform: Transform;
  arg: number;
}

/** Parse a comma-separated spec of `name[:number]`. */
export function parseAugment(spec: string): AugmentStep[] {
  const steps = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((item) => {
      const [name, value, extra] = item.split(':').map((s) => s.trim());
      const t = transform(name!);
      if (!t)
        throw new VergeError(
          'E_BAD_ARGUMENT',
          `--augment: unknown transform '${name}' (known: ${TRANSFORMS.map((k) => k.name).join(', ')})`,
        );
      const arg = value === undefined ? t.arg.default : Number(value);
      if (extra !== undefined || value === '' || !Number.isFinite(arg) || arg < t.arg.min || arg > t.arg.max)
        throw new VergeError(
          'E_BAD_ARGUMENT',
          `--augment: ${name} takes one number (${t.arg.unit}) in ${t.arg.min}..${t.arg.max}, got '${item}'`,
        );
      return { transform: t, arg };
    });
  if (steps.length === 0)
    throw new VergeError('E_BAD_ARGUMENT', '--augment: give at least one transform, e.g. "flip,rotate:15"');
  return steps;
}

export function describeAugment(steps: readonly AugmentStep[]): string {
  return steps.map((s) => `${s.transform.name}:${s.arg}`).join(',');
}

/** Image transforms need samples [channels, height, width]. */
export function checkAugment(steps: readonly AugmentStep[], shape: readonly number[], what = 'the data'): void {
  const img = steps.filter((s) => s.transform.imageOnly);
  if (img.length && shape.length !== 3)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--augment: ${img.map((s) => s.transform.name).join(', ')} need image samples [channels, height, width]; ${what} has samples [${shape.join(', ')}] (brightness, contrast, noise and mixup work on any data)`,
    );
  const rows = steps.filter((s) => s.transform.rows);
  if (rows.length && shape.length !== 2 && shape.length !== 3)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--augment: ${rows.map((s) => s.transform.name).join(', ')} need samples with a time axis ([time, features] or [channels, time, features]); ${what} has samples [${shape.join(', ')}]`,
    );
}

/** Bilinear resampling of one image through the inverse map `inv` (output pixel → source point), zero outside. */
function warp(img: Image, inv: Affine, tmp: Float32Array): void {
  const { x, offset, channels, height: h, width: w } = img;
  const [a, b, c, d, e, f] = inv;
  const plane = h * w;
  for (let ch = 0; ch < channels; ch++) {
    const base = offset + ch * plane;
    tmp.set(x.subarray(base, base + plane));
    for (let yy = 0; yy < h; yy++) {
      for (let xx = 0; xx < w; xx++) {
        const sx = a * xx + b * yy + c;
        const sy = d * xx + e * yy + f;
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        let v = 0;
        if (y0 >= 0 && y0 < h) {
          if (x0 >= 0 && x0 < w) v += (1 - fx) * (1 - fy) * tmp[y0 * w + x0]!;
          if (x0 + 1 >= 0 && x0 + 1 < w) v += fx * (1 - fy) * tmp[y0 * w + x0 + 1]!;
        }
        if (y0 + 1 >= 0 && y0 + 1 < h) {
          if (x0 >= 0 && x0 < w) v += (1 - fx) * fy * tmp[(y0 + 1) * w + x0]!;
          if (x0 + 1 >= 0 && x0 + 1 < w) v += fx * fy * tmp[(y0 + 1) * w + x0 + 1]!;
        }
        x[base + yy * w + xx] = v;
      }
    }
  }
}

/** Apply the pipeline to a batch in place, drawing from `rng`. */
export function augmentBatch(steps: readonly AugmentStep[], batch: AugmentBatch, rng: () => number): void {
  const n = batch.count;
  const per = n ? batch.x.length / n : 0;
  const isImage = batch.shape.length === 3;
  // samples with rows (images, [time, features] windows) are given to pixel transforms as planes
  const [channels, height, width] = isImage
    ? (batch.shape as [number, number, number])
    : batch.shape.length === 2
      ? [1, batch.shape[0]!, batch.shape[1]!]
      : [0, 0, 0];
  const affine = steps.filter((s) => s.transform.kind === 'affine');
  const pixel = steps.filter((s) => s.transform.kind === 'pixel');
  const tmp = new Float32Array(height * width);
  for (let i = 0; i < n; i++) {
    const img: Image | undefined = channels ? { x: batch.x, offset: i * per, channels, height, width } : undefined;
    if (img && affine.length) {
      let m: Affine = [...IDENTITY];
      for (const s of affine)
        if (s.transform.kind === 'affine') m = compose(s.transform.matrix(s.arg, rng, width, height), m);
      if (m.some((v, k) => v !== IDENTITY[k])) warp(img, invert(m), tmp);
    }
    for (const s of pixel) if (s.transform.kind === 'pixel') s.transform.apply(s.arg, rng, batch.x, i * per, per, img);
  }
  for (const s of steps) if (s.transform.kind === 'batch') s.transform.apply(s.arg, rng, batch);
}
