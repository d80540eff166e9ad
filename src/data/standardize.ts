/**
 * The statistics `verge train --arch` puts into a model's first layer (Standardize) so it takes
 * raw samples: one mean and standard deviation over everything for images and arrays (as
 * before), one per feature for tables (CSV columns differ in scale) and per channel for sensor
 * series (the last axis of [steps, channels]). Token ids are never standardized. Pure.
 */
import { meanStd, type Dataset } from './dataset.ts';

/** A feature whose training values barely vary is left unscaled (dividing would amplify noise). */
const MIN_FEATURE_STD = 1e-6;

export interface Standardization {
  mean: number | number[];
  std: number | number[];
  axis: 'channel' | 'last';
}

/** Per-feature statistics over the last axis of row-major samples with `features` values per row. */
function perFeature(x: Float32Array, features: number): { mean: number[]; std: number[] } {
  const rows = x.length / features;
  const mean = new Array<number>(features).fill(0);
  const sq = new Array<number>(features).fill(0);
  for (let i = 0; i < x.length; i++) mean[i % features]! += x[i]!;
  for (let k = 0; k < features; k++) mean[k]! /= Math.max(1, rows);
  for (let i = 0; i < x.length; i++) sq[i % features]! += (x[i]! - mean[i % features]!) ** 2;
  const std = sq.map((v) => Math.sqrt(v / Math.max(1, rows)));
  return { mean, std: std.map((s) => (s < MIN_FEATURE_STD ? 1 : s)) };
}

export function standardizationFor(ds: Dataset): Standardization | undefined {
  if (ds.inputDtype === 'int64') return undefined;
  const kind = ds.preprocessing?.kind;
  if (kind === 'tabular' || kind === 'series') {
    const features = ds.shape[ds.shape.length - 1]!;
    const { mean, std } = perFeature(ds.train.x, features);
    return { mean, std, axis: kind === 'series' ? 'last' : 'channel' };
  }
  const { mean, std } = meanStd(ds.train.x);
  return { mean, std, axis: 'channel' };
}
