/**
 * A folder of IDX files (the MNIST family's format): `train-images-idx3-ubyte` with
 * `train-labels-idx1-ubyte`, and `t10k-…` (or `test-…`) for the test split, each optionally
 * gzip-compressed. Images become float32 in [0, 1], shape [1, rows, cols].
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VergeError } from '../../errors.ts';
import type { Dataset, Split } from '../dataset.ts';
import { idxPairToSplit, parseIdx } from '../idx.ts';
import { classCount, holdOutTail, SourceLog, unreadable, type DataSource, type DataTarget } from './source.ts';
import { sourceSummary } from './catalog.ts';

const TRAIN_PREFIXES = ['train'];
const TEST_PREFIXES = ['t10k', 'test'];

/** The file of `prefix-kind-idxN-ubyte` in a listing, preferring the gzip-compressed one. */
function findIdx(
  entries: readonly string[],
  prefixes: string[],
  kind: 'images-idx3' | 'labels-idx1',
): string | undefined {
  for (const p of prefixes) {
    for (const name of [`${p}-${kind}-ubyte.gz`, `${p}-${kind}-ubyte`]) if (entries.includes(name)) return name;
  }
  return undefined;
}

/** The IDX pairs of a folder listing, or undefined when it holds no training pair. */
export function idxFiles(entries: readonly string[]): { train: [string, string]; test?: [string, string] } | undefined {
  const ti = findIdx(entries, TRAIN_PREFIXES, 'images-idx3');
  const tl = findIdx(entries, TRAIN_PREFIXES, 'labels-idx1');
  if (!ti || !tl) return undefined;
  const vi = findIdx(entries, TEST_PREFIXES, 'images-idx3');
  const vl = findIdx(entries, TEST_PREFIXES, 'labels-idx1');
  return { train: [ti, tl], ...(vi && vl ? { test: [vi, vl] as [string, string] } : {}) };
}

function readFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw unreadable(path, e);
  }
}

/** Read an images/labels IDX pair as a split: pixels / 255, at most `limit` samples. */
export function readIdxSplit(imgPath: string, lblPath: string, limit?: number): { split: Split; dims: number[] } {
  const img = parseIdx(readFile(imgPath), imgPath);
  const lbl = parseIdx(readFile(lblPath), lblPath);
  return idxPairToSplit(img, lbl, `${imgPath} and ${lblPath}`, limit);
}

/** Load an IDX folder (files named as idxFiles finds them). `name`/`label` name the dataset in reports. */
export function loadIdxFolder(
  dir: string,
  entries: readonly string[],
  limits: { train?: number; test?: number } = {},
  name = basename(dir),
  label = dir,
): Dataset {
  const files = idxFiles(entries);
  if (!files)
    throw new VergeError('E_DATA_NOT_FOUND', `${dir} has no train-images-idx3-ubyte / train-labels-idx1-ubyte pair`);
  const log = new SourceLog('idx');
  const tr = readIdxSplit(join(dir, files.train[0]), join(dir, files.train[1]), limits.train);
  log.read('files', 2);
  let train = tr.split;
  let test: Split;
  if (files.test) {
    const te = readIdxSplit(join(dir, files.test[0]), join(dir, files.test[1]), limits.test);
    log.read('files', 2);
    if (te.dims[1] !== tr.dims[1] || te.dims[2] !== tr.dims[2])
      throw new VergeError(
        'E_DATA_INVALID',
        `${dir}: test images are ${te.dims.slice(1)}, train images ${tr.dims.slice(1)}`,
      );
    test = te.split;
  } else {
    ({ train, test } = holdOutTail(train));
    log.note(`no t10k/test files: the last ${test.count} training samples are the test split`);
  }
  log.read('samples', train.count + test.count);
  return {
    name,
    source: label,
    shape: [1, tr.dims[1]!, tr.dims[2]!],
    classes: classCount([train, test], dir),
    train,
    test,
    report: log.report(),
  };
}

export const idx: DataSource = {
  name: 'idx',
  summary: sourceSummary('idx'),
  claims: (t: DataTarget) => t.isDir && idxFiles(t.entries) !== undefined,
  load: async (t, opts) => loadIdxFolder(t.path!, t.entries, opts.limits),
};
