/**
 * Sensor time series in CSV: rows are time steps (ordered by a time column when there is one),
 * numeric columns are channels, a label column gives each row's class (or value with --loss mse).
 * Sliding windows of `--window N` rows every `--stride S` rows become samples [time, features]
 * for GRU/LSTM/1-D conv models; a window's label is its most frequent row label (a regression
 * target: the value at its last row). A file, or a folder of recordings (*.csv, optionally under
 * train/ and test/); windows never cross recordings. One recording: its last tenth of rows is the
 * test split (windows crossing the boundary are dropped); several: split by a hash of the file name.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VergeError } from '../../errors.ts';
import { columnIndex, isMissing, parseNumber, type CsvTable } from '../csv-table.ts';
import { take, type Dataset, type Split } from '../dataset.ts';
import type { SeriesPreprocessing } from '../preprocessing.ts';
import { inTestSplit } from '../hash-split.ts';
import { classNamesOf, labelColumn, readCsvFile } from './csv.ts';
import {
  HOLDOUT_FRACTION,
  SourceLog,
  unreadable,
  type DataSource,
  type DataTarget,
  type SourceOptions,
} from './source.ts';
import { sourceSummary } from './catalog.ts';

/** Longest window accepted (rows). */
export const MAX_WINDOW = 100_000;
/** Time column names tried, in order, when --time-column is not given. */
const TIME_NAMES = ['time', 'timestamp', 't', 'date', 'datetime', 'ts'];

/** One recording as columns of numbers, in time order. */
interface Recording {
  name: string;
  /** [rows][features], missing values filled. */
  values: Float32Array;
  rows: number;
  labels: string[];
}

function recordingFiles(t: DataTarget): { train: string[]; test: string[] | undefined } {
  if (!t.isDir) return { train: [t.path!], test: undefined };
  const csvIn = (dir: string): string[] => {
    try {
      return readdirSync(dir)
        .filter((f) => f.toLowerCase().endsWith('.csv'))
        .sort()
        .map((f) => join(dir, f));
    } catch (e) {
      throw unreadable(dir, e, 'listed');
    }
  };
  if (t.entries.includes('train')) {
    return {
      train: csvIn(join(t.path!, 'train')),
      test: t.entries.includes('test') ? csvIn(join(t.path!, 'test')) : [],
    };
  }
  return { train: csvIn(t.path!), test: undefined };
}

/** Sort rows by the time column (numbers or dates), noting when the file was not in order. */
function timeOrder(t: CsvTable, ti: number, log: SourceLog): string[][] {
  const key = (v: string): number => parseNumber(v) ?? Date.parse(v);
  const keys = t.rows.map((r) => key(r[ti]!));
  const bad = keys.findIndex((k) => Number.isNaN(k));
  if (bad >= 0)
    throw new VergeError(
      'E_DATA_INVALID',
      `${t.source} line ${bad + 2}: time '${t.rows[bad]![ti]}' is neither a number nor a date`,
    );
  const sorted = keys.every((k, i) => i === 0 || k >= keys[i - 1]!);
  if (sorted) return t.rows;
  log.note(`${basename(t.source)}: rows were not in time order; sorted by '${t.header[ti]}'`);
  return t.rows
    .map((r, i) => [r, keys[i]!] as const)
    .sort((a, b) => a[1] - b[1])
    .map(([r]) => r);
}

function readRecording(
  path: string,
  opts: SourceOptions,
  log: SourceLog,
  pre?: SeriesPreprocessing,
): { rec: Recording; header: { features: string[]; label: string; time?: string } } {
  const t = readCsvFile(path);
  log.read('files');
  const li = labelColumn(t, opts, pre?.label);
  const timeName = opts.timeColumn ?? pre?.time ?? t.header.find((h) => TIME_NAMES.includes(h.toLowerCase()));
  const ti = timeName !== undefined ? columnIndex(t, timeName, '--time-column') : -1;
  for (const d of opts.dropColumns ?? []) columnIndex(t, d, '--drop-columns');
  const names =
    pre?.features ?? t.header.filter((h, i) => i !== li && i !== ti && !(opts.dropColumns ?? []).includes(h));
  const fi = names.map((n) => columnIndex(t, n, 'a channel the model was trained with'));
  if (fi.length === 0) throw new VergeError('E_DATA_INVALID', `${path}: no channel columns besides the label and time`);
  const rows = ti >= 0 ? timeOrder(t, ti, log) : t.rows;
  const f = fi.length;
  const values = new Float32Array(rows.length * f);
  const last = new Array<number | undefined>(f).fill(undefined);
  const pending: number[][] = Array.from({ length: f }, () => []);
  rows.forEach((r, i) => {
    fi.forEach((c, k) => {
      const v = r[c]!;
      const x = isMissing(v) ? undefined : parseNumber(v);
      if (x === undefined && !isMissing(v) && !/^[-+]?inf(inity)?$/i.test(v))
        throw new VergeError(
          'E_DATA_INVALID',
          `${path} line ${i + 2}: channel '${t.header[c]}' holds '${v}', not a number (--drop-columns ${t.header[c]} to leave it out)`,
        );
      if (x === undefined) {
        log.read('filled values');
        if (last[k] === undefined) pending[k]!.push(i); // leading gap: back-filled below
        values[i * f + k] = last[k] ?? 0;
        return;
      }
      if (last[k] === undefined) for (const j of pending[k]!) values[j * f + k] = x;
      last[k] = x;
      values[i * f + k] = x;
    });
  });
  return {
    rec: { name: path, values, rows: rows.length, labels: rows.map((r) => r[li]!) },
    header: { features: names, label: t.header[li]!, ...(ti >= 0 ? { time: t.header[ti]! } : {}) },
  };
}

/** Window starts over rows [from, to). */
function starts(from: number, to: number, window: number, stride: number): number[] {
  const out: number[] = [];
  for (let s = from; s + window <= to; s += stride) out.push(s);
  return out;
}

function windowsOf(
  recs: { rec: Recording; from: number; to: number }[],
  p: SeriesPreprocessing,
  classes: string[] | undefined,
  log: SourceLog,
): Split {
  const f = p.features.length;
  const per = p.window * f;
  const all = recs.flatMap(({ rec, from, to }) => starts(from, to, p.window, p.stride).map((s) => [rec, s] as const));
  const x = new Float32Array(all.length * per);
  const y = new Int32Array(all.length);
  const targets = classes ? undefined : new Float32Array(all.length);
  let n = 0;
  for (const [rec, s] of all) {
    const where = `${basename(rec.name)} rows ${s + 2}-${s + p.window + 1}`;
    if (classes) {
      const votes = new Map<string, number>();
      for (let r = s; r < s + p.window; r++)
        if (!isMissing(rec.labels[r]!)) votes.set(rec.labels[r]!, (votes.get(rec.labels[r]!) ?? 0) + 1);
      let best: string | undefined;
      for (const [k, v] of votes) if (best === undefined || v > votes.get(best)!) best = k;
      if (best === undefined) {
        log.skip('window without labels', where);
        continue;
      }
      const c = classes.indexOf(best);
      if (c < 0) {
        log.skip("label not one of the model's classes", `${where} (${best})`);
        continue;
      }
      y[n] = c;
    } else {
      const v = parseNumber(rec.labels[s + p.window - 1]!);
      if (v === undefined) {
        log.skip('target is not a number', where);
        continue;
      }
      targets![n] = v;
    }
    x.set(rec.values.subarray(s * f, (s + p.window) * f), n * per);
    n++;
  }
  return {
    x: x.subarray(0, n * per),
    y: y.subarray(0, n),
    ...(targets ? { targets: targets.subarray(0, n) } : {}),
    count: n,
  };
}

export async function loadSeries(t: DataTarget, opts: SourceOptions): Promise<Dataset> {
  const pre = opts.preprocessing?.kind === 'series' ? (opts.preprocessing as SeriesPreprocessing) : undefined;
  if (opts.preprocessing && !pre)
    throw new VergeError('E_DATA_INVALID', `this model reads ${opts.preprocessing.kind} data, not sensor series`);
  const window = pre?.window ?? opts.window!;
  const stride = pre?.stride ?? opts.stride ?? Math.max(1, Math.floor(window / 2));
  if (!(Number.isInteger(window) && window >= 1 && window <= MAX_WINDOW))
    throw new VergeError('E_BAD_ARGUMENT', `--window must be a whole number of rows in 1..${MAX_WINDOW}`);
  const log = new SourceLog('series');
  const files = recordingFiles(t);
  if (files.train.length === 0) throw new VergeError('E_DATA_NOT_FOUND', `${t.spec} holds no .csv recordings`);
  const read = (p: string) => readRecording(p, opts, log, pre);
  const first = read(files.train[0]!);
  const p: SeriesPreprocessing = { kind: 'series', ...first.header, window, stride };
  const recs = [first.rec, ...files.train.slice(1).map((f) => read(f).rec)];
  const testRecs = files.test?.map((f) => read(f).rec);
  let trainParts: { rec: Recording; from: number; to: number }[];
  let testParts: { rec: Recording; from: number; to: number }[];
  if (testRecs) {
    trainParts = recs.map((rec) => ({ rec, from: 0, to: rec.rows }));
    testParts = testRecs.map((rec) => ({ rec, from: 0, to: rec.rows }));
  } else if (recs.length === 1) {
    const rec = recs[0]!;
    const cut = rec.rows - Math.max(window, Math.floor(rec.rows * HOLDOUT_FRACTION));
    trainParts = [{ rec, from: 0, to: cut }];
    testParts = [{ rec, from: cut, to: rec.rows }];
    log.note(
      `one recording: rows ${cut + 2}-${rec.rows + 1} (the last ${rec.rows - cut}) are the test split; windows crossing row ${cut + 2} are dropped`,
    );
  } else {
    const isTest = (r: Recording) => inTestSplit(basename(r.name), HOLDOUT_FRACTION);
    trainParts = recs.filter((r) => !isTest(r)).map((rec) => ({ rec, from: 0, to: rec.rows }));
    testParts = recs.filter(isTest).map((rec) => ({ rec, from: 0, to: rec.rows }));
    log.note(`${testParts.length} of ${recs.length} recordings (by a hash of the file name) are the test split`);
  }
  const regression = opts.regression === true;
  const classes = regression
    ? undefined
    : (opts.classNames ?? classNamesOf(trainParts.flatMap(({ rec }) => rec.labels).filter((v) => !isMissing(v))));
  let train = windowsOf(trainParts, p, classes, log);
  let test = windowsOf(testParts, p, classes, log);
  if (opts.limits?.train !== undefined) train = take(train, opts.limits.train);
  if (opts.limits?.test !== undefined) test = take(test, opts.limits.test);
  if (train.count === 0)
    throw new VergeError('E_DATA_INVALID', `${t.spec}: no training window of ${window} rows (recordings are shorter?)`);
  log.read('windows', train.count + test.count);
  log.note(
    `windows of ${window} rows every ${stride} rows over ${p.features.length} channels (${p.features.join(', ')})${opts.stride === undefined && !pre ? '; --stride to change' : ''}`,
  );
  return {
    name: basename(t.path!).replace(/\.csv$/i, ''),
    source: t.path!,
    shape: [window, p.features.length],
    classes: classes?.length ?? 0,
    ...(classes ? { classNames: classes } : { targetShape: [1] }),
    train,
    test,
    preprocessing: p,
    report: log.report(),
  };
}

export const series: DataSource = {
  name: 'series',
  summary: sourceSummary('series'),
  options: ['window', 'stride', 'timeColumn', 'label', 'dropColumns'],
  // A window makes a CSV a series; so does a series model's preprocessing (eval, retraining).
  claims: (t, opts) =>
    (opts.window !== undefined || opts.preprocessing?.kind === 'series') &&
    (t.isDir ? t.entries.some((e) => e.toLowerCase().endsWith('.csv') || e === 'train') : t.ext === '.csv'),
  load: loadSeries,
};
