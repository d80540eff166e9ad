/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): per weight, drop the ⌊β·n⌋ largest and smallest
 * client values and average the rest. Unweighted; tolerates up to β·n arbitrary clients.
 */
import { VergeError } from '../../errors.ts';
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import { coordinateWise } from './median.ts';
import type { FitResult } from './strategy.ts';

export interface TrimmedMeanOptions extends FedAvgOptions {
  /** Fraction trimmed from EACH end, in [0, 0.5). Default 0.2. */
  beta?: number;
}

export class TrimmedMean extends FedAvg {
  override readonly name = 'trimmed-mean';
  override readonly linear = false;
  readonly beta: number;

  constructor(opts: TrimmedMeanOptions = {}) {
    super(opts);
    this.beta = opts.beta ?? 0.2;
    if (!(this.beta >= 0 && this.beta < 0.5))
      throw new VergeError('E_BAD_ARGUMENT', `trimmed-mean β must be in [0, 0.5), got ${this.beta}`);
  }

  protected override combine(results: readonly FitResult[]): Float32Array {
    const trim = Math.floor(this.beta * results.length);
    return coordinateWise(results, (s) => {
      let sum = 0;
      for (let k = trim; k < s.length - trim; k++) sum += s[k]!;
      return sum / (s.length - 2 * trim);
    });
  }
}
