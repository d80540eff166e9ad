/**
 * Coordinate-wise median (Yin et al. 2018): each weight moves by the median of the clients'
 * updates for that weight. Unweighted, so a client cannot buy influence by claiming many
 * examples; tolerates fewer than half the clients being arbitrary.
 */
import { FedAvg } from './fedavg.ts';
import type { FitResult } from './strategy.ts';

/** Apply `reduce` to each coordinate's sorted column of client values. */
export function coordinateWise(results: readonly FitResult[], reduce: (sorted: Float64Array) => number): Float32Array {
  const n = results.length;
  const size = results[0]!.update.length;
  const col = new Float64Array(n);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    for (let k = 0; k < n; k++) col[k] = results[k]!.update[i]!;
    col.sort();
    out[i] = reduce(col);
  }
  return out;
}

/** Median of a sorted column: the middle value, or the mean of the two middle ones. */
export function medianOfSorted(s: Float64Array): number {
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export class Median extends FedAvg {
  override readonly name = 'median';
  override readonly linear = false;

  protected override combine(results: readonly FitResult[]): Float32Array {
    return coordinateWise(results, medianOfSorted);
  }
}
