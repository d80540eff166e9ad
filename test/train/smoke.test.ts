import { test, expect } from 'vitest';
import { batches } from '../../src/data/dataset.ts';
import { loadFashionMnist } from '../../src/data/fashion-mnist.ts';
import { TrainingSession } from '../../src/train/session.ts';
import { seedCnn } from '../fixtures/train/models.ts';

test('seed cnn trains', async () => {
  const ds = loadFashionMnist({ train: 2000, test: 500 });
  const s = await TrainingSession.create(seedCnn(), { loss: 'cross-entropy', optimizer: { kind: 'adam', lr: 1e-3 }, threads: 2 });
  const t0 = performance.now();
  let n = 0;
  const losses: number[] = [];
  for (const b of batches(ds.train, 64, { shuffle: true, seed: 1 })) {
    const r = await s.step({ image: { dtype: 'float32', dims: [b.count, 1, 28, 28], data: b.x } }, { dtype: 'int32', dims: [b.count], data: b.y });
    losses.push(r.loss);
    n += b.count;
  }
  const dt = performance.now() - t0;
  console.log(losses.map((l) => l.toFixed(3)).join(' '), (n / dt) * 1000, 'samples/s');
  const e = await s.evaluate({ image: { dtype: 'float32', dims: [500, 1, 28, 28], data: ds.test.x } }, { dtype: 'int32', dims: [500], data: ds.test.y });
  console.log(e);
  expect(losses.at(-1)!).toBeLessThan(losses[0]!);
});
