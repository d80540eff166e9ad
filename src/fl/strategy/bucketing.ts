/**
 * Bucketing (Karimireddy, He & Jaggi 2022, "Byzantine-Robust Learning on Heterogeneous Datasets
 * via Bucketing"), as a wrapper around a robust strategy (spec suffix `+bucket[:s]`): each round the
 * updates are shuffled into buckets of s, each bucket becomes the example-weighted mean of its
 * updates, and the inner strategy aggregates the bucket means. On non-IID clients the robust
 * aggregators (median, trimmed mean, Krum) mistake honest but unusual updates — the only clients
 * holding a class — for outliers; averaging a few random clients first makes honest inputs alike
 * while f poisoned clients still spoil at most f buckets. The shuffle is seeded by the round, so a
 * resumed job buckets the same way.
 */
import { permutation } from '../../data/browser.ts';
import { VergeError } from '../../errors.ts';
import { weightedMean } from '../weights.ts';
import { weightedMetrics } from './fedavg.ts';
import type { FitResult, Strategy } from './strategy.ts';
import { UpdateModifier } from './wrapper.ts';

/** Default bucket size (the paper's s = 2). */
export const DEFAULT_BUCKET_SIZE = 2;

/** Results grouped into buckets of `size` in a round-seeded random order, each bucket averaged. */
export function bucketMeans(results: readonly FitResult[], size: number, round: number): FitResult[] {
  const order = permutation(results.length, (round * 2654435761) >>> 0);
  const out: FitResult[] = [];
  for (let b = 0; b * size < results.length; b++) {
    const members = Array.from(order.subarray(b * size, (b + 1) * size)).map((i) => results[i]!);
    const examples = members.reduce((a, r) => a + r.examples, 0);
    out.push({
      client: `bucket-${b}`,
      update: weightedMean(
        members.map((r) => r.update),
        // clients that report no examples count as one, so a bucket never has zero weight
        members.map((r) => Math.max(1, r.examples)),
      ),
      examples,
      metrics: {},
      contributors: members.length,
    });
  }
  return out;
}

export class Bucketed extends UpdateModifier {
  constructor(
    inner: Strategy,
    readonly size: number = DEFAULT_BUCKET_SIZE,
  ) {
    super(inner, 'bucket');
    if (!(Number.isInteger(size) && size >= 1))
      throw new VergeError('E_BAD_ARGUMENT', `bucket size s (+bucket:s) must be a whole number ≥ 1, got ${size}`);
  }

  protected modify(round: number, results: readonly FitResult[]) {
    const buckets = bucketMeans(results, this.size, round);
    // the clients' own metrics, not the buckets' (which carry none)
    return { results: buckets, metrics: { ...weightedMetrics(results), buckets: buckets.length } };
  }
}
