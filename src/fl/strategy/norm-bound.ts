/**
 * Norm bounding (Sun et al. 2019, "Can You Really Backdoor Federated Learning?"), as a wrapper
 * around any strategy (spec suffix `+clip[:K]`): before the inner strategy aggregates, every
 * update is scaled down to at most K × the median L2 norm of the round's updates. A poisoned
 * update blown up ×10 then weighs no more than an honest one; with fewer than half the clients
 * poisoned the median norm is an honest client's. Each clipped update keeps its direction.
 * The server must see individual updates, so it does not combine with secure aggregation or DP
 * (which clips to its own fixed norm).
 */
import { VergeError } from '../../errors.ts';
import { clipToNorm, l2norm } from '../weights.ts';
import type { FitResult, Strategy } from './strategy.ts';
import { UpdateModifier } from './wrapper.ts';

/** Default K: updates longer than the median are clipped to it. */
export const DEFAULT_NORM_BOUND = 1;

/** The median of the norms of `updates` (upper median for an even count). */
export function medianNorm(updates: readonly Float32Array[]): number {
  const norms = updates.map(l2norm).sort((a, b) => a - b);
  return norms[norms.length >> 1]!;
}

export class NormBounded extends UpdateModifier {
  constructor(
    inner: Strategy,
    readonly factor: number = DEFAULT_NORM_BOUND,
  ) {
    super(inner, 'clip');
    if (!(factor > 0 && Number.isFinite(factor)))
      throw new VergeError('E_BAD_ARGUMENT', `norm bound K (+clip:K) must be a number > 0, got ${factor}`);
  }

  protected modify(_round: number, results: readonly FitResult[]) {
    const bound = this.factor * medianNorm(results.map((r) => r.update));
    let clipped = 0;
    const bounded = results.map((r) => {
      const update = r.update.slice();
      if (clipToNorm(update, bound) < 1) clipped++;
      return { ...r, update };
    });
    return { results: bounded, metrics: { norm_bound: bound, norm_clipped: clipped } };
  }
}
