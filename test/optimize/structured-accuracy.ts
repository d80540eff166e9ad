/**
 * Accuracy-only check of 50% structured filter pruning on the seed CNN (issue 4: <= 1.5 pt drop),
 * against both baselines: the fp32 fixture, and the fixture fine-tuned for the same epochs with the
 * same recipe (a control: extra epochs alone must not hide what pruning costs). No latency here
 * (bench/compression.ts measures speed). Full 10k test set.
 *
 *   npx tsx test/optimize/structured-accuracy.ts [--epochs 2] [--ratio 0.5] [--stages 0.25] [--threads 2]
 *
 * Prints one JSON object.
 */
import { parseArgs } from 'node:util';
import { loadFashionMnist } from '../../src/data/sources/fashion-mnist.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import type { Model } from '../../src/onnx/ir.ts';
import { measureAccuracy } from '../../src/optimize/measure.ts';
import {
  FILTER_FINETUNE_LR,
  FILTER_FINETUNE_SCHEDULE,
  finetune,
  FINETUNE_LR,
  pruneFiltersWithFinetune,
} from '../../src/optimize/prune/finetune.ts';
import { Session } from '../../src/runtime/session.ts';
import { trainedFixture, trainedFixturePath } from './helpers.ts';

const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    ratio: { type: 'string', default: '0.5' },
    stages: { type: 'string', default: '' },
    threads: { type: 'string', default: '2' },
  },
});
const epochs = Number(args.epochs);
const ratio = Number(args.ratio);
const stages = args.stages.split(',').filter(Boolean).map(Number);
const threads = Number(args.threads);
const data = loadFashionMnist();
const fixture = trainedFixture('seed_cnn_fmnist');

async function accuracy(model: Model): Promise<number> {
  const s = await Session.create(encodeModel(model), { threads });
  try {
    return (await measureAccuracy(s, 'input', data.test, data.shape)).accuracy;
  } finally {
    await s.release();
  }
}

const log = (m: string) => process.stderr.write(`${m}\n`);
const t0 = Date.now();
const fp32 = await accuracy(fixture);
log(`fixture: ${fp32}`);
const recipe = { lr: FILTER_FINETUNE_LR, schedule: FILTER_FINETUNE_SCHEDULE, threads, seed: 0 };
const control = await accuracy((await finetune(fixture, data.train, data.shape, { ...recipe, epochs })).model);
log(`control (structured recipe): ${control}`);
const controlDefault = await accuracy(
  (await finetune(fixture, data.train, data.shape, { epochs, threads, seed: 0 })).model,
);
log(`control (finetune() default, Adam ${FINETUNE_LR} constant): ${controlDefault}`);
const pruned = await pruneFiltersWithFinetune(fixture, data.train, data.shape, {
  ...recipe,
  ratio,
  norm: 'l1',
  stages,
  epochs,
});
const prunedAcc = await accuracy(pruned.model);
log(`pruned: ${prunedAcc}`);
const pt = (a: number, b: number) => Math.round((a - b) * 1e4) / 100;
console.log(
  JSON.stringify({
    model: trainedFixturePath('seed_cnn_fmnist'),
    data: { source: data.source, train: data.train.count, test: data.test.count },
    ratio,
    epochs,
    stages,
    recipe: { lr: recipe.lr, schedule: recipe.schedule },
    parameters: { before: pruned.report.parametersBefore, after: pruned.report.parametersAfter },
    layers: pruned.report.layers.map((l) => [l.name, l.before, l.after]),
    accuracy: { fixture: fp32, control, control_default_recipe: controlDefault, pruned: prunedAcc },
    drop_pt: {
      vs_fixture: pt(fp32, prunedAcc),
      vs_control: pt(control, prunedAcc),
      vs_control_default: pt(controlDefault, prunedAcc),
    },
    seconds: (Date.now() - t0) / 1000,
  }),
);
