import { describe, expect, it } from 'vitest';
import { augmenter } from './augmenter.ts';
import { parseAugment } from './pipeline.ts';

function batch(step: number) {
  const x = Float32Array.from({ length: 4 * 16 }, (_, i) => (i % 7) / 7);
  return { x, y: Int32Array.from([0, 1, 0, 1]), count: 4, shape: [1, 4, 4], step };
}

describe('augmenter (fit callback)', () => {
  const opts = { shape: [1, 4, 4], classes: 2, seed: 5, loss: 'cross-entropy' };

  it('changes each batch reproducibly per (seed, step), and differently across steps', () => {
    const a = augmenter(parseAugment('flip:1,noise:0.1'), opts);
    const first = Array.from(a.onBatchBegin(batch(3)).x);
    expect(first).not.toEqual(Array.from(batch(3).x));
    expect(Array.from(augmenter(parseAugment('flip:1,noise:0.1'), opts).onBatchBegin(batch(3)).x)).toEqual(first);
    expect(Array.from(a.onBatchBegin(batch(4)).x)).not.toEqual(first);
    expect(
      Array.from(augmenter(parseAugment('flip:1,noise:0.1'), { ...opts, seed: 6 }).onBatchBegin(batch(3)).x),
    ).not.toEqual(first);
  });

  it('turns mixup labels into soft targets for float-target losses', () => {
    const b = augmenter(parseAugment('mixup:0.4'), { ...opts, loss: 'mse' }).onBatchBegin(batch(0));
    expect(b.targets).toHaveLength(8);
    for (let i = 0; i < 4; i++) expect(b.targets![2 * i]! + b.targets![2 * i + 1]!).toBeCloseTo(1, 6);
  });

  it('refuses mixup with cross-entropy, any transform on token ids, and image transforms on tables', () => {
    expect(() => augmenter(parseAugment('mixup'), opts)).toThrow(
      /^--augment mixup blends labels into soft targets: train with --loss mse or binary-cross-entropy \(not cross-entropy\)$/,
    );
    expect(() => augmenter(parseAugment('noise'), { ...opts, shape: [20], tokens: true })).toThrow(
      /token ids cannot be augmented/,
    );
    expect(() => augmenter(parseAugment('rotate:10'), { ...opts, shape: [5], what: 'table.csv' })).toThrow(
      /rotate need image samples \[channels, height, width\]; table.csv has samples \[5\]/,
    );
  });
});
