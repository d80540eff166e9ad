/**
 * `verge train (--arch NAME | <model.onnx>) --data <name|dir> … --out <model.onnx> [--json]`:
 * train a built-in architecture or an imported ONNX model on onnxruntime and save the result as a
 * plain inference model. Recurrent nodes (GRU/LSTM) of imported models are lowered to primitives
 * for training and the trained weights are put back into the original nodes for the saved model.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { VergeError } from '../../errors.ts';
import { meanStd } from '../../data/dataset.ts';
import { loadDataset } from '../../data/load-dataset.ts';
import type { Model } from '../../onnx/ir.ts';
import { loadModel, saveModel } from '../../onnx/io.ts';
import { architectureNames, buildArchitecture } from '../../nn/architectures.ts';
import { evaluate, fit, sampleShapeFor, type EarlyStoppingOptions, type EpochRecord } from '../../train/fit.ts';
import { hasRecurrent } from '../../train/lower/recurrent.ts';
import { lowerRecurrentFor, transferParameters } from '../../train/lower/parameters.ts';
import { LOSS_KINDS, type LossKind } from '../../train/loss.ts';
import type { OptimizerKind } from '../../train/optimizer.ts';
import { parseSchedule } from '../../train/schedules.ts';
import { TrainingSession } from '../../train/session.ts';
import { emit, note, peakRssMb, progressBar, table } from '../output.ts';
import { positiveInt } from './run.ts';

const OPTIMIZERS: readonly OptimizerKind[] = ['sgd', 'adam', 'adamw'];
/** Default learning rates: PyTorch's Adam default, and a common SGD starting point. */
const DEFAULT_LR: Record<OptimizerKind, number> = { sgd: 0.01, adam: 1e-3, adamw: 1e-3 };

interface TrainOptions {
  arch?: string;
  data: string;
  epochs?: string;
  steps?: string;
  batch: string;
  optimizer: string;
  lr?: string;
  momentum?: string;
  weightDecay?: string;
  loss: string;
  shuffle: boolean;
  seed: string;
  threads?: string;
  schedule?: string;
  freeze?: string;
  clipNorm?: string;
  validation?: string;
  earlyStopping?: string;
  checkpointDir?: string;
  resume?: boolean;
  limit?: string;
  limitTest?: string;
  standardize: boolean;
  out: string;
  json?: boolean;
}

function positiveNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be a positive number, got '${value}'`);
  return n;
}

function nonNegativeNumber(flag: string, value: string | undefined): number | undefined {
  if (value !== undefined && value.trim() !== '' && Number(value) === 0) return 0;
  return positiveNumber(flag, value);
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

function checkOutPath(out: string): void {
  const dir = dirname(resolve(out));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new VergeError('E_FILE_NOT_FOUND', `output folder ${dir} does not exist`);
  if (existsSync(out) && statSync(out).isDirectory())
    throw new VergeError('E_BAD_ARGUMENT', `--out ${out} is a folder; give a file name`);
}

function fmt(v: number | null, digits = 4): string {
  return v === null ? '-' : v.toFixed(digits);
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train a built-in architecture (--arch) or an ONNX model on a dataset; saves a plain inference model')
    .argument('[model]', 'ONNX model to train (fine-tune) instead of --arch')
    .option('--arch <name>', `built-in architecture: ${architectureNames().join(', ')}`)
    .requiredOption(
      '--data <name|dir>',
      'dataset: fashion-mnist, a folder with x.npy/y.npy (+ x_test.npy/y_test.npy), or an .npz',
    )
    .option('--epochs <n>', 'epochs to train (default 1)')
    .option('--steps <n>', 'train this many optimizer steps instead of whole epochs')
    .option('--batch <n>', 'mini-batch size', '64')
    .option('--optimizer <name>', `optimizer: ${OPTIMIZERS.join(', ')}`, 'adam')
    .option('--lr <x>', 'base learning rate (default: 1e-3 for adam/adamw, 0.01 for sgd)')
    .option('--momentum <x>', 'SGD momentum (default 0)')
    .option('--weight-decay <x>', 'weight decay (L2 for sgd/adam, decoupled for adamw; adamw default 0.01)')
    .option('--loss <name>', `loss: ${LOSS_KINDS.join(', ')} (mse/bce train on one-hot targets)`, 'cross-entropy')
    .option('--no-shuffle', 'keep the data order (default: reshuffle every epoch)')
    .option('--seed <n>', 'seed for initialization, shuffling, dropout and validation split', '0')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: one per core)')
    .option(
      '--schedule <spec>',
      'learning-rate schedule: constant | step:<steps>[:<gamma>] | cosine[:<min_lr>], optionally +warmup:<steps>',
      'constant',
    )
    .option(
      '--freeze <regex>',
      'keep parameters whose names match this regular expression fixed (e.g. fine-tune only the head)',
    )
    .option('--clip-norm <x>', 'clip gradients to this global L2 norm')
    .option(
      '--validation <fraction|test>',
      "validate every epoch on a held-out fraction of the training data (e.g. 0.1) or on the test split ('test')",
    )
    .option(
      '--early-stopping <patience>',
      'stop after this many epochs without improvement of the validation loss (training loss without validation)',
    )
    .option('--checkpoint-dir <dir>', 'write a checkpoint after every epoch into this folder')
    .option('--resume', 'continue from the last checkpoint in --checkpoint-dir')
    .option(
      '--no-standardize',
      "--arch models: do not standardize inputs inside the model with the training split's mean and std",
    )
    .option('--limit <n>', 'use at most this many training samples')
    .option('--limit-test <n>', 'use at most this many test samples')
    .requiredOption('--out <model.onnx>', 'where to write the trained inference model (atomic write)')
    .option(
      '--json',
      'print one JSON object: {epochs, steps, samples_per_sec, history, test:{accuracy, loss}, peak_rss_mb, data, out}',
    )
    .action(async (modelPath: string | undefined, opts: TrainOptions) => {
      if ((modelPath === undefined) === (opts.arch === undefined)) {
        throw new VergeError(
          'E_BAD_ARGUMENT',
          'give either --arch <name> or a model file to train, not both or neither',
        );
      }
      if (opts.epochs !== undefined && opts.steps !== undefined)
        throw new VergeError('E_BAD_ARGUMENT', 'give --epochs or --steps, not both');
      if (opts.resume && !opts.checkpointDir) throw new VergeError('E_BAD_ARGUMENT', '--resume needs --checkpoint-dir');
      const optimizer = oneOf('--optimizer', opts.optimizer, OPTIMIZERS);
      const loss = oneOf<LossKind>('--loss', opts.loss, LOSS_KINDS);
      const epochs = positiveInt('--epochs', opts.epochs);
      const steps = positiveInt('--steps', opts.steps);
      const batchSize = positiveInt('--batch', opts.batch)!;
      const lr = positiveNumber('--lr', opts.lr) ?? DEFAULT_LR[optimizer];
      const seed = opts.seed.trim() === '0' ? 0 : positiveInt('--seed', opts.seed)!;
      const threads = positiveInt('--threads', opts.threads);
      const schedule = parseSchedule(opts.schedule ?? 'constant');
      const clipNorm = positiveNumber('--clip-norm', opts.clipNorm);
      const momentum = nonNegativeNumber('--momentum', opts.momentum);
      const weightDecay = nonNegativeNumber('--weight-decay', opts.weightDecay);
      let frozen: RegExp | undefined;
      if (opts.freeze !== undefined) {
        try {
          frozen = new RegExp(opts.freeze);
        } catch (e) {
          throw new VergeError('E_BAD_ARGUMENT', `--freeze is not a valid regular expression: ${(e as Error).message}`);
        }
      }
      let validation: number | 'test' | undefined;
      if (opts.validation !== undefined) {
        if (opts.validation === 'test') validation = 'test';
        else {
          const f = Number(opts.validation);
          if (!(f > 0 && f < 1))
            throw new VergeError(
              'E_BAD_ARGUMENT',
              `--validation must be a fraction in (0, 1) or 'test', got '${opts.validation}'`,
            );
          validation = f;
        }
      }
      let earlyStopping: EarlyStoppingOptions | undefined;
      if (opts.earlyStopping !== undefined)
        earlyStopping = {
          patience: opts.earlyStopping.trim() === '0' ? 0 : positiveInt('--early-stopping', opts.earlyStopping)!,
        };
      if (modelPath !== undefined && !existsSync(modelPath))
        throw new VergeError('E_FILE_NOT_FOUND', `${modelPath} does not exist`);
      checkOutPath(opts.out);

      const data = await loadDataset(opts.data, {
        limits: { train: positiveInt('--limit', opts.limit), test: positiveInt('--limit-test', opts.limitTest) },
      });
      note(
        `data: ${data.name} from ${data.source}: ${data.train.count} train / ${data.test.count} test samples of [${data.shape.join(', ')}], ${data.classes} classes`,
      );

      let source: Model;
      let standardize: { mean: number; std: number } | undefined;
      if (opts.arch !== undefined) {
        if (opts.standardize) standardize = meanStd(data.train.x);
        source = buildArchitecture(opts.arch, {
          inputShape: data.shape,
          classes: data.classes,
          seed,
          ...(standardize ? { standardize } : {}),
        });
      } else source = loadModel(modelPath!);
      const { input, shape } = sampleShapeFor(source, data);

      // GRU/LSTM: train the unrolled form, save the trained weights in the original nodes.
      let trainable = source;
      if (hasRecurrent(source)) {
        const per = shape.reduce((a, b) => a * b, 1);
        const probeBatch = Math.min(2, data.train.count);
        trainable = await lowerRecurrentFor(source, {
          [input]: { dtype: 'float32', dims: [probeBatch, ...shape], data: data.train.x.slice(0, probeBatch * per) },
        });
        note('lowered GRU/LSTM nodes to primitive ops for training');
      }

      const session = await TrainingSession.create(trainable, {
        loss,
        optimizer: {
          kind: optimizer,
          lr,
          ...(momentum !== undefined ? { momentum } : {}),
          ...(weightDecay !== undefined ? { weightDecay } : {}),
        },
        ...(frozen ? { frozen: (name: string) => frozen.test(name) } : {}),
        ...(clipNorm !== undefined ? { clipNorm } : {}),
        ...(threads !== undefined ? { threads } : {}),
        seed,
      });
      try {
        note(
          `training ${session.parameterNames.length} parameter tensors with ${optimizer} (lr ${lr}, ${opts.schedule ?? 'constant'}), batch ${batchSize}`,
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
          ...(validation !== undefined ? { validation } : {}),
          ...(earlyStopping ? { earlyStopping } : {}),
          ...(opts.checkpointDir ? { checkpointDir: opts.checkpointDir, resume: opts.resume ?? false } : {}),
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
        const test = await evaluate(session, data, data.test, { loss, inputShape: shape, inputName: input });
        let trained = session.exportModel();
        if (trainable !== source) trained = transferParameters(source, trained).model;
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
            opts.arch !== undefined
              ? { arch: opts.arch, ...(standardize ? { standardize } : {}) }
              : { file: modelPath },
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
    });
}
