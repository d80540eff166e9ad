/**
 * Krum and Multi-Krum (Blanchard et al. 2017). Each update is scored by the summed squared
 * distance to its n − f − 2 nearest other updates, f being the number of Byzantine clients to
 * tolerate; Krum takes the best-scored update, Multi-Krum averages the m best.
 */
import { VergeError } from '../../errors.ts';
import { squaredDistance as sqDist, weightedMean } from '../weights.ts';
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import type { FitResult } from './strategy.ts';

export interface KrumOptions extends FedAvgOptions {
  /** Byzantine clients to tolerate. Default 2. */
  byzantine?: number;
  /** Updates averaged: 1 = Krum, > 1 = Multi-Krum, 'n-f' = Multi-Krum with all but f. Default 1. */
  keep?: number | 'n-f';
}

/** Krum scores of the updates (lower is more central). */
export function krumScores(updates: readonly Float32Array[], byzantine: number): number[] {
  const n = updates.length;
  const neighbours = n - byzantine - 2;
  if (neighbours < 1)
    throw new VergeError(
      'E_CONFLICT',
      `Krum with f=${byzantine} needs more than f + 2 = ${byzantine + 2} updates, got ${n}`,
    );
  const d: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) d[i]![j] = d[j]![i] = sqDist(updates[i]!, updates[j]!);
  return d.map((row, i) =>
    row
      .filter((_, j) => j !== i)
      .sort((a, b) => a - b)
      .slice(0, neighbours)
      .reduce((a, b) => a + b, 0),
  );
}

export class Krum extends FedAvg {
  override readonly name: string;
  override readonly linear = false;
  readonly byzantine: number;
  readonly keep: number | 'n-f';

  constructor(opts: KrumOptions = {}) {
    super(opts);
    this.byzantine = opts.byzantine ?? 2;
    this.keep = opts.keep ?? 1;
    if (!(Number.isInteger(this.byzantine) && this.byzantine >= 0))
      throw new VergeError('E_BAD_ARGUMENT', `Krum f must be a whole number, got ${this.byzantine}`);
    if (this.keep !== 'n-f' && !(Number.isInteger(this.keep) && this.keep >= 1))
      throw new VergeError('E_BAD_ARGUMENT', `Multi-Krum m must be a whole number ≥ 1, got ${this.keep}`);
    this.name = this.keep === 1 ? 'krum' : 'multi-krum';
  }

  protected override combine(results: readonly FitResult[]): Float32Array {
    const scores = krumScores(
      results.map((r) => r.update),
      this.byzantine,
    );
    const best = scores
      .map((s, i) => ({ s, i }))
      .sort((a, b) => a.s - b.s || a.i - b.i)
      .slice(0, this.keep === 'n-f' ? Math.max(1, results.length - this.byzantine) : this.keep)
      .map((e) => results[e.i]!.update);
    return weightedMean(
      best,
      best.map(() => 1),
    );
  }
}
