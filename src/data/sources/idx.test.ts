import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeIdx } from '../idx.ts';
import { loadDataset } from '../load-dataset.ts';
import { REPO_SUBSET_DIR } from './fashion-mnist.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-idx-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('idx', () => {
  it('reads the shipped Fashion-MNIST subset folder (gzip IDX) with its test split', async () => {
    const ds = await loadDataset(REPO_SUBSET_DIR);
    expect([ds.name, ds.train.count, ds.test.count, ds.shape, ds.classes]).toEqual([
      'fashion-mnist-subset',
      2000,
      500,
      [1, 28, 28],
      10,
    ]);
    expect(ds.report).toMatchObject({ format: 'idx', read: { files: 4, samples: 2500 }, skipped: [] });
  });

  it('reads uncompressed IDX, holds out the tail without test files, and rejects a truncated file', async () => {
    const dir = join(tmp, 'plain');
    mkdirSync(dir);
    const pixels = Uint8Array.from({ length: 10 * 2 * 3 }, (_, i) => i);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx([10, 2, 3], pixels));
    writeFileSync(
      join(dir, 'train-labels-idx1-ubyte'),
      encodeIdx(
        [10],
        Uint8Array.from({ length: 10 }, (_, i) => i % 4),
      ),
    );
    const ds = await loadDataset(dir);
    expect([ds.train.count, ds.test.count, ds.shape, ds.classes]).toEqual([9, 1, [1, 2, 3], 4]);
    expect(ds.train.x[7]).toBeCloseTo(7 / 255, 7);
    expect(ds.report?.notes[0]).toMatch(/last 1 training samples are the test split/);
    const bad = join(tmp, 'bad');
    mkdirSync(bad);
    copyFileSync(join(dir, 'train-labels-idx1-ubyte'), join(bad, 'train-labels-idx1-ubyte'));
    writeFileSync(join(bad, 'train-images-idx3-ubyte.gz'), gzipSync(encodeIdx([10, 2, 3], pixels).subarray(0, 40)));
    await expect(loadDataset(bad)).rejects.toMatchObject({
      code: 'E_DATA_INVALID',
      message: expect.stringMatching(/truncated/),
    });
  });
});
