/**
 * How dataset samples and labels become model feeds: the per-sample shape a model takes for a
 * dataset (checked), samples converted to the input's element type (float images, int64 token
 * ids), and labels encoded for the loss.
 */
import type { Dataset } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import { type DType, singleDataInput, type Model } from '../onnx/browser.ts';
import type { TensorValue } from '../runtime/index.ts';
import type { LossKind } from './loss.ts';

/** Element types a dataset's float samples can be fed as (integer types: token ids, indices). */
const SAMPLE_DTYPES: readonly DType[] = ['float32', 'float64', 'int64', 'int32'];

/** Labels as the loss expects them: class indices for cross-entropy, one-hot float targets otherwise. */
export function encodeLabels(y: Int32Array, loss: LossKind, classes: number): TensorValue {
  if (loss === 'cross-entropy') return { dtype: 'int32', dims: [y.length], data: y };
  const out = new Float32Array(y.length * classes);
  for (let i = 0; i < y.length; i++) {
    const c = y[i]!;
    if (c < 0 || c >= classes) throw new VergeError('E_DATA_INVALID', `label ${c} is outside the ${classes} classes`);
    out[i * classes + c] = 1;
  }
  return { dtype: 'float32', dims: [y.length, classes], data: out };
}

/** Float targets of a batch as a tensor [count, ...targetShape] (default: one row per sample). */
export function floatTargets(t: Float32Array, count: number, targetShape?: number[]): TensorValue {
  return { dtype: 'float32', dims: [count, ...(targetShape ?? [t.length / Math.max(1, count)])], data: t };
}

/**
 * A batch of float samples as a model input of element type `dtype`: float32 shares the buffer;
 * integer inputs (token ids) take the values exactly and refuse a fractional one.
 */
export function sampleTensor(x: Float32Array, dims: number[], dtype: DType = 'float32', name = 'input'): TensorValue {
  if (dtype === 'float32') return { dtype, dims, data: x };
  if (dtype === 'float64') return { dtype, dims, data: Float64Array.from(x) };
  if (dtype === 'int64' || dtype === 'int32') {
    const out = dtype === 'int64' ? new BigInt64Array(x.length) : new Int32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (!Number.isInteger(v))
        throw new VergeError(
          'E_DATA_INVALID',
          `input '${name}' takes ${dtype} values; sample value ${v} is not a whole number`,
        );
      out[i] = (dtype === 'int64' ? BigInt(v) : v) as never;
    }
    return { dtype, dims, data: out };
  }
  throw new VergeError('E_DTYPE_MISMATCH', `input '${name}' takes ${dtype}; datasets feed ${SAMPLE_DTYPES.join(', ')}`);
}

/** The per-sample shape fed to the model (default: the dataset's), checked to hold the same values. */
export function resolveInputShape(data: Dataset, override?: number[]): number[] {
  const shape = override ?? data.shape;
  const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (n(shape) !== n(data.shape)) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `input shape [${shape.join(', ')}] does not hold the dataset's samples [${data.shape.join(', ')}]`,
    );
  }
  return shape;
}

export interface SampleShape {
  input: string;
  shape: number[];
  /** Classes the model scores (its output's last dim when static), which may exceed the dataset's. */
  classes?: number;
  /** Set when the dataset's labels cover fewer classes than the model scores (not an error). */
  warning?: string;
}

/**
 * The per-sample input shape a model takes for this dataset, checked: the model must have one data
 * input (float, or integer for token ids) whose non-batch dims hold exactly the dataset's sample
 * values, and (when static) an output with at least one score per class of the dataset (more
 * is allowed, with a `warning`: fine-tuning on data that does not show every class).
 */
export function sampleShapeFor(
  model: Model,
  data: Dataset,
  opts: { output?: string; loss?: LossKind } = {},
): SampleShape {
  const vi = singleDataInput(model.graph, 'training and evaluation on a dataset');
  const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const dataShape = `[${data.shape.join(', ')}]`;
  if (vi.type?.kind !== 'tensor' || !vi.type.shape)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `model input '${vi.name}' declares no shape; cannot fit ${data.name} samples ${dataShape} to it`,
    );
  if (!SAMPLE_DTYPES.includes(vi.type.dtype))
    throw new VergeError(
      'E_DTYPE_MISMATCH',
      `model input '${vi.name}' takes ${vi.type.dtype}; ${data.name} samples can be fed as ${SAMPLE_DTYPES.join(', ')}`,
    );
  const dims = vi.type.shape.slice(1);
  let shape: number[];
  if (dims.every((d): d is number => typeof d === 'number' && d > 0)) shape = dims;
  else if (dims.length === data.shape.length && dims.every((d, i) => typeof d !== 'number' || d === data.shape[i]))
    shape = data.shape;
  else {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `model input '${vi.name}' has dims [${vi.type.shape.join(', ')}], which ${data.name} samples ${dataShape} cannot fill`,
    );
  }
  if (count(shape) !== count(data.shape)) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `model input '${vi.name}' takes samples of [${shape.join(', ')}] (${count(shape)} values) but ${data.name} samples are ${dataShape} (${count(data.shape)} values)`,
    );
  }
  const out = opts.output ? model.graph.outputs.find((o) => o.name === opts.output) : model.graph.outputs[0];
  if (!out) throw new VergeError('E_BAD_ARGUMENT', `the model has no output${opts.output ? ` '${opts.output}'` : 's'}`);
  const oshape = out.type?.kind === 'tensor' ? out.type.shape : undefined;
  const classes = oshape && oshape.length === 2 ? oshape[1] : undefined;
  // The model's class count is authoritative: a small or new-task dataset may label fewer classes
  // (a warning), but a label the model cannot score is an error.
  let warning: string | undefined;
  if (typeof classes === 'number' && data.targetShape && classes !== data.classes)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `model output '${out.name}' has ${classes} values but ${data.name} targets have ${data.classes}`,
    );
  if (typeof classes === 'number' && !data.targetShape) {
    if (classes < data.classes)
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `model output '${out.name}' scores ${classes} classes but ${data.name} has ${data.classes} (labels 0–${data.classes - 1}); use a model with ${data.classes} outputs (verge train --num-classes ${data.classes} replaces its head)`,
      );
    if (classes > data.classes)
      warning = `${data.name} labels ${data.classes} of the ${classes} classes model output '${out.name}' scores (labels 0–${data.classes - 1}); training keeps all ${classes}`;
  }
  return {
    input: vi.name,
    shape,
    ...(typeof classes === 'number' ? { classes } : {}),
    ...(warning ? { warning } : {}),
  };
}
