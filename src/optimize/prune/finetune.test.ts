import { describe, expect, it } from 'vitest';
import { loadFashionMnist } from '../../data/sources/fashion-mnist.ts';
import { trainedFixture } from '../../../test/optimize/helpers.ts';
import { finetune, pruneFiltersWithFinetune } from './finetune.ts';
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

  it('follows the learning-rate schedule: a rate cut to 0 after one step leaves the one-step model', async () => {
    const m = trainedFixture('seed_cnn_fmnist');
    const one = await finetune(m, data.train, data.shape, { epochs: 1, lr: 1e-3, threads: 1, maxSamples: 64 });
    const cut = await finetune(m, data.train, data.shape, {
      epochs: 3,
      lr: 1e-3,
      threads: 1,
      maxSamples: 64,
      schedule: { kind: 'step', every: 1, gamma: 0 },
    });
    const full = await finetune(m, data.train, data.shape, { epochs: 3, lr: 1e-3, threads: 1, maxSamples: 64 });
    expect(cut.steps).toBe(3);
    expect(Array.from(weights(cut.model, 'net.7.weight'))).toEqual(Array.from(weights(one.model, 'net.7.weight')));
    expect(Array.from(weights(full.model, 'net.7.weight'))).not.toEqual(Array.from(weights(one.model, 'net.7.weight')));
  });

  it('structured pruning in stages: 25% -> fine-tune -> 50% -> fine-tune, reported against the original', async () => {
    const m = trainedFixture('seed_cnn_fmnist');
    const r = await pruneFiltersWithFinetune(m, data.train, data.shape, {
      ratio: 0.5,
      stages: [0.25],
      epochs: 2,
      threads: 1,
    });
    expect(r.stages.map((s) => [s.ratio, s.epochs])).toEqual([
      [0.25, 1],
      [0.5, 1],
    ]);
    expect(r.steps).toBe(10);
    expect(r.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(r.report.layers.map((l) => [l.before, l.after])).toEqual([
      [32, 16],
      [64, 32],
      [64, 32],
    ]);
    for (const l of r.report.layers) {
      expect(new Set(l.removed).size).toBe(l.before - l.after);
      expect(l.removed.every((k) => k >= 0 && k < l.before)).toBe(true);
    }
    const dims = (name: string) => r.model.graph.initializers.find((t) => t.name === name)!.dims;
    expect([dims('net.0.weight'), dims('net.3.weight'), dims('net.7.weight'), dims('net.9.weight')]).toEqual([
      [16, 1, 3, 3],
      [32, 16, 3, 3],
      [32, 800],
      [10, 32],
    ]);
    expect(r.report.parametersAfter).toBe(r.model.graph.initializers.reduce((s, t) => s + t.data.length, 0));
    await expect(
      pruneFiltersWithFinetune(m, data.train, data.shape, { ratio: 0.5, stages: [0.6], epochs: 2 }),
    ).rejects.toThrow(/stages must increase and stay below the final ratio 0.5/);
    await expect(
      pruneFiltersWithFinetune(m, data.train, data.shape, { ratio: 0.5, stages: [0.25], epochs: 1 }),
    ).rejects.toThrow(/leave no epoch for the final ratio/);
  });
});
