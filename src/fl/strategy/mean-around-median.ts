/**
 * Mean around the median, "MeaMed" (Xie, Koyejo and Gupta 2018, Generalized Byzantine-tolerant
 * SGD): per weight, the mean of the n − f client values closest to the coordinate-wise median.
 * Unweighted; tolerates f arbitrary clients when n > 2f.
 *
 * Why next to trimmed mean: Yin's trimmed mean drops β·n values from EACH end, so when the f
 * poisoned values of a weight all sit at one end it also drops f honest values from the other and
 * the mean shifts towards the attack. Trimming by distance from the median drops the f values
 * farthest from it, wherever they are: against large poisoned updates that is the poisoned ones,
 * and what remains is the mean of the honest values (measured: bench/results/fl-robust-30r.json).
 */
import { VergeError } from '../../errors.ts';
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import { coordinateWise, medianOfSorted } from './median.ts';
import type { FitResult } from './strategy.ts';

export interface MeanAroundMedianOptions extends FedAvgOptions {
  /** Byzantine clients to tolerate: the f values farthest from the median are dropped. Default 2. */
  byzantine?: number;
}

/** Mean of the `keep` values of a sorted column closest to its median (a contiguous run of it). */
export function meanAroundMedian(sorted: Float64Array, keep: number): number {
  const m = medianOfSorted(sorted);
  let lo = 0;
  let hi = sorted.length - 1;
  // drop the end farther from the median until `keep` values remain (ties drop the upper end)
  while (hi - lo + 1 > keep) {
    if (m - sorted[lo]! > sorted[hi]! - m) lo++;
    else hi--;
  }
  let sum = 0;
  for (let k = lo; k <= hi; k++) sum += sorted[k]!;
  return sum / keep;
}

export class MeanAroundMedian extends FedAvg {
  override readonly name = 'meamed';
  override readonly linear = false;
  readonly byzantine: number;

  constructor(opts: MeanAroundMedianOptions = {}) {
    super(opts);
    this.byzantine = opts.byzantine ?? 2;
    if (!(Number.isInteger(this.byzantine) && this.byzantine >= 0))
      throw new VergeError('E_BAD_ARGUMENT', `meamed f must be a whole number, got ${this.byzantine}`);
  }

  protected override combine(results: readonly FitResult[]): Float32Array {
    const n = results.length;
    if (n <= 2 * this.byzantine)
      throw new VergeError(
        'E_CONFLICT',
        `meamed with f=${this.byzantine} needs more than 2f = ${2 * this.byzantine} updates, got ${n}`,
      );
    return coordinateWise(results, (s) => meanAroundMedian(s, n - this.byzantine));
  }
}
