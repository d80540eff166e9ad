/**
 * The shape of a data transform (augmentation): a named, seeded operation on a batch of samples,
 * parsed from `--augment "flip,rotate:15,shift:0.1,cutout:8"`. Three kinds, so a pipeline stays
 * cheap: geometric transforms ('affine') each contribute a matrix and the composition is applied
 * in ONE bilinear resampling per image; 'pixel' transforms change values in place; 'batch'
 * transforms mix samples (mixup) and make soft labels. Pure: runs in browsers and workers.
 */
import { VergeError } from '../../errors.ts';

/** A 2-D affine map in pixel coordinates: [a, b, c, d, e, f] sends (x, y) to (a·x + b·y + c, d·x + e·y + f). */
export type Affine = [number, number, number, number, number, number];

export const IDENTITY: Readonly<Affine> = Object.freeze<Affine>([1, 0, 0, 0, 1, 0]);

/** One sample's view for per-image transforms: planar [channels, height, width] at `offset`. */
export interface Image {
  x: Float32Array;
  offset: number;
  channels: number;
  height: number;
  width: number;
}

/** A batch as transforms see it (changed in place). */
export interface AugmentBatch {
  x: Float32Array;
  y: Int32Array;
  count: number;
  /** Per-sample shape. */
  shape: number[];
  classes: number;
  /** Soft labels [count, classes], set by batch transforms (mixup). */
  soft?: Float32Array;
}

export interface TransformArg {
  /** Value when the spec gives none (`flip`), and the accepted range. */
  readonly default: number;
  readonly min: number;
  readonly max: number;
  /** Meaning of the number, for --help and errors. */
  readonly unit: string;
}

interface BaseTransform {
  /** Registry name, also the file name: 'rotate' lives in transforms/rotate.ts. */
  readonly name: string;
  readonly summary: string;
  readonly arg: TransformArg;
  /** Needs image samples [channels, height, width]. */
  readonly imageOnly: boolean;
  /**
   * Needs rows: samples [rows, width] or [channels, rows, width] (series windows, speech feature
   * windows, images); pixel transforms then get the sample's geometry as an Image (channels 1 for
   * [rows, width]).
   */
  readonly rows?: boolean;
}

export interface AffineTransform extends BaseTransform {
  readonly kind: 'affine';
  /** This transform's map for one image (centre-relative maps use width/height), drawing from `rng`. */
  matrix(arg: number, rng: () => number, width: number, height: number): Affine;
}

export interface PixelTransform extends BaseTransform {
  readonly kind: 'pixel';
  /** Change one sample in place (`per` values at `offset`; images also get their geometry). */
  apply(arg: number, rng: () => number, x: Float32Array, offset: number, per: number, image?: Image): void;
}

export interface BatchTransform extends BaseTransform {
  readonly kind: 'batch';
  apply(arg: number, rng: () => number, batch: AugmentBatch): void;
}

export type Transform = AffineTransform | PixelTransform | BatchTransform;

/** Compose: apply `first`, then `second`. */
export function compose(second: Affine, first: Affine): Affine {
  const [a, b, c, d, e, f] = second;
  const [p, q, r, s, t, u] = first;
  return [a * p + b * s, a * q + b * t, a * r + b * u + c, d * p + e * s, d * q + e * t, d * r + e * u + f];
}

export function invert(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (Math.abs(det) < 1e-12) throw new VergeError('E_BAD_ARGUMENT', 'augmentation produced a degenerate geometric map');
  return [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
}

/** A map about the image centre: translate centre to origin, apply `m`, translate back. */
export function aboutCentre(m: Affine, width: number, height: number): Affine {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  return compose([1, 0, cx, 0, 1, cy], compose(m, [1, 0, -cx, 0, 1, -cy]));
}

/** Uniform in [lo, hi). */
export function uniform(rng: () => number, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Standard normal (Box–Muller). */
export function gaussian(rng: () => number): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
