import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { HOLDOUT_FRACTION, describeDataset, loadDataset } from '../../src/data/load-dataset.ts';
import { readNpy, writeNpy } from '../../src/data/npy.ts';
import { writeNpz } from '../../src/data/npz.ts';

const TINY = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tiny_dataset');
const tmp = mkdtempSync(join(tmpdir(), 'verge-ds-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('loadDataset', () => {
  it('reads a folder of numpy arrays, scales uint8 to [0,1] and holds out the last 10% as test', () => {
    const ds = loadDataset(TINY);
    const x = readNpy(join(TINY, 'x.npy')).data as Uint8Array;
    expect(ds.name).toBe('tiny_dataset');
    expect(ds.source).toBe(TINY);
    expect([ds.train.count, ds.test.count]).toEqual([20 - 20 * HOLDOUT_FRACTION, 2]);
    expect(ds.shape).toEqual([4, 4]);
    expect(ds.classes).toBe(3);
    expect(ds.train.x[5]).toBeCloseTo(x[5]! / 255, 7);
    // test = samples 18 and 19, labels 18 % 3 and 19 % 3
    expect(Array.from(ds.test.y)).toEqual([0, 1]);
    expect(ds.test.x[0]).toBeCloseTo(x[18 * 16]! / 255, 7);
    expect(describeDataset(ds)).toBe(`data: tiny_dataset from ${TINY} (18 train / 2 test, shape [4, 4], 3 classes)`);
    const limited = loadDataset(TINY, { limits: { train: 5, test: 1 } });
    expect([limited.train.count, limited.train.x.length, limited.test.count]).toEqual([5, 80, 1]);
  });

  it('uses x_test/y_test when present, float samples as given, and .npz archives', () => {
    const dir = join(tmp, 'with-test');
    mkdirSync(dir);
    const x = new Float64Array(12).map((_, i) => i / 2);
    writeNpy(join(dir, 'x.npy'), { dtype: 'float64', shape: [4, 3], data: x });
    writeNpy(join(dir, 'y.npy'), { dtype: 'int32', shape: [4, 1], data: new Int32Array([0, 4, 1, 2]) });
    writeNpy(join(dir, 'x_test.npy'), { dtype: 'float32', shape: [2, 3], data: new Float32Array(6) });
    writeNpy(join(dir, 'y_test.npy'), { dtype: 'uint8', shape: [2], data: new Uint8Array([5, 0]) });
    const ds = loadDataset(dir);
    expect([ds.train.count, ds.test.count, ds.classes, ds.shape]).toEqual([4, 2, 6, [3]]);
    expect(Array.from(ds.train.x)).toEqual(Array.from(x));
    const npz = join(tmp, 'set.npz');
    writeNpz(npz, {
      x: { dtype: 'float32', shape: [10, 2], data: new Float32Array(20) },
      y: { dtype: 'int64', shape: [10], data: new BigInt64Array(10).fill(1n) },
    });
    const z = loadDataset(npz);
    expect([z.name, z.train.count, z.test.count, z.classes]).toEqual(['set', 9, 1, 2]);
  });

  it('loads fashion-mnist by name', () => {
    const ds = loadDataset('fashion-mnist', { limits: { train: 10, test: 10 } });
    expect([ds.name, ds.train.count, ds.test.count, ds.classes, ds.shape]).toEqual([
      'fashion-mnist',
      10,
      10,
      10,
      [1, 28, 28],
    ]);
  });

  it('fails clearly on bad folders', () => {
    expect(codeOf(() => loadDataset('no-such-dataset'))).toBe('E_DATA_NOT_FOUND');
    const noY = join(tmp, 'no-y');
    mkdirSync(noY);
    writeNpy(join(noY, 'x.npy'), { dtype: 'float32', shape: [2, 2], data: new Float32Array(4) });
    expect(codeOf(() => loadDataset(noY))).toBe('E_DATA_NOT_FOUND');
    writeNpy(join(noY, 'y.npy'), { dtype: 'int32', shape: [3], data: new Int32Array(3) });
    expect(codeOf(() => loadDataset(noY))).toBe('E_DATA_INVALID'); // 2 samples, 3 labels
    writeNpy(join(noY, 'y.npy'), { dtype: 'float32', shape: [2], data: new Float32Array([0, 0.5]) });
    expect(codeOf(() => loadDataset(noY))).toBe('E_DATA_INVALID'); // not a class index
    writeFileSync(join(noY, 'y.npy'), 'garbage');
    expect(codeOf(() => loadDataset(noY))).toBe('E_DATA_INVALID');
    expect(codeOf(() => loadDataset(join(noY, 'x.npy')))).toBe('E_DATA_INVALID'); // a file, not a folder
  });
});
