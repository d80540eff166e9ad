/**
 * Tabular data in CSV: a header line, one row per sample, a label column (`--label`, default a
 * column named label/class/target/y) and feature columns (numeric, or categorical: one-hot or
 * index). Missing values (empty, NA, NaN, null, ?, ±inf) are imputed from the training rows or
 * their rows dropped (`--missing`), and reported. With `--loss mse` the label column is a float
 * target (regression). A file, or a folder holding train.csv and test.csv; a single file is split
 * by a hash of each row's text (identical rows land in the same split).
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VergeError } from '../../errors.ts';
import { columnIndex, isMissing, parseCsv, parseNumber, type CsvTable } from '../csv-table.ts';
import type { Dataset, Split } from '../dataset.ts';
import { inTestSplit } from '../hash-split.ts';
import { encodeRow, featureWidth, fitColumns, type FeatureColumn, type TabularPreprocessing } from '../tabular.ts';
import {
  HOLDOUT_FRACTION,
  SourceLog,
  unreadable,
  type DataSource,
  type DataTarget,
  type SourceOptions,
} from './source.ts';
import { sourceSummary } from './catalog.ts';

/** Label column names tried, in order, when --label is not given. */
const LABEL_NAMES = ['label', 'class', 'target', 'y'];

export function readCsvFile(path: string, shown = path): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw unreadable(path, e);
  }
  return parseCsv(text, shown);
}

/** The CSV file(s) of a target: one file, or train.csv (+ test.csv) in a folder. */
export function csvFiles(t: DataTarget): { train: string; test?: string } | undefined {
  if (!t.isDir) return t.ext === '.csv' ? { train: t.path! } : undefined;
  if (!t.entries.includes('train.csv')) return undefined;
  return {
    train: join(t.path!, 'train.csv'),
    ...(t.entries.includes('test.csv') ? { test: join(t.path!, 'test.csv') } : {}),
  };
}

/** The label column: --label, the model's, or a conventional name. */
export function labelColumn(t: CsvTable, opts: SourceOptions, fromModel?: string): number {
  if (opts.label !== undefined) return columnIndex(t, opts.label, '--label');
  if (fromModel !== undefined) return columnIndex(t, fromModel, "the model's label column");
  const i = t.header.findIndex((h) => LABEL_NAMES.includes(h.toLowerCase()));
  if (i < 0)
    throw new VergeError('E_BAD_ARGUMENT', `${t.source}: give --label COLUMN (columns: ${t.header.join(', ')})`);
  return i;
}

/** Class names from label values: numeric order when every label is a number, else sorted text. */
export function classNamesOf(values: Iterable<string>): string[] {
  const names = [...new Set(values)];
  const numeric = names.every((v) => parseNumber(v) !== undefined);
  return numeric ? names.sort((a, b) => Number(a) - Number(b)) : names.sort();
}

interface Encoded {
  split: Split;
}

function encodeRows(
  t: CsvTable,
  rows: string[][],
  featureIdx: number[],
  cols: FeatureColumn[],
  labelIdx: number,
  classes: string[] | undefined,
  opts: SourceOptions,
  log: SourceLog,
  lines: Map<string[], number>,
): Encoded {
  const width = featureWidth(cols);
  const x = new Float32Array(rows.length * width);
  const y = new Int32Array(rows.length);
  const targets = classes ? undefined : new Float32Array(rows.length);
  let n = 0;
  rows.forEach((r, i) => {
    const line = `${t.source} line ${lines.get(r) ?? i + 2}`;
    const lv = r[labelIdx]!;
    if (isMissing(lv)) return log.skip('missing label', line);
    if (classes) {
      const c = classes.indexOf(lv);
      if (c < 0) return log.skip("label not one of the model's classes", `${line} (${lv})`);
      y[n] = c;
    } else {
      const v = parseNumber(lv);
      if (v === undefined) return log.skip('target is not a number', `${line} (${lv})`);
      targets![n] = v;
    }
    const issues = encodeRow(r, featureIdx, cols, x, n * width);
    if (issues.missing && opts.missing === 'drop')
      return log.skip('missing or infinite feature values (--missing drop)', line);
    if (issues.missing) log.read('imputed rows');
    if (issues.infinite) log.read('rows with infinite values');
    if (issues.unknownCategory) log.read('unknown category values');
    n++;
  });
  return {
    split: {
      x: x.subarray(0, n * width),
      y: y.subarray(0, n),
      ...(targets ? { targets: targets.subarray(0, n) } : {}),
      count: n,
    },
  };
}

export async function loadCsv(t: DataTarget, opts: SourceOptions): Promise<Dataset> {
  const files = csvFiles(t)!;
  const log = new SourceLog('csv');
  const model = opts.preprocessing;
  if (model && model.kind !== 'tabular')
    throw new VergeError('E_DATA_INVALID', `this model reads ${model.kind} data, not CSV rows`);
  const pre = model as TabularPreprocessing | undefined;
  const train = readCsvFile(files.train, files.test || t.isDir ? files.train : t.spec);
  const lines = new Map<string[], number>();
  train.rows.forEach((r, i) => lines.set(r, i + 2));
  log.read('files');
  const labelIdx = labelColumn(train, opts, pre?.label);
  let trainRows = train.rows;
  let testRows: string[][];
  let test = train;
  if (files.test) {
    test = readCsvFile(files.test);
    test.rows.forEach((r, i) => lines.set(r, i + 2));
    log.read('files');
    if (test.header.join('\u0000') !== train.header.join('\u0000'))
      throw new VergeError('E_DATA_INVALID', `${files.test} has other columns than ${files.train}`);
    testRows = test.rows;
  } else {
    testRows = trainRows.filter((r) => inTestSplit(r.join('\u0000'), HOLDOUT_FRACTION));
    trainRows = trainRows.filter((r) => !inTestSplit(r.join('\u0000'), HOLDOUT_FRACTION));
    log.note(
      `no test.csv: ${testRows.length} rows (by a hash of each row, ~${HOLDOUT_FRACTION * 100}%) are the test split`,
    );
  }
  if (opts.limits?.train !== undefined) trainRows = trainRows.slice(0, opts.limits.train);
  if (opts.limits?.test !== undefined) testRows = testRows.slice(0, opts.limits.test);
  for (const d of opts.dropColumns ?? []) columnIndex(train, d, '--drop-columns');
  const featureIdx = pre
    ? pre.features.map((f) => columnIndex(train, f.name, 'a feature column the model was trained with'))
    : train.header
        .map((_, i) => i)
        .filter((i) => i !== labelIdx && !(opts.dropColumns ?? []).includes(train.header[i]!));
  if (featureIdx.length === 0)
    throw new VergeError('E_DATA_INVALID', `${t.spec}: no feature columns besides the label`);
  const cols = pre?.features ?? fitColumns(train.header, trainRows, featureIdx, opts.categorical ?? 'onehot', t.spec);
  const regression = opts.regression === true;
  const classes = regression
    ? undefined
    : (opts.classNames ?? classNamesOf(trainRows.map((r) => r[labelIdx]!).filter((v) => !isMissing(v))));
  const tr = encodeRows(train, trainRows, featureIdx, cols, labelIdx, classes, opts, log, lines).split;
  const te = encodeRows(test, testRows, featureIdx, cols, labelIdx, classes, opts, log, lines).split;
  if (tr.count === 0) throw new VergeError('E_DATA_INVALID', `${t.spec}: no usable training rows`);
  log.read('samples', tr.count + te.count);
  const numeric = cols.filter((c) => c.kind === 'numeric').length;
  log.note(
    `${cols.length} feature columns (${numeric} numeric, ${cols.length - numeric} categorical) → ${featureWidth(cols)} inputs; label '${train.header[labelIdx]}'${regression ? ' as a float target' : ''}`,
  );
  const preprocessing: TabularPreprocessing = {
    kind: 'tabular',
    features: cols,
    label: train.header[labelIdx]!,
    missing: opts.missing ?? 'impute',
  };
  return {
    name: basename(t.path!).replace(/\.csv$/i, ''),
    source: t.path!,
    shape: [featureWidth(cols)],
    classes: classes?.length ?? 0,
    ...(classes ? { classNames: classes } : { targetShape: [1] }),
    train: tr,
    test: te,
    preprocessing,
    report: log.report(),
  };
}

export const csv: DataSource = {
  name: 'csv',
  summary: sourceSummary('csv'),
  options: ['label', 'missing', 'categorical', 'dropColumns'],
  claims: (t) => csvFiles(t) !== undefined,
  load: loadCsv,
};
