/**
 * Test support (lives in test/, never in src: the optimize tests' shared helpers): measured variants as
 * measureVariants would report them, with made-up figures, for the report and variant-selection
 * tests.
 */
import type { LatencyStats, Precision, VariantMeasurement } from '../../src/optimize/measure.ts';

/**
 * A measured variant whose every latency statistic at a batch size is the p50 given for it
 * (`{1: 0.2, 32: 3}`: p50 0.2 ms at batch 1, 3 ms at batch 32), over 10 runs, and whose loaded
 * memory at each of those batch sizes is 3× its file (unless `extra.loaded` says otherwise).
 */
export function measuredVariant(
  name: string,
  precision: Precision,
  bytes: number,
  accuracy: number,
  p50ByBatch: Record<number, number>,
  extra: Partial<Pick<VariantMeasurement, 'description' | 'samples' | 'loaded' | 'correct'>> = {},
): VariantMeasurement {
  const latency = Object.entries(p50ByBatch).map(([b, p50]): LatencyStats => ({
    batch: Number(b),
    min_ms: p50,
    p50_ms: p50,
    p90_ms: p50,
    mean_ms: p50,
    runs: 10,
    samples_per_sec: (Number(b) * 1000) / p50,
  }));
  const loaded = latency.map((l) => ({ batch: l.batch, bytes: 3 * bytes }));
  return { name, precision, description: '', bytes, loaded, accuracy, samples: 1000, latency, ...extra };
}
