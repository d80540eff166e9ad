import { describe, expect, it } from 'vitest';
import { loadFashionMnist } from '../data/sources/fashion-mnist.ts';
import { encodeModel } from '../onnx/codec.ts';
import { trainedFixture } from '../../test/optimize/helpers.ts';
import { measureVariants } from './measure.ts';
import { pruneFilters } from './prune/structured.ts';

describe('measureVariants', () => {
  it('measures accuracy, bytes and latency of each variant side by side', async () => {
    const data = loadFashionMnist({ train: 0, test: 300 });
    const fp32 = trainedFixture('seed_cnn_fmnist');
    const filters = pruneFilters(fp32, { ratio: 0.5 }).model;
    const r = await measureVariants(
      [
        { name: 'fp32', precision: 'fp32', description: '', model: fp32 },
        { name: 'filters', precision: 'fp32', description: '', model: filters },
      ],
      data.test,
      data.shape,
      { batches: [1, 8], rounds: 2, runsPerRound: 2, threads: 1 },
    );
    expect(r.map((x) => x.name)).toEqual(['fp32', 'filters']);
    expect(r[0]!.bytes).toBe(encodeModel(fp32).length);
    expect(r[1]!.bytes).toBeLessThan(r[0]!.bytes / 3);
    expect(r[0]!.samples).toBe(300);
    // the PyTorch-trained model is ~89% accurate; on 300 samples well above chance
    expect(r[0]!.accuracy).toBeGreaterThan(0.8);
    expect(r[1]!.accuracy).toBeLessThan(r[0]!.accuracy + 0.05);
    for (const x of r) {
      expect(x.latency.map((l) => l.batch)).toEqual([1, 8]);
      for (const l of x.latency) {
        expect(l.runs).toBe(4);
        expect(l.p50_ms).toBeGreaterThan(0);
        expect(l.p90_ms).toBeGreaterThanOrEqual(l.p50_ms);
      }
    }
  });
});
