/**
 * Nearest-neighbour mixing (Allouah, Farhadkhani, Guerraoui, Gupta, Pinot & Stephan 2023, "Fixing
 * by Mixing: A Recipe for Optimal Byzantine ML under Heterogeneity", AISTATS), as a wrapper around
 * a robust strategy (spec suffix `+nnm[:f]`): each update is replaced by the plain mean of its
 * n − f nearest updates (L2, itself included), then the inner strategy aggregates the mixed
 * updates. On non-IID clients an honest update's n − f nearest are (mostly) honest, so the honest
 * mixed updates are close to the honest mean and to each other; a far-off poisoned update keeps
 * its distance, and median / trimmed mean / Krum then discard it instead of honest outliers.
 * Costs n² distances per round (like Krum).
 */
import { VergeError } from '../../errors.ts';
import { squaredDistance as sqDist, weightedMean } from '../weights.ts';
import { weightedMetrics } from './fedavg.ts';
import type { FitResult, Strategy } from './strategy.ts';
import { UpdateModifier } from './wrapper.ts';

/** Default f: the Byzantine clients to tolerate (as for Krum and meamed). */
export const DEFAULT_NNM_BYZANTINE = 2;

/** Each update replaced by the mean of its n − f nearest updates (itself included; ties by index). */
export function nearestNeighbourMeans(updates: readonly Float32Array[], byzantine: number): Float32Array[] {
  const n = updates.length;
  const keep = n - byzantine;
  if (keep < 1)
    throw new VergeError('E_CONFLICT', `+nnm with f=${byzantine} needs more than ${byzantine} updates, got ${n}`);
  const d: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) d[i]![j] = d[j]![i] = sqDist(updates[i]!, updates[j]!);
  const ones = new Array<number>(keep).fill(1);
  return d.map((row) => {
    const nearest = row
      .map((v, j) => ({ v, j }))
      .sort((a, b) => a.v - b.v || a.j - b.j)
      .slice(0, keep)
      .map((e) => updates[e.j]!);
    return weightedMean(nearest, ones);
  });
}

export class NearestNeighbourMixed extends UpdateModifier {
  constructor(
    inner: Strategy,
    readonly byzantine: number = DEFAULT_NNM_BYZANTINE,
  ) {
    super(inner, 'nnm');
    if (!(Number.isInteger(byzantine) && byzantine >= 0))
      throw new VergeError('E_BAD_ARGUMENT', `+nnm:f: f must be a whole number ≥ 0, got ${byzantine}`);
  }

  protected modify(_round: number, results: readonly FitResult[]) {
    const mixed = nearestNeighbourMeans(
      results.map((r) => r.update),
      this.byzantine,
    );
    return {
      results: results.map((r, i) => ({ ...r, update: mixed[i]! })),
      metrics: weightedMetrics(results),
    };
  }
}
