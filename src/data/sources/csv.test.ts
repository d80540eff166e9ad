import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../load-dataset.ts';
import type { TabularPreprocessing } from '../tabular.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-csv-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 60 rows: age (numeric, some missing), colour (categorical, one missing), score (float), species label. */
function penguins(): string {
  const lines = ['id,age,colour,score,species'];
  const colours = ['red', 'green', 'blue'];
  for (let i = 0; i < 60; i++) {
    const age = i % 13 === 5 ? 'NA' : String(20 + (i % 7));
    const colour = i === 7 ? '' : colours[i % 3];
    lines.push(`p${i},${age},${colour},${(i * 0.5).toFixed(1)},${['adelie', 'gentoo'][i % 2]}`);
  }
  return lines.join('\n') + '\n';
}

describe('csv', () => {
  const file = join(tmp, 'penguins.csv');
  writeFileSync(file, penguins());

  it('one-hot encodes categories, imputes missing values from training rows, and reports them', async () => {
    const ds = await loadDataset(file, { label: 'species', dropColumns: ['id'] });
    expect(ds.report?.format).toBe('csv');
    expect([ds.shape, ds.classes, ds.classNames]).toEqual([[5], 2, ['adelie', 'gentoo']]);
    expect(ds.train.count + ds.test.count).toBe(60);
    expect(ds.test.count).toBeGreaterThan(0);
    const p = ds.preprocessing as TabularPreprocessing;
    expect(p.features.map((f) => [f.name, f.kind])).toEqual([
      ['age', 'numeric'],
      ['colour', 'categorical'],
      ['score', 'numeric'],
    ]);
    expect(p.features[1]).toMatchObject({ categories: ['blue', 'green', 'red'] });
    // 5 rows with NA age + 1 with an empty colour were imputed
    expect(ds.report!.read['imputed rows']).toBe(6);
    // row 0 (p0) is 20, red, 0.0, adelie — wherever the hash split put it
    const rows = [ds.train, ds.test].flatMap((s) =>
      Array.from({ length: s.count }, (_, i) => [...s.x.subarray(i * 5, i * 5 + 5), s.y[i]!]),
    );
    expect(rows).toContainEqual([20, 0, 0, 1, 0, 0]);
  });

  it('drops rows with missing values on request, uses index encoding, and reads a float target', async () => {
    const dropped = await loadDataset(file, {
      label: 'species',
      dropColumns: ['id'],
      missing: 'drop',
      categorical: 'index',
    });
    expect(dropped.shape).toEqual([3]);
    expect(dropped.train.count + dropped.test.count).toBe(54);
    expect(dropped.report!.skipped).toContainEqual(
      expect.objectContaining({ reason: 'missing or infinite feature values (--missing drop)', count: 6 }),
    );
    const reg = await loadDataset(file, { label: 'score', dropColumns: ['id', 'species'], regression: true });
    expect([reg.classes, reg.targetShape]).toEqual([0, [1]]);
    expect(reg.train.targets?.length).toBe(reg.train.count);
  });

  it('reads train.csv + test.csv folders and encodes test rows with the training encoders', async () => {
    const dir = join(tmp, 'split');
    mkdirSync(dir);
    writeFileSync(join(dir, 'train.csv'), 'x,kind,label\n1,a,yes\n2,b,no\n3,a,yes\n');
    writeFileSync(join(dir, 'test.csv'), 'x,kind,label\n4,c,no\n');
    const ds = await loadDataset(dir);
    expect([ds.train.count, ds.test.count, ds.shape]).toEqual([3, 1, [3]]);
    expect(Array.from(ds.test.x)).toEqual([4, 0, 0]); // unknown category 'c' → all zeros, reported
    expect(ds.report!.read['unknown category values']).toBe(1);
  });

  it('rejects a ragged row, an unknown column and an id-like text column with one clear line', async () => {
    const ragged = join(tmp, 'ragged.csv');
    writeFileSync(ragged, 'a,b,label\n1,2,x\n3,4\n');
    await expect(loadDataset(ragged)).rejects.toMatchObject({
      code: 'E_DATA_INVALID',
      message: `${ragged} line 3: 2 fields, but the header has 3 (a ragged CSV row)`,
    });
    await expect(loadDataset(file, { label: 'speces' })).rejects.toMatchObject({
      code: 'E_DATA_INVALID',
      message: `${file} has no column 'speces' (--label); its columns: id, age, colour, score, species`,
    });
    await expect(loadDataset(file, { label: 'species', dropColumns: ['nope'] })).rejects.toMatchObject({
      code: 'E_DATA_INVALID',
    });
    const ids = join(tmp, 'ids.csv');
    writeFileSync(ids, 'name,label\n' + Array.from({ length: 1100 }, (_, i) => `n${i},${i % 2}`).join('\n'));
    await expect(loadDataset(ids)).rejects.toMatchObject({ message: expect.stringMatching(/--drop-columns name/) });
  });
});
