import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeDataset, HOLDOUT_FRACTION, loadDataset } from '../load-dataset.ts';
import { readNpy, writeNpy } from '../npy.ts';

const TINY = resolve('test/data/fixtures/tiny_dataset');
const tmp = mkdtempSync(join(tmpdir(), 'verge-npy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npy-folder', () => {
  it('reads x.npy/y.npy, scales uint8 to [0,1] and holds out the last 10% as test', async () => {
    const ds = await loadDataset(TINY);
    const x = readNpy(join(TINY, 'x.npy')).data as Uint8Array;
    expect(ds.name).toBe('tiny_dataset');
    expect(ds.source).toBe(TINY);
    expect([ds.train.count, ds.test.count]).toEqual([20 - 20 * HOLDOUT_FRACTION, 2]);
    expect([ds.shape, ds.classes]).toEqual([[4, 4], 3]);
    expect(ds.train.x[5]).toBeCloseTo(x[5]! / 255, 7);
    // test = samples 18 and 19, labels 18 % 3 and 19 % 3
    expect(Array.from(ds.test.y)).toEqual([0, 1]);
    expect(ds.test.x[0]).toBeCloseTo(x[18 * 16]! / 255, 7);
    expect(describeDataset(ds)).toBe(`data: tiny_dataset from ${TINY} (18 train / 2 test, shape [4, 4], 3 classes)`);
    expect(ds.report).toMatchObject({ format: 'npy-folder', read: { files: 2, samples: 20 } });
    const limited = await loadDataset(TINY, { limits: { train: 5, test: 1 } });
    expect([limited.train.count, limited.train.x.length, limited.test.count]).toEqual([5, 80, 1]);
  });

  it('uses x_test/y_test when present and float samples as given', async () => {
    const dir = join(tmp, 'with-test');
    mkdirSync(dir);
    const x = new Float64Array(12).map((_, i) => i / 2);
    writeNpy(join(dir, 'x.npy'), { dtype: 'float64', shape: [4, 3], data: x });
    writeNpy(join(dir, 'y.npy'), { dtype: 'int32', shape: [4, 1], data: new Int32Array([0, 4, 1, 2]) });
    writeNpy(join(dir, 'x_test.npy'), { dtype: 'float32', shape: [2, 3], data: new Float32Array(6) });
    writeNpy(join(dir, 'y_test.npy'), { dtype: 'uint8', shape: [2], data: new Uint8Array([5, 0]) });
    const ds = await loadDataset(dir);
    expect([ds.train.count, ds.test.count, ds.classes, ds.shape]).toEqual([4, 2, 6, [3]]);
    expect(Array.from(ds.train.x)).toEqual(Array.from(x));
  });

  it('fails clearly on bad folders', async () => {
    const noY = join(tmp, 'no-y');
    mkdirSync(noY);
    writeNpy(join(noY, 'x.npy'), { dtype: 'float32', shape: [2, 2], data: new Float32Array(4) });
    await expect(loadDataset(noY)).rejects.toMatchObject({ code: 'E_DATA_NOT_FOUND' });
    writeNpy(join(noY, 'y.npy'), { dtype: 'int32', shape: [3], data: new Int32Array(3) });
    await expect(loadDataset(noY)).rejects.toMatchObject({ code: 'E_DATA_INVALID' }); // 2 samples, 3 labels
    writeNpy(join(noY, 'y.npy'), { dtype: 'float32', shape: [2], data: new Float32Array([0, 0.5]) });
    await expect(loadDataset(noY)).rejects.toMatchObject({ code: 'E_DATA_INVALID' }); // not a class index
    writeFileSync(join(noY, 'y.npy'), 'garbage');
    await expect(loadDataset(noY)).rejects.toMatchObject({ code: 'E_DATA_INVALID' });
    await expect(loadDataset(join(noY, 'x.npy'))).rejects.toMatchObject({ code: 'E_DATA_INVALID' }); // a file, not a folder
  });
});
