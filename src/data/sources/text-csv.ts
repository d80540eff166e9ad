/**
 * Text classification data in CSV: a text column (--text-column, default 'text') and a label
 * column (--label, default label/class/target/y); a file or a folder with train.csv + test.csv,
 * a single file split by a hash of each row. Tokenized like text folders (text-dataset.ts).
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { basename } from 'node:path';
import { VergeError } from '../../errors.ts';
import { columnIndex, isMissing, type CsvTable } from '../csv-table.ts';
import type { Dataset } from '../dataset.ts';
import { inTestSplit } from '../hash-split.ts';
import { tokenizeTexts, type LabelledTexts } from '../text-dataset.ts';
import { classNamesOf, csvFiles, labelColumn, readCsvFile } from './csv.ts';
import { HOLDOUT_FRACTION, SourceLog, type DataSource, type DataTarget, type SourceOptions } from './source.ts';
import { sourceSummary } from './catalog.ts';

const DEFAULT_TEXT_COLUMN = 'text';

/** The header line of a CSV file (claims must stay cheap: read 64 KiB at most). */
function headerOf(path: string): string[] {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const line =
      buf
        .subarray(0, n)
        .toString('utf8')
        .replace(/^\uFEFF/, '')
        .split(/\r?\n/)[0] ?? '';
    return line.split(/[,;\t]/).map((h) => h.trim().replace(/^"|"$/g, ''));
  } catch {
    return [];
  } finally {
    closeSync(fd);
  }
}

function claims(t: DataTarget, opts: SourceOptions): boolean {
  const files = csvFiles(t);
  if (!files) return false;
  if (opts.textColumn !== undefined || opts.preprocessing?.kind === 'text') return true;
  return headerOf(files.train).includes(DEFAULT_TEXT_COLUMN);
}

function labelled(
  t: CsvTable,
  rows: string[][],
  ti: number,
  li: number,
  classes: string[],
  log: SourceLog,
): LabelledTexts {
  const texts: string[] = [];
  const labels: number[] = [];
  for (const r of rows) {
    const text = r[ti]!;
    const label = r[li]!;
    if (isMissing(label)) {
      log.skip('missing label', `${t.source}: ${text.slice(0, 30)}`);
      continue;
    }
    const c = classes.indexOf(label);
    if (c < 0) {
      log.skip("label not one of the model's classes", label);
      continue;
    }
    if (text.trim() === '') {
      log.skip('empty text', `${t.source} (label ${label})`);
      continue;
    }
    texts.push(text);
    labels.push(c);
  }
  return { texts, labels: Int32Array.from(labels) };
}

export async function loadTextCsv(t: DataTarget, opts: SourceOptions): Promise<Dataset> {
  const log = new SourceLog('text-csv');
  const files = csvFiles(t)!;
  const train = readCsvFile(files.train, files.test || t.isDir ? files.train : t.spec);
  log.read('files');
  const ti = columnIndex(train, opts.textColumn ?? DEFAULT_TEXT_COLUMN, '--text-column');
  const li = labelColumn(train, opts);
  let trainRows = train.rows;
  let testRows: string[][];
  let testTable = train;
  if (files.test) {
    testTable = readCsvFile(files.test);
    log.read('files');
    columnIndex(testTable, train.header[ti]!, '--text-column');
    const tli = columnIndex(testTable, train.header[li]!, '--label');
    const tti = testTable.header.indexOf(train.header[ti]!);
    testRows = testTable.rows.map((r) => {
      const out = [...r];
      out[ti] = r[tti]!;
      out[li] = r[tli]!;
      return out;
    });
  } else {
    const key = (r: string[]) => r[ti]!;
    testRows = trainRows.filter((r) => inTestSplit(key(r), HOLDOUT_FRACTION));
    trainRows = trainRows.filter((r) => !inTestSplit(key(r), HOLDOUT_FRACTION));
    log.note(
      `no test.csv: ${testRows.length} rows (by a hash of their text, ~${HOLDOUT_FRACTION * 100}%) are the test split`,
    );
  }
  if (opts.limits?.train !== undefined) trainRows = trainRows.slice(0, opts.limits.train);
  if (opts.limits?.test !== undefined) testRows = testRows.slice(0, opts.limits.test);
  const classes = opts.classNames ?? classNamesOf(trainRows.map((r) => r[li]!).filter((v) => !isMissing(v)));
  const tr = labelled(train, trainRows, ti, li, classes, log);
  const te = labelled(testTable, testRows, ti, li, classes, log);
  if (tr.texts.length === 0)
    throw new VergeError('E_DATA_INVALID', `${t.spec}: no training rows with text and a label`);
  const tok = tokenizeTexts(tr, te, opts, log);
  log.read('samples', tok.train.count + tok.test.count);
  return {
    name: basename(t.path!).replace(/\.csv$/i, ''),
    source: t.path!,
    shape: [tok.preprocessing.length],
    inputDtype: 'int64',
    vocabSize: tok.preprocessing.tokenizer.vocab.length,
    classes: classes.length,
    classNames: classes,
    train: tok.train,
    test: tok.test,
    preprocessing: tok.preprocessing,
    report: log.report(),
  };
}

export const textCsv: DataSource = {
  name: 'text-csv',
  summary: sourceSummary('text-csv'),
  options: ['textColumn', 'label', 'tokenizer', 'vocabSize', 'maxLength'],
  claims,
  load: loadTextCsv,
};
