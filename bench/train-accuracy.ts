/**
 * Acceptance run of the training engine: the seed CNN (DESIGN.md) on full Fashion-MNIST, Adam
 * 1e-3, batch 64, 5 epochs, test accuracy after every epoch (targets: ≥ 85% after epoch 1,
 * ≥ 90% after epoch 5). Writes bench/results/train-accuracy.json.
 *
 *   npm run bench -- train-accuracy [--epochs N] [--threads N] [--limit N] [--seed S]
 */
import { parseArgs } from 'node:util';
import { meanStd } from '../src/data/dataset.ts';
import { loadFashionMnist } from '../src/data/sources/fashion-mnist.ts';
import { buildArchitecture } from '../src/nn/architectures.ts';
import { fit } from '../src/train/fit.ts';
import { TrainingSession } from '../src/train/session.ts';
import { printTable, round, writeResult } from './lib.ts';

/** The acceptance criteria of the training issue. */
const TARGET_AFTER_EPOCH_1 = 0.85;
const TARGET_AFTER_EPOCH_5 = 0.9;
const BATCH = 64;
const LR = 1e-3;

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    limit: { type: 'string' },
    seed: { type: 'string', default: '0' },
  },
});
const epochs = Number(values.epochs);
const threads = Number(values.threads);
const seed = Number(values.seed);
const limit = values.limit ? Number(values.limit) : undefined;

const data = loadFashionMnist(limit ? { train: limit } : {});
process.stderr.write(
  `seed CNN on ${data.train.count} / ${data.test.count} Fashion-MNIST samples from ${data.source}; ${epochs} epochs, Adam ${LR}, batch ${BATCH}, ${threads} threads\n`,
);
// Inputs standardized inside the model with the training split's statistics (the model still takes [0, 1] pixels).
const standardize = meanStd(data.train.x);
const model = buildArchitecture('cnn', { inputShape: data.shape, classes: data.classes, seed, standardize });
const session = await TrainingSession.create(model, {
  loss: 'cross-entropy',
  optimizer: { kind: 'adam', lr: LR },
  threads,
  seed,
});
const started = performance.now();
let lastNote = 0;
const result = await fit(session, data, {
  epochs,
  batchSize: BATCH,
  lr: LR,
  seed,
  validation: 'test',
  onProgress: (p) => {
    const now = performance.now();
    if (now - lastNote > 15_000) {
      lastNote = now;
      process.stderr.write(
        `  epoch ${p.epoch} step ${p.step}/${p.epochSteps} loss ${p.loss.toFixed(4)} acc ${p.accuracy?.toFixed(4)} ${Math.round(p.samplesPerSec)} samples/s\n`,
      );
    }
  },
  onEpochEnd: (r) =>
    process.stderr.write(
      `epoch ${r.epoch}: train loss ${r.loss.toFixed(4)}, test accuracy ${((r.val_accuracy ?? 0) * 100).toFixed(2)}%, ${r.samples_per_sec} samples/s\n`,
    ),
});
const seconds = (performance.now() - started) / 1000;
await session.release();

const accuracyAfter = (e: number) => result.history.find((h) => h.epoch === e)?.val_accuracy ?? null;
const after1 = accuracyAfter(1);
const after5 = accuracyAfter(5);
const figures = {
  config: {
    model: 'seed CNN (nn cnn)',
    input_standardization: { mean: round(standardize.mean, 4), std: round(standardize.std, 4) },
    optimizer: 'adam',
    lr: LR,
    batch: BATCH,
    epochs,
    threads,
    seed,
    train_samples: data.train.count,
    test_samples: data.test.count,
    data_source: data.source,
  },
  test_accuracy_after_epoch_1: after1,
  test_accuracy_after_epoch_5: after5,
  targets: { after_epoch_1: TARGET_AFTER_EPOCH_1, after_epoch_5: TARGET_AFTER_EPOCH_5 },
  meets_targets:
    after1 !== null && after5 !== null ? after1 >= TARGET_AFTER_EPOCH_1 && after5 >= TARGET_AFTER_EPOCH_5 : null,
  samples_per_sec: result.samples_per_sec,
  wall_seconds: round(seconds, 1),
  history: result.history,
};
const path = writeResult('train-accuracy', figures);
printTable(
  ['epoch', 'train loss', 'train acc', 'test loss', 'test acc', 'samples/s'],
  result.history.map((h) => [
    h.epoch,
    h.loss.toFixed(4),
    (h.accuracy ?? 0).toFixed(4),
    (h.val_loss ?? 0).toFixed(4),
    (h.val_accuracy ?? 0).toFixed(4),
    h.samples_per_sec,
  ]),
);
console.log(
  `after epoch 1: ${after1 === null ? '-' : (after1 * 100).toFixed(2) + '%'} (target ${TARGET_AFTER_EPOCH_1 * 100}%), after epoch 5: ${after5 === null ? '-' : (after5 * 100).toFixed(2) + '%'} (target ${TARGET_AFTER_EPOCH_5 * 100}%)`,
);
console.log(`wrote ${path}`);
