/**
 * The trainer: `fit` runs epochs of mini-batch steps on a TrainingSession over a Dataset, with
 * validation, learning-rate schedules, early stopping, per-epoch checkpoints, resume and
 * Keras-style callbacks (train/epoch/batch begin and end) through which fine-tuning, pruning
 * schedules, QAT, augmentation and federated clients hook into the one loop. Same seed, same
 * data order, same history. Rendering progress is the caller's (onProgress).
 */
import { batches, permutation, selectSamples, type Dataset, type Split } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import type { Model } from '../onnx/browser.ts';
import type { TensorValue } from '../runtime/index.ts';
import { evaluate, sessionInput, type EvaluationResult } from './evaluate.ts';
import { encodeLabels, floatTargets, resolveInputShape, sampleTensor } from './feeds.ts';
import type { LossKind } from './loss.ts';
import { describeSchedule, makeSchedule, type Schedule, type ScheduleSpec } from './schedules.ts';
import type { StepResult, TrainingSession, TrainingState } from './session.ts';

export { evaluate, EVAL_BATCH_SIZE, type EvaluateOptions, type EvaluationResult } from './evaluate.ts';
export { encodeLabels, sampleShapeFor, sampleTensor, type SampleShape } from './feeds.ts';

/** Default mini-batch size (the seed CNN's batch in DESIGN.md). */
export const DEFAULT_BATCH_SIZE = 64;
/** Offset mixed into the seed for choosing a validation subset, so it differs from the shuffle stream. */
const VALIDATION_SEED_OFFSET = 0x5eed;
/** Shuffle seed of an epoch: seed·1000 + epoch (1-based), a different, reproducible order every epoch. */
export function epochShuffleSeed(seed: number, epoch: number): number {
  return seed * 1000 + epoch;
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

/** What fit saves with each epoch's checkpoint: the loop's own state and the run's configuration. */
export interface FitCheckpointState {
  version: 1;
  epoch: number;
  globalStep: number;
  /** Where the store keeps the session checkpoint (the store's business; a file name for folders). */
  checkpoint: string;
  history: EpochRecord[];
  best: { value: number; epoch: number } | null;
  wait: number;
  config: { batchSize: number; seed: number; shuffle: boolean; schedule: string; lr: number };
}

/**
 * Where fit keeps per-epoch checkpoints (session.checkpointModel() plus the loop state). Folders:
 * directoryCheckpoints(dir) in checkpoint-files.ts (Node); a browser can keep them in IndexedDB.
 */
export interface FitCheckpointStore {
  /** The last saved epoch and its session checkpoint, if any. */
  latest(): Promise<{ state: FitCheckpointState; checkpoint: Model } | undefined>;
  /** Save an epoch; a crash must leave the previous epoch or this one complete, never half of one. */
  save(state: FitCheckpointState, checkpoint: Model): Promise<void>;
  /** The parameters of the best epoch so far (early stopping with restoreBest), kept across resumes. */
  saveBest(checkpoint: Model): Promise<void>;
  best(): Promise<Model | undefined>;
}

/** A resumed run must be configured as the checkpointed one, or it would not continue it. */
function checkResumeConfig(saved: FitCheckpointState['config'], now: FitCheckpointState['config']): void {
  for (const k of Object.keys(now) as (keyof typeof now)[]) {
    if (saved[k] !== now[k]) {
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `cannot resume: the checkpoint was made with ${k}=${saved[k]}, this run has ${k}=${now[k]}`,
      );
    }
  }
}

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

/** One mini-batch as the callbacks see it; onBatchBegin may return a replacement. */
export interface FitBatch {
  /** Samples, row-major [count, ...shape], float32 (fit converts them to the input's element type). */
  x: Float32Array;
  y: Int32Array;
  count: number;
  /** Per-sample shape of x (a transform may change it, e.g. a crop). */
  shape: number[];
  /** 0-based index of this step in the run: with FitContext.seed, a reproducible per-step random stream. */
  step: number;
  /** Further inputs of a multi-input model, fed as given. */
  feeds?: Record<string, TensorValue>;
  /**
   * Float targets [count, ...targetShape] fed to the loss instead of the encoded labels: the split's
   * regression targets (Split.targets), or set by a callback (e.g. the clean input for a denoising
   * autoencoder).
   */
  targets?: Float32Array;
}

/** What callbacks can read about the run, and `stop`. */
export interface FitContext {
  readonly session: TrainingSession;
  readonly data: Dataset;
  readonly seed: number;
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  /** Current epoch (1-based). */
  readonly epoch: number;
  /** Optimizer steps done so far. */
  readonly globalStep: number;
  /** Learning rate of the current (or last) step. */
  readonly lr: number;
  readonly history: readonly EpochRecord[];
  /**
   * End the run after the current step: the epoch is closed as usual (validation, record,
   * checkpoint), then fit returns with stoppedEarly and this reason.
   */
  stop(reason?: string): void;
}

type Awaitable<T> = T | Promise<T>;

/**
 * Keras-style hooks, called in order of FitOptions.callbacks. Parameters, masks and other state
 * are rewritten between steps through ctx.session (updateTensors / setTensors).
 */
export interface FitCallback {
  onTrainBegin?(ctx: FitContext): Awaitable<void>;
  onEpochBegin?(epoch: number, ctx: FitContext): Awaitable<void>;
  /** Before a step; return a batch to train on instead (augmentation, extra inputs, targets). */
  onBatchBegin?(batch: FitBatch, ctx: FitContext): Awaitable<FitBatch | void>;
  /** After a step (the NaN check has passed). */
  onBatchEnd?(batch: FitBatch, result: StepResult, ctx: FitContext): Awaitable<void>;
  onEpochEnd?(record: EpochRecord, ctx: FitContext): Awaitable<void>;
  onTrainEnd?(result: FitResult, ctx: FitContext): Awaitable<void>;
}

export interface FitOptions {
  /** Epochs to run (default 1), or `steps` optimizer steps in total (takes precedence). */
  epochs?: number;
  steps?: number;
  batchSize?: number;
  /** Reshuffle the training split every epoch. Default true. */
  shuffle?: boolean;
  /** Skip a final partial batch, so every step has the same shape. Default false. */
  dropLast?: boolean;
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
  /** Save a checkpoint after every epoch here (folders: directoryCheckpoints(dir), checkpoint-files.ts). */
  checkpoints?: FitCheckpointStore;
  /** Continue from the store's last checkpoint, if there is one. */
  resume?: boolean;
  /** The loss the session trains (decides the label encoding). Default cross-entropy. */
  loss?: LossKind;
  /** Per-sample shape fed to the model (default: the dataset's sample shape); same element count. */
  inputShape?: number[];
  /** Name of the model input (default: the session's first data input). */
  inputName?: string;
  /**
   * Classes the model scores, when more than the dataset's labels cover (sampleShapeFor's
   * `classes`): one-hot targets of the mse loss get this width. Default: the dataset's classes.
   */
  classes?: number;
  callbacks?: readonly FitCallback[];
  onProgress?: (p: FitProgress) => void;
  onEpochEnd?: (r: EpochRecord) => void;
}

export interface FitResult {
  history: EpochRecord[];
  epochs: number;
  steps: number;
  /** Training samples fed (all epochs of this run, resumed ones excluded). */
  samples: number;
  /** Training samples per second over the whole run (validation excluded). */
  samples_per_sec: number;
  stoppedEarly: boolean;
  /** Why the run stopped early: 'early stopping' or a callback's reason. */
  stopReason?: string;
  bestEpoch?: number;
  /** Epoch the run resumed after (0: fresh start). */
  resumedFrom: number;
}

/** Split off a seeded random `fraction` of the training split for validation. */
export function holdOut(split: Split, fraction: number, seed: number): { train: Split; validation: Split } {
  if (!(fraction > 0 && fraction < 1))
    throw new VergeError('E_BAD_ARGUMENT', `validation fraction must be in (0, 1), got ${fraction}`);
  const n = split.count;
  const k = Math.max(1, Math.round(n * fraction));
  if (k >= n)
    throw new VergeError('E_BAD_ARGUMENT', `validation fraction ${fraction} leaves no training samples out of ${n}`);
  const p = permutation(n, seed + VALIDATION_SEED_OFFSET);
  const valIdx = Array.from(p.subarray(n - k)).sort((a, b) => a - b);
  const trainIdx = Array.from(p.subarray(0, n - k)).sort((a, b) => a - b);
  return { train: selectSamples(split, trainIdx), validation: selectSamples(split, valIdx) };
}

/** A Dataset over one labelled split (what fine-tuning and QAT train on): no test split, classes from the labels. */
export function splitDataset(train: Split, shape: number[], name = 'training split'): Dataset {
  let classes = 0;
  for (let i = 0; i < train.count; i++) classes = Math.max(classes, train.y[i]! + 1);
  const test: Split = { x: new Float32Array(0), y: new Int32Array(0), count: 0 };
  return { name, source: name, shape, classes, train, test };
}

function positiveInt(what: string, v: number): number {
  if (!(Number.isInteger(v) && v > 0))
    throw new VergeError('E_BAD_ARGUMENT', `${what} must be a positive integer, got ${v}`);
  return v;
}

/** Everything fixed before the first step: checked options, splits, step counts, schedule. */
interface FitPlan {
  batchSize: number;
  seed: number;
  shuffle: boolean;
  dropLast: boolean;
  loss: LossKind;
  shape: number[];
  inputName: string;
  classes: number;
  train: Split;
  validation?: Split;
  stepsPerEpoch: number;
  totalSteps: number;
  epochs: number;
  schedule: Schedule;
  monitor: Monitor;
  config: FitCheckpointState['config'];
}

function planFit(session: TrainingSession, data: Dataset, opts: FitOptions): FitPlan {
  const batchSize = positiveInt('batch size', opts.batchSize ?? DEFAULT_BATCH_SIZE);
  const seed = opts.seed ?? 0;
  const shuffle = opts.shuffle ?? true;
  const dropLast = opts.dropLast ?? false;
  const baseLr = opts.lr ?? session.learningRate;
  const shape = resolveInputShape(data, opts.inputShape);
  const inputName = sessionInput(session, opts.inputName);
  let train = data.train;
  let validation: Split | undefined;
  if (typeof opts.validation === 'number') ({ train, validation } = holdOut(data.train, opts.validation, seed));
  else if (opts.validation === 'test') validation = data.test;
  else if (opts.validation) validation = opts.validation;
  if (train.count === 0) throw new VergeError('E_DATA_INVALID', `no training samples in ${data.name}`);
  const stepsPerEpoch = dropLast ? Math.floor(train.count / batchSize) : Math.ceil(train.count / batchSize);
  if (stepsPerEpoch === 0)
    throw new VergeError(
      'E_DATA_INVALID',
      `${data.name} has ${train.count} training samples, fewer than one batch of ${batchSize}`,
    );
  let totalSteps: number;
  let epochs: number;
  if (opts.steps !== undefined) {
    totalSteps = positiveInt('steps', opts.steps);
    epochs = Math.ceil(totalSteps / stepsPerEpoch);
  } else {
    epochs = positiveInt('epochs', opts.epochs ?? 1);
    totalSteps = epochs * stepsPerEpoch;
  }
  const scheduleSpec = opts.schedule ?? { kind: 'constant' };
  const es = opts.earlyStopping;
  const monitor: Monitor = es?.monitor ?? (validation ? 'val_loss' : 'loss');
  if (es && monitor.startsWith('val_') && !validation)
    throw new VergeError('E_BAD_ARGUMENT', `early stopping monitors ${monitor} but there is no validation data`);
  if (es && !(Number.isInteger(es.patience) && es.patience >= 0))
    throw new VergeError('E_BAD_ARGUMENT', `early-stopping patience must be a whole number, got ${es.patience}`);
  return {
    batchSize,
    seed,
    shuffle,
    dropLast,
    loss: opts.loss ?? 'cross-entropy',
    shape,
    inputName,
    classes: Math.max(opts.classes ?? data.classes, data.classes),
    train,
    validation,
    stepsPerEpoch,
    totalSteps,
    epochs,
    schedule: makeSchedule(scheduleSpec, baseLr, totalSteps),
    monitor,
    config: { batchSize, seed, shuffle, schedule: describeSchedule(scheduleSpec), lr: baseLr },
  };
}

function improves(monitor: Monitor, value: number, best: number, minDelta: number): boolean {
  return monitor.endsWith('accuracy') ? value > best + minDelta : value < best - minDelta;
}

/** Running sums of one epoch. */
interface EpochTally {
  loss: number;
  correct: number;
  hasCorrect: boolean;
  seen: number;
  steps: number;
  started: number;
}

/** The mutable state of one fit run; its methods are the loop's phases. */
class FitRun implements FitContext {
  history: EpochRecord[] = [];
  globalStep = 0;
  epoch = 0;
  lr: number;
  startEpoch = 1;
  best: { value: number; epoch: number } | null = null;
  bestState: TrainingState | undefined;
  wait = 0;
  stopReason: string | undefined;
  trainSeconds = 0;
  trainSamples = 0;
  private readonly callbacks: readonly FitCallback[];

  constructor(
    readonly session: TrainingSession,
    readonly data: Dataset,
    readonly opts: FitOptions,
    readonly plan: FitPlan,
  ) {
    this.callbacks = opts.callbacks ?? [];
    this.lr = plan.schedule(0);
  }

  get seed(): number {
    return this.plan.seed;
  }
  get epochs(): number {
    return this.plan.epochs;
  }
  get stepsPerEpoch(): number {
    return this.plan.stepsPerEpoch;
  }
  get totalSteps(): number {
    return this.plan.totalSteps;
  }
  stop(reason = 'stopped by a callback'): void {
    this.stopReason ??= reason;
  }

  async emit<K extends keyof FitCallback>(hook: K, ...args: Parameters<NonNullable<FitCallback[K]>>): Promise<void> {
    for (const cb of this.callbacks)
      await (cb[hook] as ((...a: unknown[]) => Awaitable<unknown>) | undefined)?.call(cb, ...args);
  }

  async resume(): Promise<void> {
    const store = this.opts.checkpoints;
    if (!store || !this.opts.resume) return;
    const latest = await store.latest();
    if (!latest) return;
    const st = latest.state;
    checkResumeConfig(st.config, this.plan.config);
    this.session.restoreCheckpoint(latest.checkpoint, `checkpoint of epoch ${st.epoch}`);
    this.history = st.history;
    this.globalStep = st.globalStep;
    this.startEpoch = st.epoch + 1;
    this.best = st.best;
    this.wait = st.wait;
  }

  /** One optimizer step on a batch (after onBatchBegin's transforms). */
  async step(batch: FitBatch, tally: EpochTally): Promise<void> {
    for (const cb of this.callbacks) if (cb.onBatchBegin) batch = (await cb.onBatchBegin(batch, this)) ?? batch;
    const { plan, session } = this;
    this.lr = plan.schedule(this.globalStep);
    const x = sampleTensor(
      batch.x,
      [batch.count, ...batch.shape],
      session.inputType(plan.inputName).dtype,
      plan.inputName,
    );
    const targets = batch.targets
      ? floatTargets(batch.targets, batch.count, this.data.targetShape)
      : encodeLabels(batch.y, plan.loss, plan.classes);
    const r = await session.step({ ...batch.feeds, [plan.inputName]: x }, targets, this.lr);
    if (!Number.isFinite(r.loss)) {
      throw new VergeError(
        'E_RUNTIME',
        `training diverged: loss is ${r.loss} at step ${this.globalStep + 1} (lower the learning rate?)`,
      );
    }
    tally.loss += r.loss * batch.count;
    if (r.correct === undefined) tally.hasCorrect = false;
    else tally.correct += r.correct;
    tally.seen += batch.count;
    tally.steps++;
    this.globalStep++;
    await this.emit('onBatchEnd', batch, r, this);
    this.opts.onProgress?.({
      epoch: this.epoch,
      epochs: plan.epochs,
      step: tally.steps,
      epochSteps: Math.min(plan.stepsPerEpoch, plan.totalSteps - (this.globalStep - tally.steps)),
      globalStep: this.globalStep,
      totalSteps: plan.totalSteps,
      loss: tally.loss / tally.seen,
      ...(tally.hasCorrect ? { accuracy: tally.correct / tally.seen } : {}),
      samplesPerSec: tally.seen / Math.max((performance.now() - tally.started) / 1000, 1e-9),
      lr: this.lr,
    });
  }

  async runEpoch(epoch: number): Promise<EpochRecord> {
    const { plan } = this;
    this.epoch = epoch;
    await this.emit('onEpochBegin', epoch, this);
    const tally: EpochTally = { loss: 0, correct: 0, hasCorrect: true, seen: 0, steps: 0, started: performance.now() };
    const order = { shuffle: plan.shuffle, seed: epochShuffleSeed(plan.seed, epoch), dropLast: plan.dropLast };
    for (const b of batches(plan.train, plan.batchSize, order)) {
      if (this.globalStep >= plan.totalSteps || this.stopReason) break;
      await this.step({ ...b, shape: plan.shape, step: this.globalStep }, tally);
    }
    const seconds = (performance.now() - tally.started) / 1000;
    this.trainSeconds += seconds;
    this.trainSamples += tally.seen;
    let val: EvaluationResult | undefined;
    if (plan.validation)
      val = await evaluate(this.session, this.data, plan.validation, {
        loss: plan.loss,
        inputShape: plan.shape,
        inputName: plan.inputName,
        classes: plan.classes,
      });
    return {
      epoch,
      loss: tally.loss / Math.max(1, tally.seen),
      accuracy: tally.hasCorrect ? tally.correct / Math.max(1, tally.seen) : null,
      val_loss: val ? val.loss : null,
      val_accuracy: val ? val.accuracy : null,
      samples_per_sec: Math.round(tally.seen / Math.max(seconds, 1e-9)),
      lr: this.lr,
      steps: tally.steps,
    };
  }

  /** Early-stopping bookkeeping and the epoch checkpoint; true when patience ran out. */
  async closeEpoch(record: EpochRecord): Promise<boolean> {
    const es = this.opts.earlyStopping;
    const store = this.opts.checkpoints;
    if (es) {
      const v = record[this.plan.monitor];
      if (v !== null && (this.best === null || improves(this.plan.monitor, v, this.best.value, es.minDelta ?? 0))) {
        this.best = { value: v, epoch: record.epoch };
        this.wait = 0;
        if (es.restoreBest ?? true) {
          this.bestState = this.session.getState();
          await store?.saveBest(this.session.checkpointModel());
        }
      } else this.wait++;
    }
    if (store) {
      const { best, wait, history, globalStep } = this;
      const state: FitCheckpointState = {
        version: 1,
        epoch: record.epoch,
        globalStep,
        checkpoint: '',
        history,
        best,
        wait,
        config: this.plan.config,
      };
      await store.save(state, this.session.checkpointModel());
    }
    return !!es && this.wait > es.patience;
  }

  async restoreBest(): Promise<void> {
    if (this.bestState) return this.session.setState(this.bestState);
    const best = await this.opts.checkpoints?.best();
    if (best) this.session.restoreCheckpoint(best, 'the best checkpoint');
  }

  result(resumedFrom: number, patienceOut: boolean): FitResult {
    return {
      history: this.history,
      epochs: this.history.length,
      steps: this.globalStep,
      samples: this.trainSamples,
      samples_per_sec: this.trainSeconds > 0 ? Math.round(this.trainSamples / this.trainSeconds) : 0,
      stoppedEarly: patienceOut || this.stopReason !== undefined,
      ...(patienceOut ? { stopReason: 'early stopping' } : this.stopReason ? { stopReason: this.stopReason } : {}),
      ...(this.best ? { bestEpoch: this.best.epoch } : {}),
      resumedFrom,
    };
  }
}

/** Train `session` on `data`. */
export async function fit(session: TrainingSession, data: Dataset, opts: FitOptions = {}): Promise<FitResult> {
  const run = new FitRun(session, data, opts, planFit(session, data, opts));
  await run.resume();
  const resumedFrom = run.startEpoch - 1;
  await run.emit('onTrainBegin', run);
  let patienceOut = false;
  for (let epoch = run.startEpoch; epoch <= run.epochs && run.globalStep < run.totalSteps; epoch++) {
    const record = await run.runEpoch(epoch);
    run.history.push(record);
    opts.onEpochEnd?.(record);
    await run.emit('onEpochEnd', record, run);
    patienceOut = await run.closeEpoch(record);
    if (patienceOut || run.stopReason) break;
  }
  if (patienceOut && (opts.earlyStopping?.restoreBest ?? true)) await run.restoreBest();
  const result = run.result(resumedFrom, patienceOut);
  await run.emit('onTrainEnd', result, run);
  return result;
}
