import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../load-dataset.ts';
import type { TextPreprocessing } from '../preprocessing.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-textcsv-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('text-csv', () => {
  const file = join(tmp, 'tickets.csv');
  const rows = Array.from({ length: 40 }, (_, i) =>
    i % 2 ? `"printer jam on floor ${i}, paper stuck",hardware` : `"password reset for user ${i}",account`,
  );
  writeFileSync(file, ['text,team', ...rows, '"no team given",', ''].join('\n'));

  it("claims a CSV with a 'text' column, learns BPE subwords, and reports rows without a label", async () => {
    const ds = await loadDataset(file, { label: 'team', tokenizer: 'bpe', vocabSize: 60 });
    expect(ds.report?.format).toBe('text-csv');
    expect([ds.classNames, ds.inputDtype, ds.train.count + ds.test.count]).toEqual([
      ['account', 'hardware'],
      'int64',
      40,
    ]);
    expect(ds.report!.skipped).toEqual([{ reason: 'missing label', count: 1, examples: [`${file}: no team given`] }]);
    expect((ds.preprocessing as TextPreprocessing).tokenizer.kind).toBe('bpe');
    expect(ds.vocabSize).toBeLessThanOrEqual(60);
  });

  it('needs --text-column when the text column has another name, and names it when it is missing', async () => {
    const other = join(tmp, 'other.csv');
    writeFileSync(other, 'body,label\nhello there,a\ngood bye,b\n');
    const tab = await loadDataset(other); // no 'text' column: read as a table
    expect(tab.report?.format).toBe('csv');
    const txt = await loadDataset(other, { textColumn: 'body' });
    expect(txt.report?.format).toBe('text-csv');
    await expect(loadDataset(other, { textColumn: 'content' })).rejects.toMatchObject({
      message: `${other} has no column 'content' (--text-column); its columns: body, label`,
    });
  });
});
