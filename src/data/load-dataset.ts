/**
 * One entry point for every command's `--data <name|dir>`: a built-in dataset by name, or a
 * folder of NumPy arrays (x.npy and y.npy, optionally x_test.npy and y_test.npy), or an .npz
 * archive holding arrays of those names.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { VergeError } from '../errors.ts';
import type { Dataset, Split } from './dataset.ts';
import { take } from './dataset.ts';
import { loadFashionMnist, type LoadLimits } from './fashion-mnist.ts';
import { readNpy, type NdArray } from './npy.ts';
import { readNpz } from './npz.ts';
import { float16BitsToNumber } from '../onnx/dtype.ts';

export const BUILTIN_DATASETS = ['fashion-mnist'] as const;

/** Without x_test/y_test, the last tenth of the samples is held out as the test split (deterministic). */
export const HOLDOUT_FRACTION = 0.1;

/** Largest class count accepted from labels; guards against regression targets passed as labels. */
export const MAX_CLASSES = 100_000;

export interface LoadDatasetOptions {
  limits?: LoadLimits;
}

/** Load a dataset by built-in name, folder of .npy files, or .npz archive. */
export function loadDataset(nameOrDir: string, opts: LoadDatasetOptions = {}): Dataset {
  const limits = opts.limits ?? {};
  if ((BUILTIN_DATASETS as readonly string[]).includes(nameOrDir.toLowerCase())) return loadFashionMnist(limits);
  if (!existsSync(nameOrDir)) {
    throw new VergeError(
      'E_DATA_NOT_FOUND',
      `'${nameOrDir}' is neither a built-in dataset (${BUILTIN_DATASETS.join(', ')}) nor an existing folder or .npz file`,
    );
  }
  let arrays: (name: string) => NdArray | undefined;
  const path = resolve(nameOrDir);
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw new VergeError(
      'E_FILE_UNREADABLE',
      `${nameOrDir} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  if (isDir) {
    let files: string[];
    try {
      files = readdirSync(path);
    } catch (e) {
      throw new VergeError(
        'E_FILE_UNREADABLE',
        `folder ${nameOrDir} cannot be listed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
    for (const need of ['x.npy', 'y.npy']) {
      if (!files.includes(need)) {
        throw new VergeError(
          'E_DATA_NOT_FOUND',
          `folder ${nameOrDir} has no ${need} (a data folder holds x.npy and y.npy, optionally x_test.npy and y_test.npy)`,
        );
      }
    }
    arrays = (name) => (files.includes(`${name}.npy`) ? readNpy(join(path, `${name}.npy`)) : undefined);
  } else if (extname(path).toLowerCase() === '.npz') {
    const all = readNpz(path);
    for (const need of ['x', 'y']) {
      if (!all[need])
        throw new VergeError(
          'E_DATA_NOT_FOUND',
          `${nameOrDir} has no array '${need}' (it holds ${Object.keys(all).join(', ') || 'nothing'})`,
        );
    }
    arrays = (name) => all[name];
  } else {
    throw new VergeError(
      'E_DATA_INVALID',
      `${nameOrDir} is a file; --data takes a dataset name, a folder with x.npy and y.npy, or an .npz file`,
    );
  }

  const x = arrays('x')!;
  const y = arrays('y')!;
  const xTest = arrays('x_test');
  const yTest = arrays('y_test');
  if ((xTest === undefined) !== (yTest === undefined)) {
    throw new VergeError(
      'E_DATA_INVALID',
      `${nameOrDir} has ${xTest ? 'x_test without y_test' : 'y_test without x_test'}`,
    );
  }
  let train = toSplit(x, y, nameOrDir, 'x', 'y');
  let test: Split;
  const shape = x.shape.slice(1);
  if (xTest && yTest) {
    test = toSplit(xTest, yTest, nameOrDir, 'x_test', 'y_test');
    if (xTest.shape.slice(1).join(',') !== shape.join(',')) {
      throw new VergeError(
        'E_DATA_INVALID',
        `${nameOrDir}: x_test samples are [${xTest.shape.slice(1)}], x samples are [${shape}]`,
      );
    }
  } else {
    const n = train.count;
    const held = n >= 2 ? Math.max(1, Math.floor(n * HOLDOUT_FRACTION)) : 0;
    const per = n === 0 ? 0 : train.x.length / n;
    const keep = n - held;
    test = { x: train.x.subarray(keep * per), y: train.y.subarray(keep), count: held };
    train = { x: train.x.subarray(0, keep * per), y: train.y.subarray(0, keep), count: keep };
  }
  let maxLabel = -1;
  for (const s of [train, test]) for (let i = 0; i < s.count; i++) if (s.y[i]! > maxLabel) maxLabel = s.y[i]!;
  const classes = maxLabel + 1;
  if (classes > MAX_CLASSES) {
    throw new VergeError(
      'E_DATA_INVALID',
      `${nameOrDir}: labels go up to ${maxLabel}; y must hold class indices 0..C-1`,
    );
  }
  if (limits.train !== undefined) train = take(train, limits.train);
  if (limits.test !== undefined) test = take(test, limits.test);
  return { name: basename(path).replace(/\.npz$/i, ''), source: path, shape, classes, train, test };
}

/** Samples as float32 (uint8 scaled to [0, 1]) and labels as int32 class indices. */
function toSplit(x: NdArray, y: NdArray, source: string, xName: string, yName: string): Split {
  if (x.shape.length < 1)
    throw new VergeError('E_DATA_INVALID', `${source}: ${xName} is a scalar; it needs a sample axis`);
  const n = x.shape[0]!;
  const yOk = (y.shape.length === 1 || (y.shape.length === 2 && y.shape[1] === 1)) && y.shape[0] === n;
  if (!yOk) {
    throw new VergeError(
      'E_DATA_INVALID',
      `${source}: ${yName} has shape [${y.shape.join(', ')}], but ${xName} has ${n} samples: ${yName} must be [${n}] class labels`,
    );
  }
  return { x: samplesAsFloat32(x), y: labelsAsInt32(y, source, yName), count: n };
}

function samplesAsFloat32(x: NdArray): Float32Array {
  if (x.data instanceof Float32Array) return x.data;
  const out = new Float32Array(x.data.length);
  if (x.dtype === 'uint8') {
    const d = x.data as Uint8Array;
    for (let i = 0; i < d.length; i++) out[i] = d[i]! / 255;
    return out;
  }
  for (let i = 0; i < out.length; i++) out[i] = elementAsNumber(x, i);
  return out;
}

function labelsAsInt32(y: NdArray, source: string, name: string): Int32Array {
  const out = new Int32Array(y.data.length);
  for (let i = 0; i < out.length; i++) {
    const label = elementAsNumber(y, i);
    if (!Number.isInteger(label) || label < 0) {
      throw new VergeError(
        'E_DATA_INVALID',
        `${source}: ${name}[${i}] = ${label} is not a class index (a non-negative integer)`,
      );
    }
    out[i] = label;
  }
  return out;
}

function elementAsNumber(a: NdArray, i: number): number {
  if (a.dtype === 'float16') return float16BitsToNumber((a.data as Uint16Array)[i]!);
  return Number(a.data[i]!);
}

/**
 * The line every command that uses data prints (DESIGN.md: report which source and how many
 * samples), e.g. `data: fashion-mnist from /usr/share/datasets/fashion-mnist (60,000 train / 10,000 test)`.
 */
export function describeDataset(ds: Dataset): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  return `data: ${ds.name} from ${ds.source} (${n(ds.train.count)} train / ${n(ds.test.count)} test, shape [${ds.shape.join(', ')}], ${ds.classes} classes)`;
}
