import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../load-dataset.ts';
import type { TextPreprocessing } from '../preprocessing.ts';
import { textEncoder } from '../text-dataset.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-text-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const REVIEWS = {
  pos: ['a great film, great acting', 'loved it, a great story', 'wonderful and moving', 'great fun, loved the cast'],
  neg: ['a dull film, bad acting', 'hated it; boring story', 'awful and slow', 'bad, bad, bad'],
};

describe('text-folder', () => {
  const root = join(tmp, 'reviews');
  for (const [c, texts] of Object.entries(REVIEWS)) {
    mkdirSync(join(root, c), { recursive: true });
    texts.forEach((t, i) => writeFileSync(join(root, c, `${i}.txt`), t));
  }
  writeFileSync(join(root, 'neg', 'blank.txt'), '  \n');
  writeFileSync(join(root, 'pos', 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9])); // 'café' in Latin-1

  it('tokenizes class folders into int64-ready ids, skipping empty and non-UTF-8 files', async () => {
    const ds = await loadDataset(root, { tokenizer: 'word', maxLength: 6 });
    expect(ds.report?.format).toBe('text-folder');
    expect([ds.shape, ds.inputDtype, ds.classNames]).toEqual([[6], 'int64', ['neg', 'pos']]);
    expect(ds.train.count + ds.test.count).toBe(8);
    expect(ds.report!.skipped.map((s) => [s.reason, s.examples])).toEqual([
      ['empty text', ['neg/blank.txt']],
      ['unreadable or not UTF-8', ['pos/latin1.txt']],
    ]);
    const p = ds.preprocessing as TextPreprocessing;
    expect(ds.vocabSize).toBe(p.tokenizer.vocab.length);
    const ids = Array.from(textEncoder(p)('Great, GREAT acting!'), Number);
    const great = p.tokenizer.vocab.indexOf('great');
    expect(ids.slice(0, 3)).toEqual([0, 0, 0]); // padded at the start
    expect(ids.slice(3)).toEqual([great, great, p.tokenizer.vocab.indexOf('acting')]);
  });

  it('reads a test set with the training tokenizer and rejects an empty class', async () => {
    const trained = await loadDataset(root, { tokenizer: 'char' });
    const p = trained.preprocessing as TextPreprocessing;
    const again = await loadDataset(root, { preprocessing: p, classNames: trained.classNames! });
    expect(again.shape).toEqual(trained.shape);
    expect(Array.from(again.train.x)).toEqual(Array.from(trained.train.x));
    mkdirSync(join(root, 'meh'));
    await expect(loadDataset(root)).rejects.toMatchObject({
      code: 'E_DATA_INVALID',
      message: 'class folder meh holds no .txt files (train); remove it or add samples',
    });
  });
});
