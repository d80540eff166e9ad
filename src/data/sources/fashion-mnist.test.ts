import { describe, expect, it } from 'vitest';
import { loadDataset } from '../load-dataset.ts';
import { FASHION_MNIST_CLASSES } from './fashion-mnist.ts';

describe('fashion-mnist', () => {
  it('loads by name with class names and image preprocessing', async () => {
    const ds = await loadDataset('fashion-mnist', { limits: { train: 10, test: 10 } });
    expect([ds.name, ds.train.count, ds.test.count, ds.classes, ds.shape]).toEqual([
      'fashion-mnist',
      10,
      10,
      10,
      [1, 28, 28],
    ]);
    expect(ds.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(ds.preprocessing).toEqual({ kind: 'image', channels: 1, height: 28, width: 28 });
    expect(Math.max(...ds.train.x)).toBeLessThanOrEqual(1);
  });
});
