/**
 * `evaluate`: accuracy and mean loss over a split, in inference mode, of a TrainingSession (its
 * current parameters) or of a plain model run on onnxruntime.
 */
import { batches, type Dataset, type Split } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import type { Model } from '../onnx/browser.ts';
import { Session, type TensorValue } from '../runtime/index.ts';
import { encodeLabels, floatTargets, resolveInputShape, sampleTensor } from './feeds.ts';
import type { LossKind } from './loss.ts';
import { countTop1 } from './metrics.ts';
import type { TrainingSession } from './session.ts';

/** Batch size for evaluation passes (no gradients, so larger batches are cheap). */
export const EVAL_BATCH_SIZE = 500;

export interface EvaluationResult {
  accuracy: number;
  loss: number;
  samples: number;
}

export interface EvaluateOptions {
  loss?: LossKind;
  batchSize?: number;
  inputShape?: number[];
  inputName?: string;
  /** Output holding the logits (plain models; default the first output). */
  output?: string;
  threads?: number;
  classes?: number;
}

/** Mean loss of a batch computed from the model's outputs (for plain models without a loss graph). */
function batchLoss(logits: TensorValue, y: Int32Array, loss: LossKind): number {
  const n = y.length;
  const c = logits.data.length / n;
  const d = logits.data as Float32Array;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const row = d.subarray(i * c, (i + 1) * c);
    const label = y[i]!;
    if (loss === 'cross-entropy') {
      let m = -Infinity;
      for (const v of row) m = Math.max(m, v);
      let s = 0;
      for (const v of row) s += Math.exp(v - m);
      total += m + Math.log(s) - row[label]!;
    } else if (loss === 'mse') {
      for (let j = 0; j < c; j++) total += (row[j]! - (j === label ? 1 : 0)) ** 2 / c;
    } else {
      for (let j = 0; j < c; j++) {
        const z = row[j]!;
        const t = j === label ? 1 : 0;
        total += (Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z)))) / c;
      }
    }
  }
  return total / n;
}

function isTrainingSession(t: TrainingSession | Model): t is TrainingSession {
  return typeof (t as TrainingSession).evaluate === 'function';
}

/** The data input fit and evaluate feed from the dataset: the given one, or the only one. */
export function sessionInput(session: TrainingSession, name?: string): string {
  const inputs = session.graph.dataInputs;
  if (name) {
    if (!inputs.includes(name))
      throw new VergeError('E_BAD_ARGUMENT', `the model has no input '${name}' (inputs: ${inputs.join(', ')})`);
    return name;
  }
  if (inputs.length !== 1)
    throw new VergeError(
      'E_UNSUPPORTED',
      `fit feeds one input from the dataset; this model has ${inputs.length} (${inputs.join(', ')})`,
    );
  return inputs[0]!;
}

async function evaluateSession(
  target: TrainingSession,
  data: Dataset,
  split: Split,
  opts: EvaluateOptions,
): Promise<EvaluationResult> {
  const loss = opts.loss ?? 'cross-entropy';
  const shape = resolveInputShape(data, opts.inputShape);
  const name = sessionInput(target, opts.inputName);
  const dtype = target.inputType(name).dtype;
  let totalLoss = 0;
  let correct = 0;
  let seen = 0;
  for (const b of batches(split, opts.batchSize ?? EVAL_BATCH_SIZE)) {
    const feeds = { [name]: sampleTensor(b.x, [b.count, ...shape], dtype, name) };
    const targets = b.targets
      ? floatTargets(b.targets, b.count, data.targetShape)
      : encodeLabels(b.y, loss, opts.classes ?? data.classes);
    const r = await target.evaluate(feeds, targets);
    totalLoss += r.loss * b.count;
    if (r.correct !== undefined && loss === 'cross-entropy') correct += r.correct;
    else {
      const out = await target.predict(feeds);
      correct += countTop1(out[opts.output ?? Object.keys(out)[0]!]!.data as Float32Array, b.y);
    }
    seen += b.count;
  }
  return { accuracy: seen ? correct / seen : 0, loss: seen ? totalLoss / seen : 0, samples: seen };
}

async function evaluateModel(
  model: Model,
  data: Dataset,
  split: Split,
  opts: EvaluateOptions,
): Promise<EvaluationResult> {
  const loss = opts.loss ?? 'cross-entropy';
  const shape = resolveInputShape(data, opts.inputShape);
  const session = await Session.create(model, opts.threads ? { threads: opts.threads } : {});
  let totalLoss = 0;
  let correct = 0;
  let seen = 0;
  try {
    const name = opts.inputName ?? session.inputNames[0]!;
    if (session.inputNames.length !== 1)
      throw new VergeError('E_UNSUPPORTED', `evaluate feeds one input; the model has ${session.inputNames.length}`);
    const dtype = session.inputs.find((i) => i.name === name)?.dtype ?? 'float32';
    const output = opts.output ?? session.outputNames[0]!;
    for (const b of batches(split, opts.batchSize ?? EVAL_BATCH_SIZE)) {
      const out = await session.run({ [name]: sampleTensor(b.x, [b.count, ...shape], dtype, name) }, [output]);
      const logits = out[output]!;
      if (logits.data.length % b.count !== 0 || logits.dims[0] !== b.count) {
        throw new VergeError(
          'E_SHAPE_MISMATCH',
          `output '${output}' has dims [${logits.dims.join(', ')}], not one row per sample`,
        );
      }
      totalLoss += batchLoss(logits, b.y, loss) * b.count;
      correct += countTop1(logits.data as Float32Array, b.y);
      seen += b.count;
    }
  } finally {
    await session.release();
  }
  return { accuracy: seen ? correct / seen : 0, loss: seen ? totalLoss / seen : 0, samples: seen };
}

/**
 * Accuracy (argmax of the output vs the label) and mean loss over a split, in inference mode.
 * Takes a TrainingSession (current parameters) or a plain model (run on onnxruntime).
 */
export async function evaluate(
  target: TrainingSession | Model,
  data: Dataset,
  split: Split = data.test,
  opts: EvaluateOptions = {},
): Promise<EvaluationResult> {
  return isTrainingSession(target)
    ? evaluateSession(target, data, split, opts)
    : evaluateModel(target, data, split, opts);
}
