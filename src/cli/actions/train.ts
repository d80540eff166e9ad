/**
 * `verge train (--arch NAME | <model.onnx>) --data <name|dir> … --out <model.onnx> [--json]`:
 * train a built-in architecture or an imported ONNX model on onnxruntime and save the result as a
 * plain inference model. Recurrent nodes (GRU/LSTM) of imported models are lowered to primitives
 * for training and the trained weights are put back into the original nodes for the saved model.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { VergeError } from '../../errors.ts';
import {
  type Dataset,
  withDataInfo,
  type DataInfo,
  standardizationFor,
  type Standardization,
  augmenter,
  describeAugment,
  parseAugment,
  kwsData,
  inverseDocumentFrequencies,
} from '../../data/browser.ts';
import { describeDataset, loadDataset } from '../../data/index.ts';
import type { Model } from '../../onnx/browser.ts';
import { loadModel, saveModel } from '../../onnx/index.ts';
import { densifySparseInitializers } from '../../optimize/index.ts';
import { buildArchitecture, SPEECH_ARCHITECTURES } from '../../nn/index.ts';
import {
  evaluate,
  fit,
  sampleShapeFor,
  type EarlyStoppingOptions,
  type EpochRecord,
  directoryCheckpoints,
  hasRecurrent,
  lowerRecurrentFor,
  transferParameters,
  type LossKind,
  type OptimizerKind,
  parseSchedule,
  TrainingSession,
  resolveFrozen,
  type FreezeSpec,
  replaceHead,
  type ClassifierHead,
} from '../../train/index.ts';
import { sourceOptionsFrom, type DataFlags } from '../data-options.ts';
import { emit, note, peakRssMb, progressBar, table } from '../output.ts';
import { trainHmm, type HmmTrainFlags } from '../hmm-train.ts';

/** Default learning rates: PyTorch's Adam default, and a common SGD starting point. */
const DEFAULT_LR: Record<OptimizerKind, number> = { sgd: 0.01, adam: 1e-3, adamw: 1e-3 };

interface TrainOptions extends DataFlags, HmmTrainFlags {
  arch?: string;
  data: string;
  epochs?: number;
  steps?: number;
  batch: number;
  optimizer: OptimizerKind;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  loss: LossKind;
  shuffle: boolean;
  seed: number;
  threads?: number;
  schedule: string;
  numClasses?: number;
  freeze?: FreezeSpec;
  trainBn: boolean;
  clipNorm?: number;
  validation?: number | 'test';
  earlyStopping?: number;
  checkpointDir?: string;
  resume?: boolean;
  limit?: number;
  limitTest?: number;
  standardize: boolean;
  augment?: string;
  noiseSnr?: [number, number];
  tokenWeights: 'idf' | 'none';
  out: string;
  json?: boolean;
}

function checkOutPath(out: string): void {
  const dir = dirname(resolve(out));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new VergeError('E_FILE_NOT_FOUND', `output folder ${dir} does not exist`);
  if (existsSync(out) && statSync(out).isDirectory())
    throw new VergeError('E_BAD_ARGUMENT', `--out ${out} is a folder; give a file name`);
}

/** What the model carries about its data so eval, run and the agent prepare inputs the same way. */
function dataInfoOf(data: Dataset): DataInfo {
  return {
    ...(data.preprocessing ? { preprocessing: data.preprocessing } : {}),
    ...(data.classNames ? { classNames: data.classNames } : {}),
    ...(data.targetShape ? { targetShape: data.targetShape } : {}),
  };
}

/** Model outputs: one score per class, or the target's values for regression data. */
function outputsOf(data: Dataset): number {
  return data.targetShape ? data.targetShape.reduce((a, b) => a * b, 1) : data.classes;
}

/** A probe batch for lowering recurrent nodes, in the input's element type. */
function probeFeed(
  data: Dataset,
  shape: number[],
): { dtype: 'float32' | 'int64'; dims: number[]; data: Float32Array | BigInt64Array } {
  const per = shape.reduce((a, b) => a * b, 1);
  const n = Math.min(2, data.train.count);
  const x = data.train.x.slice(0, n * per);
  if (data.inputDtype === 'int64')
    return { dtype: 'int64', dims: [n, ...shape], data: BigInt64Array.from(x, (v) => BigInt(v)) };
  return { dtype: 'float32', dims: [n, ...shape], data: x };
}

function fmt(v: number | null, digits = 4): string {
  return v === null ? '-' : v.toFixed(digits);
}

/**
 * `verge train (--arch NAME | <model>) --data D … --out F`
 * Long because: the steps of `verge train` in order (flag checks, data, model and head, recurrent
 * lowering, session, fit, save, report), each reading what the ones before made; naming those
 * steps as functions is still to do.
 */
export default async function train(modelPath: string | undefined, opts: TrainOptions): Promise<void> {
  if ((modelPath === undefined) === (opts.arch === undefined)) {
    throw new VergeError('E_BAD_ARGUMENT', 'give either --arch <name> or a model file to train, not both or neither');
  }
  if (opts.epochs !== undefined && opts.steps !== undefined)
    throw new VergeError('E_BAD_ARGUMENT', 'give --epochs or --steps, not both');
  if (opts.resume && !opts.checkpointDir) throw new VergeError('E_BAD_ARGUMENT', '--resume needs --checkpoint-dir');
  const { optimizer, loss, epochs, steps, seed, threads, clipNorm, momentum, weightDecay, validation } = opts;
  const batchSize = opts.batch;
  const lr = opts.lr ?? DEFAULT_LR[optimizer];
  const schedule = parseSchedule(opts.schedule);
  if (opts.numClasses !== undefined && opts.arch !== undefined)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      "--num-classes replaces the head of a model file; --arch models are built for the data's classes",
    );
  const earlyStopping: EarlyStoppingOptions | undefined =
    opts.earlyStopping !== undefined ? { patience: opts.earlyStopping } : undefined;
  if (modelPath !== undefined && !existsSync(modelPath))
    throw new VergeError('E_FILE_NOT_FOUND', `${modelPath} does not exist`);
  checkOutPath(opts.out);
  const augmentSteps = opts.augment !== undefined ? parseAugment(opts.augment) : undefined;
  const speech = opts.arch !== undefined && SPEECH_ARCHITECTURES.includes(opts.arch);
  if (opts.noiseSnr && !speech)
    throw new VergeError('E_BAD_ARGUMENT', '--noise-snr applies to the keyword spotters (--arch kws-*) only');
  const idf = opts.tokenWeights === 'idf';
  if (idf && opts.arch !== 'text-bow')
    throw new VergeError('E_BAD_ARGUMENT', '--token-weights idf applies to --arch text-bow only');

  let synth: ReturnType<typeof progressBar> | undefined;
  const loaded = await loadDataset(opts.data, {
    ...sourceOptionsFrom(opts),
    ...(loss === 'mse' ? { regression: true } : {}),
    limits: { train: opts.limit, test: opts.limitTest },
    // speech-digits synthesizes on first use: minutes, so show progress
    onProgress: (done, total) => {
      synth ??= progressBar(total, 'data [{bar}] {value}/{total} files');
      synth.update(done);
    },
  });
  synth?.stop();
  note(describeDataset(loaded));

  if (opts.arch === 'hmm') {
    if (augmentSteps) throw new VergeError('E_BAD_ARGUMENT', '--augment does not apply to --arch hmm');
    return trainHmm(loaded, opts);
  }
  // keyword spotters (kws-*) train on speech feature windows and are saved behind the speech front end
  const kws = speech ? kwsData(loaded, { seed, ...(opts.noiseSnr ? { noiseSnr: opts.noiseSnr } : {}) }) : undefined;
  const data = kws?.dataset ?? loaded;
  if (kws)
    note(
      `speech features: windows [${data.shape.join(', ')}] (frames × MFCC + deltas), per-coefficient standardization${opts.noiseSnr ? `; + a white-noise copy of each training utterance at ${opts.noiseSnr[0]}..${opts.noiseSnr[1]} dB SNR (${data.train.count} windows)` : ''}`,
    );
  const augment = augmentSteps
    ? augmenter(augmentSteps, {
        shape: data.shape,
        classes: data.classes,
        seed,
        tokens: data.vocabSize !== undefined,
        loss,
        what: data.name,
      })
    : undefined;
  if (augmentSteps) note(`augmentation on the fly: ${describeAugment(augmentSteps)}`);

  let source: Model;
  let standardize: Standardization | undefined;
  if (opts.arch !== undefined) {
    if (opts.standardize) standardize = kws ? kws.standardize : standardizationFor(data);
    source = buildArchitecture(opts.arch, {
      inputShape: data.shape,
      classes: outputsOf(data),
      seed,
      ...(standardize ? { standardize } : {}),
      ...(data.vocabSize ? { vocabSize: data.vocabSize } : {}),
      ...(idf && data.vocabSize ? { tokenWeights: inverseDocumentFrequencies(data.train, data.vocabSize) } : {}),
    });
  } else source = densifySparseInitializers(loadModel(modelPath!)); // pruned models: dense weights to train
  let head: { replaced: ClassifierHead; classes: number } | undefined;
  if (opts.numClasses !== undefined) {
    const r = replaceHead(source, opts.numClasses, { seed });
    source = r.model;
    head = { replaced: r.head, classes: opts.numClasses };
    note(
      `replaced the classifier head (${r.head.op} '${r.head.node}', ${r.head.features} → ${r.head.classes}) with a fresh ${r.head.features} → ${opts.numClasses} layer`,
    );
  }
  const { input, shape, classes, warning } = sampleShapeFor(source, data);
  if (warning) note(`warning: ${warning}`);

  // GRU/LSTM: train the unrolled form (with the default formulations: gru 'unrolled'), save the
  // trained weights in the original nodes.
  let trainable = source;
  if (hasRecurrent(source)) {
    trainable = await lowerRecurrentFor(source, { [input]: probeFeed(data, shape) }, {});
    const fused = trainable.graph.nodes.filter((n) => n.opType === 'GRU').length;
    if (trainable !== source) note('lowered GRU/LSTM nodes to primitive ops for training');
    if (fused > 0) note(`training ${fused} GRU node${fused > 1 ? 's' : ''} with the fused GRU gradient`);
  }
  const freeze = opts.freeze ? resolveFrozen(trainable, opts.freeze) : undefined;
  if (freeze) {
    const shown = freeze.trainable.length <= 4 ? `: ${freeze.trainable.join(', ')}` : '';
    note(
      `frozen ${freeze.frozen.length} of ${freeze.frozen.length + freeze.trainable.length} parameter tensors; training ${freeze.trainable.length}${shown}`,
    );
  }

  const session = await TrainingSession.create(trainable, {
    loss,
    optimizer: {
      kind: optimizer,
      lr,
      ...(momentum !== undefined ? { momentum } : {}),
      ...(weightDecay !== undefined ? { weightDecay } : {}),
    },
    ...(freeze ? { frozen: freeze.frozen } : {}),
    trainBatchNorm: opts.trainBn,
    ...(clipNorm !== undefined ? { clipNorm } : {}),
    ...(threads !== undefined ? { threads } : {}),
    seed,
  });
  try {
    note(
      `training ${session.parameterNames.length} parameter tensors with ${optimizer} (lr ${lr}, ${opts.schedule}), batch ${batchSize}`,
    );
    let progress: ReturnType<typeof progressBar> | undefined;
    const result = await fit(session, data, {
      ...(steps !== undefined ? { steps } : { epochs: epochs ?? 1 }),
      batchSize,
      shuffle: opts.shuffle,
      seed,
      lr,
      schedule,
      loss,
      inputShape: shape,
      inputName: input,
      ...(classes !== undefined ? { classes } : {}),
      ...(validation !== undefined ? { validation } : {}),
      ...(earlyStopping ? { earlyStopping } : {}),
      ...(augment ? { callbacks: [augment] } : {}),
      ...(opts.checkpointDir
        ? { checkpoints: directoryCheckpoints(opts.checkpointDir), resume: opts.resume ?? false }
        : {}),
      onProgress: (p) => {
        progress ??= progressBar(
          p.totalSteps,
          'train [{bar}] {percentage}% | epoch {epoch} | step {value}/{total} | loss {loss} | acc {acc} | {sps} samples/s',
        );
        progress.update(p.globalStep, {
          epoch: `${p.epoch}/${p.epochs}`,
          loss: p.loss.toFixed(4),
          acc: p.accuracy === undefined ? '-' : p.accuracy.toFixed(4),
          sps: Math.round(p.samplesPerSec),
        });
      },
      onEpochEnd: (r: EpochRecord) => {
        if (!process.stderr.isTTY) {
          note(
            `epoch ${r.epoch}: loss ${fmt(r.loss)} acc ${fmt(r.accuracy)} val_loss ${fmt(r.val_loss)} val_acc ${fmt(r.val_accuracy)} ${r.samples_per_sec} samples/s`,
          );
        }
      },
    });
    progress?.stop();
    if (result.stoppedEarly) note(`stopped early after epoch ${result.epochs} (best epoch ${result.bestEpoch})`);
    const test = await evaluate(session, data, data.test, {
      loss,
      inputShape: shape,
      inputName: input,
      ...(classes !== undefined ? { classes } : {}),
    });
    let trained = session.exportModel();
    if (trainable !== source) trained = transferParameters(source, trained).model;
    trained = kws ? kws.deploy(trained) : withDataInfo(trained, dataInfoOf(data));
    const bytes = saveModel(trained, opts.out);
    const report = {
      epochs: result.epochs,
      steps: result.steps,
      samples_per_sec: result.samples_per_sec,
      history: result.history,
      test: { accuracy: test.accuracy, loss: test.loss, samples: test.samples },
      peak_rss_mb: peakRssMb(),
      data: { name: data.name, source: data.source, train: data.train.count, test: data.test.count },
      model:
        opts.arch !== undefined ? { arch: opts.arch, ...(standardize ? { standardize } : {}) } : { file: modelPath },
      ...(head
        ? {
            head: {
              op: head.replaced.op,
              node: head.replaced.node,
              weight: head.replaced.weight,
              ...(head.replaced.bias ? { bias: head.replaced.bias } : {}),
              previous_classes: head.replaced.classes,
              classes: head.classes,
            },
          }
        : {}),
      ...(freeze ? { frozen_parameters: freeze.frozen.length } : {}),
      trained_parameters: session.parameterNames.length,
      train_bn: opts.trainBn,
      optimizer,
      lr,
      batch: batchSize,
      seed,
      ...(result.resumedFrom ? { resumed_from_epoch: result.resumedFrom } : {}),
      ...(result.stoppedEarly ? { stopped_early: true, best_epoch: result.bestEpoch } : {}),
      out: opts.out,
      bytes,
    };
    emit(opts, report, () =>
      [
        table(
          ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'samples/s'],
          result.history.map((h) => [
            h.epoch,
            fmt(h.loss),
            fmt(h.accuracy),
            fmt(h.val_loss),
            fmt(h.val_accuracy),
            h.samples_per_sec,
          ]),
        ),
        `test: accuracy ${(100 * test.accuracy).toFixed(2)}% loss ${test.loss.toFixed(4)} on ${test.samples} samples`,
        `${result.steps} steps at ${result.samples_per_sec} samples/s; peak RSS ${report.peak_rss_mb} MiB`,
        `wrote ${opts.out} (${bytes.toLocaleString('en-US')} bytes)`,
      ].join('\n'),
    );
  } finally {
    await session.release();
  }
}
