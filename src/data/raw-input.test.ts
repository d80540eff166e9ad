import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDataFiles, type DataFiles } from '../../test/fixtures/data-files.ts';
import type { Dataset, Split } from './dataset.ts';
import { loadDataset } from './load-dataset.ts';
import type { DataInfo } from './preprocessing.ts';
import { csvInput, imageInput, predictionsOf, seriesInput, tabularInput, textInput } from './raw-input.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-raw-'));
let files: DataFiles;
beforeAll(async () => {
  files = await writeDataFiles(tmp);
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const infoOf = (ds: Dataset): DataInfo => ({
  ...(ds.preprocessing ? { preprocessing: ds.preprocessing } : {}),
  ...(ds.classNames ? { classNames: ds.classNames } : {}),
});

/** Index of the sample of `split` equal to `x` (−1 when none is). */
function sampleIndex(split: Split, x: ArrayLike<number | bigint>): number {
  const per = split.x.length / split.count;
  for (let i = 0; i < split.count; i++) {
    let same = true;
    for (let k = 0; k < per && same; k++) same = split.x[i * per + k] === Number(x[k]!);
    if (same) return i;
  }
  return -1;
}

describe('raw inputs are prepared exactly as the training data was', () => {
  it('a JPEG file and PNG bytes decode to the samples the image-folder source made of them', async () => {
    const ds = await loadDataset(files.jpegFolder);
    const decl = { name: 'input', dtype: 'float32', shape: ['N', 3, 10, 10] };
    for (const c of ['red', 'blue']) {
      const dir = join(files.jpegFolder, 'test', c);
      for (const f of readdirSync(dir)) {
        const v = await imageInput(infoOf(ds), decl, join(dir, f), f);
        expect(v.dims).toEqual([1, 3, 10, 10]);
        const i = sampleIndex(ds.test, v.data as Float32Array);
        expect(i, f).toBeGreaterThanOrEqual(0);
        expect(ds.classNames![ds.test.y[i]!]).toBe(c);
      }
    }
    const png = await loadDataset(files.pngFolder);
    const bytes = readFileSync(join(files.pngFolder, 'light', 'light-3.png'));
    const v = await imageInput(infoOf(png), { name: 'input' }, bytes, 'light-3.png');
    expect(v.dims).toEqual([1, 1, 12, 12]);
    expect(
      Math.max(sampleIndex(png.train, v.data as Float32Array), sampleIndex(png.test, v.data as Float32Array)),
    ).toBeGreaterThanOrEqual(0);
  });

  it('image settings come from a model input [N, C, H, W] when the model carries none', async () => {
    const bytes = readFileSync(join(files.pngFolder, 'dark', 'dark-0.png'));
    const v = await imageInput(undefined, { name: 'x', dtype: 'float32', shape: ['N', 3, 4, 5] }, bytes, 'dark-0.png');
    expect(v.dims).toEqual([1, 3, 4, 5]);
  });

  it('CSV rows encode like the test split: imputed values, one-hot categories, the label ignored', async () => {
    const ds = await loadDataset(files.tableFolder, { dropColumns: ['id'] });
    const text = readFileSync(join(files.tableFolder, 'test.csv'), 'utf8');
    const v = tabularInput(infoOf(ds), text, 'test.csv');
    expect(v.dims).toEqual([ds.test.count, ds.shape[0]]);
    expect(Array.from(v.data as Float32Array)).toEqual(Array.from(ds.test.x));
    // columns in another order and without the label or id still encode the same
    const lines = text
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const reordered = lines.map((r) => [r[3], r[1], r[2]].join(',')).join('\n');
    expect(Array.from(csvInput(infoOf(ds), reordered, 'reordered.csv').data as Float32Array)).toEqual(
      Array.from(ds.test.x),
    );
  });

  it('sensor rows become the windows the series source made, missing values carried forward', async () => {
    const ds = await loadDataset(files.sensorCsv, { window: 20, stride: 10, label: 'activity' });
    const v = seriesInput(infoOf(ds), readFileSync(files.sensorCsv, 'utf8'), 'sensor.csv');
    expect(v.dims.slice(1)).toEqual([20, 2]);
    const per = 40;
    expect(Array.from((v.data as Float32Array).subarray(0, 10 * per))).toEqual(
      Array.from(ds.train.x.subarray(0, 10 * per)),
    );
    expect(csvInput(infoOf(ds), readFileSync(files.sensorCsv, 'utf8'), 's.csv').dims).toEqual(v.dims);
  });

  it('texts tokenize to the ids of the test split, as int64', async () => {
    const ds = await loadDataset(files.textFolder);
    const dir = join(files.textFolder, 'test', 'food');
    const texts = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8'));
    const v = textInput(infoOf(ds), texts);
    expect([v.dtype, v.dims]).toEqual(['int64', [texts.length, ds.shape[0]]]);
    const per = ds.shape[0]!;
    texts.forEach((_, i) => {
      const k = sampleIndex(ds.test, (v.data as BigInt64Array).subarray(i * per, (i + 1) * per));
      expect(k).toBeGreaterThanOrEqual(0);
      expect(ds.classNames![ds.test.y[k]!]).toBe('food');
    });
  });

  it('predictions name the top classes of each row, or give a regression value', () => {
    const p = predictionsOf(
      { dims: [2, 3], data: new Float32Array([0, 2, 1, 5, 0, 0]) },
      { classNames: ['a', 'b', 'c'] },
    );
    expect(p.map((q) => [q.class, q.label])).toEqual([
      [1, 'b'],
      [0, 'a'],
    ]);
    expect(p[0]!.top!.map((c) => c.label)).toEqual(['b', 'c', 'a']);
    expect(p[0]!.top!.reduce((s, c) => s + c.probability, 0)).toBeCloseTo(1, 6);
    expect(predictionsOf({ dims: [2, 1], data: new Float32Array([0.5, 2]) }, { targetShape: [1] })).toEqual([
      { value: [0.5] },
      { value: [2] },
    ]);
  });
});

describe('bad raw inputs end with one clear line', () => {
  const code = async (f: () => unknown): Promise<string> => {
    try {
      await f();
    } catch (e) {
      const err = e as { code?: string; message: string };
      expect(err.message).not.toContain('\n');
      return `${err.code}: ${err.message}`;
    }
    return 'no error';
  };

  it('a corrupt image, and an image for a text model', async () => {
    const ds = await loadDataset(files.pngFolder);
    expect(
      await code(() => imageInput(infoOf(ds), { name: 'input' }, new TextEncoder().encode('not an image'), 'x.png')),
    ).toMatch(/^E_DATA_INVALID: x.png is not a readable PNG\/JPEG\/WebP image/);
    const text = await loadDataset(files.textFolder);
    expect(await code(() => imageInput(infoOf(text), { name: 'input' }, new Uint8Array(4), 'x.png'))).toBe(
      'E_BAD_ARGUMENT: this model was trained on text data, not images',
    );
    expect(
      await code(() =>
        imageInput(undefined, { name: 'ids', dtype: 'int64', shape: ['N', 8] }, new Uint8Array(4), 'x.png'),
      ),
    ).toMatch(/^E_BAD_ARGUMENT: input 'ids' does not take images/);
  });

  it('a ragged CSV, a missing feature column, an unknown category, a header without rows', async () => {
    const info = infoOf(await loadDataset(files.tableFolder, { dropColumns: ['id'] }));
    expect(await code(() => tabularInput(info, 'size,colour,weight\n1,red\n', 'rows.csv'))).toBe(
      'E_DATA_INVALID: rows.csv line 2: 2 fields, but the header has 3 (a ragged CSV row)',
    );
    expect(await code(() => tabularInput(info, 'size,weight\n1,2\n', 'rows.csv'))).toMatch(
      /^E_DATA_INVALID: rows.csv has no column 'colour' \(a feature the model was trained with\); its columns: size, weight/,
    );
    expect(await code(() => tabularInput(info, 'size,colour,weight\n1,purple,2\n', 'rows.csv'))).toBe(
      "E_DATA_INVALID: rows.csv line 2: 'purple' is not a category of 'colour' the model knows (blue, green, red)",
    );
    expect(await code(() => tabularInput(info, 'size,colour,weight\nbig,red,2\n', 'rows.csv'))).toBe(
      "E_DATA_INVALID: rows.csv line 2: 'big' in numeric column 'size' is not a number",
    );
    expect(await code(() => tabularInput(info, 'size,colour,weight\n', 'rows.csv'))).toBe(
      'E_DATA_INVALID: rows.csv has a header but no rows',
    );
    expect(await code(() => textInput(info, ['hello']))).toBe(
      'E_BAD_ARGUMENT: this model was trained on tabular data, not text',
    );
  });

  it('a series shorter than one window, a text channel, no text', async () => {
    const info = infoOf(await loadDataset(files.sensorCsv, { window: 20, stride: 10, label: 'activity' }));
    expect(await code(() => seriesInput(info, 'time,ax,ay\n0,1,2\n', 's.csv'))).toBe(
      'E_DATA_INVALID: s.csv has 1 rows; the model reads windows of 20 rows',
    );
    const rows = ['time,ax,ay', ...Array.from({ length: 20 }, (_, t) => `${t},${t === 5 ? 'fast' : 1},2`)].join('\n');
    expect(await code(() => seriesInput(info, rows, 's.csv'))).toBe(
      "E_DATA_INVALID: s.csv line 7: channel 'ax' holds 'fast', not a number",
    );
    const text = infoOf(await loadDataset(files.textFolder));
    expect(await code(() => textInput(text, []))).toBe('E_BAD_ARGUMENT: no text given');
  });
});
