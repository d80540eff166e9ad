import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../load-dataset.ts';
import { writeNpz } from '../npz.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-npz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npz', () => {
  it('reads x and y from an archive and names the dataset after the file', async () => {
    const npz = join(tmp, 'set.npz');
    writeNpz(npz, {
      x: { dtype: 'float32', shape: [10, 2], data: new Float32Array(20) },
      y: { dtype: 'int64', shape: [10], data: new BigInt64Array(10).fill(1n) },
    });
    const z = await loadDataset(npz);
    expect([z.name, z.train.count, z.test.count, z.classes]).toEqual(['set', 9, 1, 2]);
    expect(z.report).toMatchObject({ format: 'npz', read: { files: 1, samples: 10 } });
  });

  it('names the missing array', async () => {
    const npz = join(tmp, 'only-x.npz');
    writeNpz(npz, { x: { dtype: 'float32', shape: [2, 2], data: new Float32Array(4) } });
    await expect(loadDataset(npz)).rejects.toMatchObject({
      code: 'E_DATA_NOT_FOUND',
      message: expect.stringMatching(/no array 'y' \(it holds x\)/),
    });
  });
});
