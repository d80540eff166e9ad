/**
 * A folder of NumPy arrays: x.npy (samples) and y.npy (class labels), optionally x_test.npy and
 * y_test.npy. uint8 samples are scaled to [0, 1]; other numeric types are taken as they are.
 * Without a test pair the last tenth is the test split. datasetFromArrays is shared with npz.ts.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VergeError } from '../../errors.ts';
import { float16BitsToNumber } from '../../onnx/browser.ts';
import type { Dataset, Split } from '../dataset.ts';
import { readNpy, type NdArray } from '../npy.ts';
import { classCount, holdOutTail, SourceLog, unreadable, type DataSource } from './source.ts';
import { sourceSummary } from './catalog.ts';

/** Build a dataset from arrays looked up by name ('x', 'y', 'x_test', 'y_test'). */
export function datasetFromArrays(
  arrays: (name: string) => NdArray | undefined,
  where: string,
  name: string,
  log: SourceLog,
): Dataset {
  const x = arrays('x')!;
  const y = arrays('y')!;
  const xTest = arrays('x_test');
  const yTest = arrays('y_test');
  if ((xTest === undefined) !== (yTest === undefined)) {
    throw new VergeError('E_DATA_INVALID', `${where} has ${xTest ? 'x_test without y_test' : 'y_test without x_test'}`);
  }
  let train = toSplit(x, y, where, 'x', 'y');
  let test: Split;
  const shape = x.shape.slice(1);
  if (xTest && yTest) {
    test = toSplit(xTest, yTest, where, 'x_test', 'y_test');
    if (xTest.shape.slice(1).join(',') !== shape.join(',')) {
      throw new VergeError(
        'E_DATA_INVALID',
        `${where}: x_test samples are [${xTest.shape.slice(1)}], x samples are [${shape}]`,
      );
    }
  } else {
    ({ train, test } = holdOutTail(train));
    log.note(`no x_test/y_test: the last ${test.count} samples are the test split`);
  }
  log.read('samples', train.count + test.count);
  return {
    name,
    source: where,
    shape,
    classes: classCount([train, test], where),
    train,
    test,
    report: log.report(),
  };
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

export const npyFolder: DataSource = {
  name: 'npy-folder',
  summary: sourceSummary('npy-folder'),
  claims: (t) => t.isDir && (t.entries.includes('x.npy') || t.entries.includes('y.npy')),
  load: async (t) => {
    const dir = t.path!;
    for (const need of ['x.npy', 'y.npy']) {
      if (!t.entries.includes(need))
        throw new VergeError(
          'E_DATA_NOT_FOUND',
          `folder ${t.spec} has no ${need} (a data folder holds x.npy and y.npy, optionally x_test.npy and y_test.npy)`,
        );
    }
    let files: string[];
    try {
      files = readdirSync(dir);
    } catch (e) {
      throw unreadable(dir, e, 'listed');
    }
    const log = new SourceLog('npy-folder');
    const arrays = (name: string): NdArray | undefined => {
      if (!files.includes(`${name}.npy`)) return undefined;
      log.read('files');
      return readNpy(join(dir, `${name}.npy`));
    };
    return datasetFromArrays(arrays, dir, basename(dir), log);
  },
};
