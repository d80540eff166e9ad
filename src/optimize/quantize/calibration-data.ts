/**
 * Where calibration samples come from: a dataset split (built-in name or a folder/.npz, through
 * data/'s loadDataset), or random inputs made up from the model's declared input types.
 */
import { VergeError } from '../../errors.ts';
import type { Split } from '../../data/browser.ts';
import { loadDataset } from '../../data/index.ts';
import { dataInputs, type Model } from '../../onnx/browser.ts';
import { concreteDims, synthesizeInputs, type IOSpec, type TensorValue } from '../../runtime/index.ts';
import type { CalibrationData } from './calibrate.ts';
import { DEFAULT_CALIBRATION_SAMPLES } from './defaults.ts';

export { DEFAULT_CALIBRATION_SAMPLES };
/** Samples per calibration batch when the model's batch dimension is free. */
export const CALIBRATION_BATCH = 32;

/** Declared non-initializer inputs of a model. */
export function modelInputs(model: Model): IOSpec[] {
  return dataInputs(model.graph).map((i) =>
    i.type?.kind === 'tensor' ? { name: i.name, dtype: i.type.dtype, shape: i.type.shape } : { name: i.name },
  );
}

/** The model's single float input, or a clear error (data-driven calibration feeds one tensor). */
function singleFloatInput(model: Model): IOSpec {
  const inputs = modelInputs(model);
  if (inputs.length !== 1 || inputs[0]!.dtype !== 'float32') {
    throw new VergeError(
      'E_UNSUPPORTED',
      `calibration from a dataset needs a model with one float32 input; this one has ${inputs.map((i) => `${i.name}:${i.dtype ?? '?'}`).join(', ') || 'none'} (use --calib random)`,
    );
  }
  return inputs[0]!;
}

/** Batch size the model accepts: its fixed leading dim, else CALIBRATION_BATCH. */
function batchSizeOf(spec: IOSpec): number {
  const d0 = spec.shape?.[0];
  return typeof d0 === 'number' && d0 > 0 ? d0 : CALIBRATION_BATCH;
}

/** Calibration batches from the first `samples` samples of a split. */
export function calibrationFromSplit(
  model: Model,
  split: Split,
  sampleShape: readonly number[],
  samples: number,
  source: string,
): CalibrationData {
  const spec = singleFloatInput(model);
  const per = sampleShape.reduce((a, b) => a * b, 1);
  const n = Math.min(samples, split.count);
  if (n === 0) throw new VergeError('E_DATA_INVALID', `${source} has no samples to calibrate on`);
  const declared = spec.shape ? concreteDims(spec, 1).slice(1) : [...sampleShape];
  if (declared.reduce((a, b) => a * b, 1) !== per) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `${source} samples have shape [${sampleShape.join(', ')}] but input '${spec.name}' takes [${declared.join(', ')}] per sample`,
    );
  }
  const bs = batchSizeOf(spec);
  // A model with a fixed batch dimension only takes full batches.
  const fixedBatch = typeof spec.shape?.[0] === 'number';
  const batches: Record<string, TensorValue>[] = [];
  for (let start = 0; start < n; start += bs) {
    const count = Math.min(bs, n - start);
    if (fixedBatch && count < bs) break;
    const x = split.x.slice(start * per, (start + count) * per);
    batches.push({ [spec.name]: { dtype: 'float32', dims: [count, ...declared], data: x } });
  }
  if (batches.length === 0) {
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `input '${spec.name}' takes batches of ${bs}; calibrate on at least ${bs} samples`,
    );
  }
  return { source, samples: n, batches };
}

/** Calibration batches from a dataset by name (e.g. 'fashion-mnist') or folder, using its train split. */
export async function calibrationFromDataset(
  model: Model,
  nameOrDir: string,
  samples: number,
): Promise<CalibrationData> {
  const ds = await loadDataset(nameOrDir, { limits: { train: samples, test: 0 } });
  return calibrationFromSplit(model, ds.train, ds.shape, samples, `${ds.name} train (${ds.source})`);
}

/**
 * Random calibration: uniform [0, 1) inputs from the declared input types. Ranges then reflect the
 * model, not real data; fine for closeness checks, worse for accuracy than real samples.
 */
export function randomCalibration(model: Model, samples: number, seed = 0): CalibrationData {
  const specs = modelInputs(model);
  const first = specs[0];
  const bs = first ? Math.min(samples, batchSizeOf(first)) : 1;
  const batches: Record<string, TensorValue>[] = [];
  for (let done = 0, k = 0; done < samples; k++) {
    const b = Math.min(bs, samples - done);
    const fixedBatch = typeof first?.shape?.[0] === 'number' ? (first.shape[0] as number) : b;
    batches.push(synthesizeInputs(specs, { batch: fixedBatch, seed: seed + k }));
    done += fixedBatch;
  }
  return { source: 'random', samples, batches };
}

/** `--calib <name|dir|random>` → calibration data. */
export async function resolveCalibration(
  model: Model,
  calib: string,
  samples: number,
  seed = 0,
): Promise<CalibrationData> {
  if (!(samples > 0) || !Number.isInteger(samples)) {
    throw new VergeError('E_BAD_ARGUMENT', `calibration samples must be a positive integer, got ${samples}`);
  }
  if (calib === 'random') return randomCalibration(model, samples, seed);
  return calibrationFromDataset(model, calib, samples);
}
