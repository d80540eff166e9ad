/**
 * The trainer: `fit` runs epochs of mini-batch steps on a TrainingSession over a Dataset, with
 * validation, learning-rate schedules, early stopping, per-epoch checkpoints and resume; and
 * `evaluate` measures accuracy and loss of a session or a plain model on a split. Same seed,
 * same data order, same history. Rendering progress is the caller's (onProgress).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { batches, permutation, type Dataset, type Split } from '../data/dataset.ts';
import { VergeError } from '../errors.ts';
import type { Model } from '../onnx/ir.ts';
import { writeFileAtomic } from '../onnx/io.ts';
import { Session } from '../runtime/session.ts';
import type { TensorValue } from '../runtime/tensor.ts';
import type { LossKind } from './loss.ts';
import { describeSchedule, makeSchedule, type Schedule, type ScheduleSpec } from './schedules.ts';
import type { StepResult, TrainingSession } from './session.ts';

/** Default mini-batch size (the seed CNN's batch in DESIGN.md). */
export const DEFAULT_BATCH_SIZE = 64;
/** Batch size for evaluation passes (no gradients, so larger batches are cheap). */
export const EVAL_BATCH_SIZE = 500;
/** Offset mixed into the seed for choosing a validation subset, so it differs from the shuffle stream. */
const VALIDATION_SEED_OFFSET = 0x5eed;

export type Monitor = 'val_loss' | 'val_accuracy' | 'loss' | 'accuracy';

export interface EarlyStoppingOptions {
  /** Epochs without improvement before stopping. */
  patience: number;
  /** Default val_loss (loss when there is no validation). */
  monitor?: Monitor;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** Put back the parameters of the best epoch at the end. Default true. */
  restoreBest?: boolean;
}

export interface FitProgress {
  epoch: number;
  epochs: number;
  /** Step within the epoch (1-based) and steps in this epoch. */
  step: number;
  epochSteps: number;
  globalStep: number;
  totalSteps: number;
  /** Running means over the epoch so far. */
  loss: number;
  accuracy?: number;
  samplesPerSec: number;
  lr: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number | null;
  val_loss: number | null;
  val_accuracy: number | null;
  samples_per_sec: number;
  lr: number;
  steps: number;
}

export interface FitOptions {
  /** Epochs to run (default 1), or `steps` optimizer steps in total (takes precedence). */
  epochs?: number;
  steps?: number;
  batchSize?: number;
  /** Reshuffle the training split every epoch. Default true. */
  shuffle?: boolean;
  seed?: number;
  /**
   * Base learning rate fed to every step (the schedule scales it). Default: the session's
   * (`session.learningRate`, the rate its optimizer was created with).
   */
  lr?: number;
  schedule?: ScheduleSpec;
  /** Hold out a fraction of the training split, use the test split ('test'), or a given split. */
  validation?: number | 'test' | Split;
  earlyStopping?: EarlyStoppingOptions;
  /** Write a checkpoint after every epoch into this folder. */
  checkpointDir?: string;
  /** Continue from the last checkpoint in checkpointDir, if there is one. */
  resume?: boolean;
  /** The loss the session trains (decides the label encoding). Default cross-entropy. */
  loss?: LossKind;
  /** Per-sample shape fed to the model (default: the dataset's sample shape); same element count. */
  inputShape?: number[];
  /** Name of the model input (default: the session's first data input). */
  inputName?: string;
  onProgress?: (p: FitProgress) => void;
  onEpochEnd?: (r: EpochRecord) => void;
}

export interface FitResult {
  history: EpochRecord[];
  epochs: number;
  steps: number;
  /** Training samples per second over the whole run (validation excluded). */
  samples_per_sec: number;
  stoppedEarly: boolean;
  bestEpoch?: number;
  /** Epoch the run resumed after (0: fresh start). */
  resumedFrom: number;
}

export interface EvaluationResult {
  accuracy: number;
  loss: number;
  samples: number;
}

/** What fit writes beside each checkpoint: enough to continue the run exactly. */
interface FitCheckpointState {
  version: 1;
  epoch: number;
  globalStep: number;
  checkpoint: string;
  history: EpochRecord[];
  best: { value: number; epoch: number } | null;
  wait: number;
  config: { batchSize: number; seed: number; shuffle: boolean; schedule: string; lr: number };
}

const STATE_FILE = 'fit-state.json';
/** Parameters of the best epoch so far (early stopping with restoreBest), kept across resumes. */
const BEST_FILE = 'best.ckpt.onnx';

function sampleCount(split: Split): number {
  return split.count;
}

function subset(split: Split, idx: ArrayLike<number>): Split {
  const per = split.count === 0 ? 0 : split.x.length / split.count;
  const x = new Float32Array(idx.length * per);
  const y = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i]!;
    x.set(split.x.subarray(j * per, (j + 1) * per), i * per);
    y[i] = split.y[j]!;
  }
  return { x, y, count: idx.length };
}

/** Split off a seeded random `fraction` of the training split for validation. */
export function holdOut(split: Split, fraction: number, seed: number): { train: Split; validation: Split } {
  if (!(fraction > 0 && fraction < 1))
    throw new VergeError('E_BAD_ARGUMENT', `validation fraction must be in (0, 1), got ${fraction}`);
  const n = sampleCount(split);
  const k = Math.max(1, Math.round(n * fraction));
  if (k >= n)
    throw new VergeError('E_BAD_ARGUMENT', `validation fraction ${fraction} leaves no training samples out of ${n}`);
  const p = permutation(n, seed + VALIDATION_SEED_OFFSET);
  const valIdx = Array.from(p.subarray(n - k)).sort((a, b) => a - b);
  const trainIdx = Array.from(p.subarray(0, n - k)).sort((a, b) => a - b);
  return { train: subset(split, trainIdx), validation: subset(split, valIdx) };
}

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

function inputFeed(name: string, shape: number[], x: Float32Array, count: number): Record<string, TensorValue> {
  return { [name]: { dtype: 'float32', dims: [count, ...shape], data: x } };
}

function resolveInputShape(data: Dataset, override?: number[]): number[] {
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

function sessionInput(session: TrainingSession, name?: string): string {
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

function argmaxCorrect(logits: TensorValue, y: Int32Array): number {
  const n = y.length;
  const c = logits.data.length / n;
  const d = logits.data as Float32Array;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (d[i * c + j]! > d[i * c + best]!) best = j;
    if (best === y[i]) correct++;
  }
  return correct;
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

function isTrainingSession(t: TrainingSession | Model): t is TrainingSession {
  return typeof (t as TrainingSession).evaluate === 'function';
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
  const loss = opts.loss ?? 'cross-entropy';
  const shape = resolveInputShape(data, opts.inputShape);
  const bs = opts.batchSize ?? EVAL_BATCH_SIZE;
  const classes = opts.classes ?? data.classes;
  let totalLoss = 0;
  let correct = 0;
  let seen = 0;
  if (isTrainingSession(target)) {
    const name = sessionInput(target, opts.inputName);
    for (const b of batches(split, bs)) {
      const feeds = inputFeed(name, shape, b.x, b.count);
      const r = await target.evaluate(feeds, encodeLabels(b.y, loss, classes));
      totalLoss += r.loss * b.count;
      if (r.correct !== undefined && loss === 'cross-entropy') correct += r.correct;
      else {
        const out = await target.predict(feeds);
        correct += argmaxCorrect(out[opts.output ?? Object.keys(out)[0]!]!, b.y);
      }
      seen += b.count;
    }
  } else {
    const session = await Session.create(target, opts.threads ? { threads: opts.threads } : {});
    try {
      const name = opts.inputName ?? session.inputNames[0]!;
      if (session.inputNames.length !== 1)
        throw new VergeError('E_UNSUPPORTED', `evaluate feeds one input; the model has ${session.inputNames.length}`);
      const output = opts.output ?? session.outputNames[0]!;
      for (const b of batches(split, bs)) {
        const out = await session.run(inputFeed(name, shape, b.x, b.count), [output]);
        const logits = out[output]!;
        if (logits.data.length % b.count !== 0 || logits.dims[0] !== b.count) {
          throw new VergeError(
            'E_SHAPE_MISMATCH',
            `output '${output}' has dims [${logits.dims.join(', ')}], not one row per sample`,
          );
        }
        totalLoss += batchLoss(logits, b.y, loss) * b.count;
        correct += argmaxCorrect(logits, b.y);
        seen += b.count;
      }
    } finally {
      await session.release();
    }
  }
  return { accuracy: seen ? correct / seen : 0, loss: seen ? totalLoss / seen : 0, samples: seen };
}

function monitorValue(r: EpochRecord, monitor: Monitor): number | null {
  return r[monitor];
}

function improves(monitor: Monitor, value: number, best: number, minDelta: number): boolean {
  return monitor.endsWith('accuracy') ? value > best + minDelta : value < best - minDelta;
}

function readCheckpointState(dir: string): FitCheckpointState | undefined {
  const p = join(dir, STATE_FILE);
  if (!existsSync(p)) return undefined;
  try {
    const s = JSON.parse(readFileSync(p, 'utf8')) as FitCheckpointState;
    if (s.version !== 1 || typeof s.epoch !== 'number') throw new Error('unknown format');
    return s;
  } catch (e) {
    throw new VergeError('E_DATA_INVALID', `${p} is not a verge fit checkpoint state (${(e as Error).message})`);
  }
}

/** Train `session` on `data`. */
export async function fit(session: TrainingSession, data: Dataset, opts: FitOptions = {}): Promise<FitResult> {
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!(Number.isInteger(batchSize) && batchSize > 0))
    throw new VergeError('E_BAD_ARGUMENT', `batch size must be a positive integer, got ${batchSize}`);
  const seed = opts.seed ?? 0;
  const shuffle = opts.shuffle ?? true;
  const loss = opts.loss ?? 'cross-entropy';
  const baseLr = opts.lr ?? session.learningRate;
  const shape = resolveInputShape(data, opts.inputShape);
  const inputName = sessionInput(session, opts.inputName);

  let train = data.train;
  let validation: Split | undefined;
  if (typeof opts.validation === 'number') ({ train, validation } = holdOut(data.train, opts.validation, seed));
  else if (opts.validation === 'test') validation = data.test;
  else if (opts.validation) validation = opts.validation;
  if (train.count === 0) throw new VergeError('E_DATA_INVALID', `no training samples in ${data.name}`);

  const stepsPerEpoch = Math.ceil(train.count / batchSize);
  let totalSteps: number;
  let epochs: number;
  if (opts.steps !== undefined) {
    if (!(Number.isInteger(opts.steps) && opts.steps > 0))
      throw new VergeError('E_BAD_ARGUMENT', `steps must be a positive integer, got ${opts.steps}`);
    totalSteps = opts.steps;
    epochs = Math.ceil(totalSteps / stepsPerEpoch);
  } else {
    epochs = opts.epochs ?? 1;
    if (!(Number.isInteger(epochs) && epochs > 0))
      throw new VergeError('E_BAD_ARGUMENT', `epochs must be a positive integer, got ${epochs}`);
    totalSteps = epochs * stepsPerEpoch;
  }
  const scheduleSpec = opts.schedule ?? { kind: 'constant' };
  const schedule: Schedule = makeSchedule(scheduleSpec, baseLr, totalSteps);

  const es = opts.earlyStopping;
  const monitor: Monitor = es?.monitor ?? (validation ? 'val_loss' : 'loss');
  if (es && monitor.startsWith('val_') && !validation)
    throw new VergeError('E_BAD_ARGUMENT', `early stopping monitors ${monitor} but there is no validation data`);
  if (es && !(Number.isInteger(es.patience) && es.patience >= 0))
    throw new VergeError('E_BAD_ARGUMENT', `early-stopping patience must be a whole number, got ${es.patience}`);

  const config = { batchSize, seed, shuffle, schedule: describeSchedule(scheduleSpec), lr: baseLr };
  let history: EpochRecord[] = [];
  let globalStep = 0;
  let startEpoch = 1;
  let best: { value: number; epoch: number } | null = null;
  let bestState: ReturnType<TrainingSession['getState']> | undefined;
  let wait = 0;

  if (opts.checkpointDir) mkdirSync(opts.checkpointDir, { recursive: true });
  if (opts.checkpointDir && opts.resume) {
    const st = readCheckpointState(opts.checkpointDir);
    if (st) {
      for (const k of Object.keys(config) as (keyof typeof config)[]) {
        if (st.config[k] !== config[k]) {
          throw new VergeError(
            'E_BAD_ARGUMENT',
            `cannot resume: the checkpoint was made with ${k}=${st.config[k]}, this run has ${k}=${config[k]}`,
          );
        }
      }
      session.loadCheckpoint(join(opts.checkpointDir, st.checkpoint));
      history = st.history;
      globalStep = st.globalStep;
      startEpoch = st.epoch + 1;
      best = st.best;
      wait = st.wait;
    }
  }
  const resumedFrom = startEpoch - 1;

  let trainSeconds = 0;
  let trainSamples = 0;
  let stoppedEarly = false;
  for (let epoch = startEpoch; epoch <= epochs && globalStep < totalSteps; epoch++) {
    let epochLoss = 0;
    let epochCorrect = 0;
    let hasCorrect = true;
    let seen = 0;
    let step = 0;
    let lr = schedule(globalStep);
    const epochSteps = Math.min(stepsPerEpoch, totalSteps - globalStep);
    const started = performance.now();
    // seed·1000 + epoch: a different, reproducible order every epoch.
    for (const b of batches(train, batchSize, { shuffle, seed: seed * 1000 + epoch })) {
      if (globalStep >= totalSteps) break;
      lr = schedule(globalStep);
      const r: StepResult = await session.step(
        inputFeed(inputName, shape, b.x, b.count),
        encodeLabels(b.y, loss, data.classes),
        lr,
      );
      if (!Number.isFinite(r.loss)) {
        throw new VergeError(
          'E_RUNTIME',
          `training diverged: loss is ${r.loss} at step ${globalStep + 1} (lower the learning rate?)`,
        );
      }
      epochLoss += r.loss * b.count;
      if (r.correct === undefined) hasCorrect = false;
      else epochCorrect += r.correct;
      seen += b.count;
      step++;
      globalStep++;
      const elapsed = (performance.now() - started) / 1000;
      opts.onProgress?.({
        epoch,
        epochs,
        step,
        epochSteps,
        globalStep,
        totalSteps,
        loss: epochLoss / seen,
        ...(hasCorrect ? { accuracy: epochCorrect / seen } : {}),
        samplesPerSec: seen / Math.max(elapsed, 1e-9),
        lr,
      });
    }
    const seconds = (performance.now() - started) / 1000;
    trainSeconds += seconds;
    trainSamples += seen;
    let val: EvaluationResult | undefined;
    if (validation) val = await evaluate(session, data, validation, { loss, inputShape: shape, inputName });
    const record: EpochRecord = {
      epoch,
      loss: epochLoss / Math.max(1, seen),
      accuracy: hasCorrect ? epochCorrect / Math.max(1, seen) : null,
      val_loss: val ? val.loss : null,
      val_accuracy: val ? val.accuracy : null,
      samples_per_sec: Math.round(seen / Math.max(seconds, 1e-9)),
      lr,
      steps: step,
    };
    history.push(record);
    opts.onEpochEnd?.(record);

    if (es) {
      const v = monitorValue(record, monitor);
      if (v !== null && (best === null || improves(monitor, v, best.value, es.minDelta ?? 0))) {
        best = { value: v, epoch };
        wait = 0;
        if (es.restoreBest ?? true) {
          bestState = session.getState();
          if (opts.checkpointDir) session.saveCheckpoint(join(opts.checkpointDir, BEST_FILE));
        }
      } else {
        wait++;
      }
    }
    if (opts.checkpointDir)
      writeCheckpoint(session, opts.checkpointDir, {
        version: 1,
        epoch,
        globalStep,
        checkpoint: '',
        history,
        best,
        wait,
        config,
      });
    if (es && wait > es.patience) {
      stoppedEarly = true;
      break;
    }
  }
  if (stoppedEarly && (es?.restoreBest ?? true)) {
    if (bestState) session.setState(bestState);
    else if (opts.checkpointDir && existsSync(join(opts.checkpointDir, BEST_FILE)))
      session.loadCheckpoint(join(opts.checkpointDir, BEST_FILE));
  }
  return {
    history,
    epochs: history.length,
    steps: globalStep,
    samples_per_sec: trainSeconds > 0 ? Math.round(trainSamples / trainSeconds) : 0,
    stoppedEarly,
    ...(best ? { bestEpoch: best.epoch } : {}),
    resumedFrom,
  };
}

/**
 * Checkpoint file first (atomic), then the state JSON naming it (atomic), then older checkpoint
 * files go: a crash at any point leaves a state file that names a complete checkpoint.
 */
function writeCheckpoint(session: TrainingSession, dir: string, state: FitCheckpointState): void {
  const file = `epoch-${String(state.epoch).padStart(4, '0')}.ckpt.onnx`;
  session.saveCheckpoint(join(dir, file));
  writeFileAtomic(join(dir, STATE_FILE), JSON.stringify({ ...state, checkpoint: file }, null, 1) + '\n');
  for (const f of readdirSync(dir)) {
    if (/^epoch-\d+\.ckpt\.onnx$/.test(f) && f !== file) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        /* already gone */
      }
    }
  }
}

/**
 * The per-sample input shape a model takes for this dataset, checked: the model must have one data
 * input (graph inputs that are not initializers) whose non-batch dims hold exactly the dataset's
 * sample values, and (when static) an output with one score per class.
 */
export function sampleShapeFor(
  model: Model,
  data: Dataset,
  opts: { output?: string; loss?: LossKind } = {},
): { input: string; shape: number[] } {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1) {
    throw new VergeError(
      'E_UNSUPPORTED',
      `the model has ${inputs.length} data inputs (${inputs.map((i) => i.name).join(', ')}); training and evaluation on a dataset need exactly one`,
    );
  }
  const vi = inputs[0]!;
  const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const dataShape = `[${data.shape.join(', ')}]`;
  if (vi.type?.kind !== 'tensor' || !vi.type.shape)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `model input '${vi.name}' declares no shape; cannot fit ${data.name} samples ${dataShape} to it`,
    );
  if (vi.type.dtype !== 'float32')
    throw new VergeError(
      'E_DTYPE_MISMATCH',
      `model input '${vi.name}' takes ${vi.type.dtype}; ${data.name} samples are float32`,
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
  if (typeof classes === 'number' && classes !== data.classes) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `model output '${out.name}' scores ${classes} classes but ${data.name} has ${data.classes}`,
    );
  }
  return { input: vi.name, shape };
}
