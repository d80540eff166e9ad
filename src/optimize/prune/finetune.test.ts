import { describe, expect, it } from 'vitest';
import { loadFashionMnist } from '../../data/fashion-mnist.ts';
import { trainedFixture } from '../../../test/optimize/helpers.ts';
import { finetune } from './finetune.ts';
import { pruneMagnitude, pruningMasks, sparsityReport } from './magnitude.ts';
import { toSparseInitializers } from './sparse-storage.ts';

const data = loadFashionMnist({ train: 320, test: 0 });

function weights(m: ReturnType<typeof trainedFixture>, name: string): Float32Array {
  return m.graph.initializers.find((t) => t.name === name)!.data as Float32Array;
}

describe('fine-tuning pruned models on the training engine', () => {
  it('keeps pruned weights at zero while the others train (masks), from a sparse-stored model', async () => {
    const { model: pruned } = pruneMagnitude(trainedFixture('seed_cnn_fmnist'), { sparsity: 0.7 });
    const masks = pruningMasks(pruned);
    const sparse = toSparseInitializers(pruned).model;
    const r = await finetune(sparse, data.train, data.shape, { epochs: 1, batch: 64, lr: 1e-3, threads: 1, masks });
    expect(r.steps).toBe(5);
    expect(r.history).toHaveLength(1);
    expect(r.model.graph.sparseInitializers).toEqual([]);
    const before = weights(pruned, 'net.7.weight');
    const after = weights(r.model, 'net.7.weight');
    let changed = 0;
    for (let i = 0; i < before.length; i++) {
      if (before[i] === 0) expect(after[i]).toBe(0);
      else if (after[i] !== before[i]) changed++;
    }
    expect(changed).toBeGreaterThan(before.length * 0.1);
  });

  it('gradual pruning ends at the target sparsity', async () => {
    const r = await finetune(trainedFixture('seed_cnn_fmnist'), data.train, data.shape, {
      epochs: 1,
      threads: 1,
      gradual: { sparsity: 0.6 },
    });
    expect(sparsityReport(r.model).sparsity).toBeCloseTo(0.6, 3);
  });

  it('rejects a fractional epoch count and too little data', async () => {
    const m = trainedFixture('seed_cnn_fmnist');
    await expect(finetune(m, data.train, data.shape, { epochs: 1.5 })).rejects.toThrow(/whole number/);
    await expect(finetune(m, data.train, data.shape, { epochs: 1, batch: 1000 })).rejects.toThrow(
      /at least 1000 training samples/,
    );
  });
});
