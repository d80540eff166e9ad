/**
 * `npm run bench -- edge-codec [--full] [--seed S] [--train N] [--epochs N] [--eval N] [--latent K] [--bits B]`:
 * the learned uplink codec's accuracy against compression (docs/edge-loop.md, "Codecs"),
 * MSE-trained against task-aware (MSE + the frozen cloud classifier's KL between original and
 * decoded inputs, src/cli/codec-train.ts), beside the quantize-delta codecs. Each learned codec is
 * trained here with `verge codec train`'s code on the same images, epochs and seed, and measured
 * through the real codec frames (B-bit latents, deflated) on held-out test images: bytes per
 * sample, × smaller than float32, PSNR, the cloud CNN's accuracy on original vs decoded images.
 * The task-aware row also has the `--adapt-classifier` column (src/cli/codec-adapt.ts): the cloud
 * CNN fine-tuned on the training images plus their decoded copies, measured on the same held-out
 * images (what the control plane answers offloaded frames with).
 *
 * Every setting defaults to the measured recipe, `verge codec train`'s defaults (src/cli/codec-recipe.ts:
 * latent 224, 5-bit latents, width 2, 8 epochs, task weight 0.05 at T 2; the adaptation 2 epochs at
 * 1e-4 on the decoded copies only). Quick by default (20,000 training images, 2,000 test images: a
 * loaded 2-core box); --full trains on the first 55,000 training images, holds out the last 5,000
 * (--val) and measures on all 10,000 test images (the split the recipe was measured on). --seed S
 * (default 0) seeds the codec's initialization and the shuffling of both trainings.
 *
 * Further options: --val N holds out the last N training images (never trained on; with --train
 * ≤ 60,000 − N) and reports the figures on them too, to choose settings by instead of the test
 * images; --losses mse+task (the objectives to train, default both); --task-weight W, --lr X;
 * --adapt-epochs N, --adapt-lr X, --adapt-data both|decoded (fine-tune on the originals and their
 * decoded copies, or on the decoded copies only); --save DIR writes each codec's encoder, decoder
 * and adapted classifier there, --from DIR measures those halves again without training (the
 * decoded training images are cached in DIR); --baselines 0 skips the quantize-delta rows;
 * --name X writes bench/results/edge-codec-X.json.
 *
 * Codec variants: --width N (filter multiplier), --task-temperature T,
 * --joint S (train the cloud CNN's copy on the reconstructions together with the codec, at S × the
 * codec's learning rate: the `joint_*` figures; a following adaptation starts from that CNN);
 * --adapt-epochs 0 skips the adaptation (to compare codecs quickly on --val).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADAPT_DEFAULTS, adaptClassifier, measureAdapted } from '../src/cli/codec-adapt.ts';
import { CODEC_RECIPE as R } from '../src/cli/codec-recipe.ts';
import { measureCodec, sessionCodecContext, trainAutoencoder, type CodecReport } from '../src/cli/codec-train.ts';
import { sliceSplit, take } from '../src/data/dataset.ts';
import { loadDataset } from '../src/data/load-dataset.ts';
import { decodeModel, encodeModel } from '../src/onnx/codec.ts';
import type { Model } from '../src/onnx/browser.ts';
import { Session } from '../src/runtime/index.ts';
import { codecFigures, printTable, round, writeResult } from './lib.ts';

const full = process.argv.includes('--full');
const flag = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const opt = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const here = fileURLToPath(new URL('.', import.meta.url));
const SIZES = {
  train: flag('train', full ? 55_000 : 20_000),
  epochs: flag('epochs', R.epochs),
  eval: flag('eval', full ? 10_000 : 2000),
  /** The last `val` training images are held out (never trained on) to choose settings by, not the test set. */
  val: flag('val', full ? 5000 : 0),
};
const LATENT = flag('latent', R.latent);
const BITS = flag('bits', R.latentBits);
const SEED = flag('seed', 0);
const JOINT = opt('joint') !== undefined ? flag('joint', 0) : undefined;
const TASK = {
  weight: flag('task-weight', R.task.weight),
  temperature: flag('task-temperature', R.task.temperature),
  ...(JOINT !== undefined ? { joint: JOINT } : {}),
};
const TRAIN = { batchSize: R.batchSize, lr: flag('lr', R.lr), seed: SEED, threads: 1, width: flag('width', R.width) };
const ADAPT = {
  ...ADAPT_DEFAULTS,
  epochs: flag('adapt-epochs', ADAPT_DEFAULTS.epochs),
  lr: flag('adapt-lr', ADAPT_DEFAULTS.lr),
  seed: SEED,
  threads: 1,
  /** `--adapt-data both|decoded`: the originals too, or the decoded copies only (the cloud answers raw inputs with the original model). */
  originals: (opt('adapt-data') ?? R.adapt.data) === 'both',
};
if (!['both', 'decoded'].includes(opt('adapt-data') ?? R.adapt.data))
  throw new Error(`--adapt-data must be both or decoded, got ${opt('adapt-data')}`);
/** Which objectives to train (`--losses mse+task` skips the MSE-only row). */
const LOSSES = (opt('losses') ?? 'mse,mse+task').split(',') as ('mse' | 'mse+task')[];
/** `--save DIR`: write each learned codec's encoder, decoder (and adapted classifier) there. */
const SAVE = opt('save');
/** `--from DIR`: take each learned codec's encoder and decoder from an earlier `--save DIR` run instead of training. */
const FROM = opt('from');
/** `--baselines 0` skips the quantize-delta rows. */
const BASELINES = flag('baselines', 1) !== 0;
/** `--name X` writes bench/results/edge-codec-X.json. */
const NAME = opt('name');

/** The load average at each stage: these runs share 2 cores with other work; the result says how much. */
const loads: { at: string; what: string; load_average: number[] }[] = [];
const mark = (what: string) =>
  loads.push({ at: new Date().toISOString(), what, load_average: loadavg().map((l) => round(l, 2)) });
mark('start');

const data = await loadDataset('fashion-mnist');
const clsBytes = readFileSync(join(here, '..', 'test', 'fixtures', 'models', 'seed_cnn_fmnist.onnx'));
const cloud = await Session.create(clsBytes, { threads: 1 });
const train = { ...data, train: take(data.train, SIZES.train) };
const evalSplit = take(data.test, SIZES.eval);
const valSplit = SIZES.val > 0 ? sliceSplit(data.train, data.train.count - SIZES.val, data.train.count) : undefined;
if (valSplit && SIZES.train > data.train.count - SIZES.val)
  throw new Error(`--val ${SIZES.val} overlaps the ${SIZES.train} training images`);
const save = (ref: string, file: string, m: Model) => {
  if (!SAVE) return;
  mkdirSync(join(SAVE, ref), { recursive: true });
  writeFileSync(join(SAVE, ref, file), encodeModel(m));
};

/** The jointly trained cloud CNN on the decoded test (and --val) images: the `joint_*` figures. */
async function measureJoint(
  model: Model,
  test: { report: CodecReport; decoded: Float32Array },
  val?: { report: CodecReport; decoded: Float32Array; split: typeof evalSplit },
): Promise<Record<string, number>> {
  const s = await Session.create(model, { threads: 1 });
  try {
    const r = await measureAdapted(s, evalSplit, test.decoded, [1, 28, 28], test.report.classifier!.accuracy_original);
    const rv = val
      ? await measureAdapted(s, val.split, val.decoded, [1, 28, 28], val.report.classifier!.accuracy_original)
      : undefined;
    return {
      ...(rv ? { val_joint_accuracy_decoded: round(rv.accuracy_decoded, 4) } : {}),
      joint_accuracy_original: round(r.accuracy_original, 4),
      joint_accuracy_decoded: round(r.accuracy_decoded, 4),
      joint_drop_pts: round(r.drop_pts, 2),
    };
  } finally {
    await s.release();
  }
}

const rows: Record<string, unknown>[] = [];
const row = (codec: string, loss: string, r: CodecReport, extra = {}) =>
  rows.push({ codec, loss, ...codecFigures(r), ...extra });

for (const spec of BASELINES ? ['quantize-delta:8', 'quantize-delta:4'] : [])
  row(spec, '-', (await measureCodec(spec, evalSplit, [1, 28, 28], { learned: async () => undefined }, cloud)).report);

for (const loss of LOSSES) {
  console.error(
    FROM
      ? `the learned codec (${loss}) from ${FROM}`
      : `training the learned codec (${loss}, latent ${LATENT}, ${SIZES.epochs} epochs on ${SIZES.train}) …`,
  );
  const t0 = performance.now();
  const ref = `bench-${loss === 'mse' ? 'mse' : 'task'}@1.0.0`;
  const fromJoint = FROM && existsSync(join(FROM, ref, 'joint-classifier.onnx'));
  const ae = FROM
    ? {
        encoder: decodeModel(readFileSync(join(FROM, ref, 'encoder.onnx'))),
        decoder: decodeModel(readFileSync(join(FROM, ref, 'decoder.onnx'))),
        sampleShape: data.shape,
        history: [],
        ...(fromJoint ? { classifier: decodeModel(readFileSync(join(FROM, ref, 'joint-classifier.onnx'))) } : {}),
      }
    : await trainAutoencoder(train, {
        latent: LATENT,
        epochs: SIZES.epochs,
        ...TRAIN,
        ...(loss === 'mse+task' ? { task: { classifier: decodeModel(clsBytes), ...TASK } } : {}),
        onEpoch: (e, l, t) => {
          mark(`${loss} codec epoch ${e}`);
          console.error(`  epoch ${e}: mse ${l.toFixed(5)}${t !== undefined ? `, task ${t.toFixed(4)}` : ''}`);
        },
      });
  const trainS = (performance.now() - t0) / 1000;
  const spec = `learned:${ref}:${BITS}`;
  const { ctx, release } = await sessionCodecContext(ref, ae);
  save(ref, 'encoder.onnx', ae.encoder);
  save(ref, 'decoder.onnx', ae.decoder);
  if (ae.classifier) save(ref, 'joint-classifier.onnx', ae.classifier);
  const measured = await measureCodec(spec, evalSplit, [1, 28, 28], ctx, cloud);
  const val = valSplit ? await measureCodec(spec, valSplit, [1, 28, 28], ctx, cloud) : undefined;
  const joint = ae.classifier
    ? await measureJoint(ae.classifier, measured, val && valSplit ? { ...val, split: valSplit } : undefined)
    : {};
  let adapted = {};
  if (loss === 'mse+task' && ADAPT.epochs > 0) {
    // the frozen figures are kept if the run is stopped during the adaptation
    writeFigures(
      {
        codec: spec,
        ...codecFigures(measured.report),
        ...(val ? { val_accuracy_decoded: round(val.report.classifier!.accuracy_decoded, 4) } : {}),
        train_seconds: round(trainS, 1),
        ...joint,
      },
      'adapting',
    );
    console.error(
      `adapting the cloud CNN: ${ADAPT.epochs} epochs on ${SIZES.train} ${ADAPT.originals ? 'originals + ' : ''}decoded …`,
    );
    const t1 = performance.now();
    // the decoded training images, cached beside the saved halves (they depend on them, the bits and the count)
    const cache = FROM && join(FROM, ref, `decoded-train-${BITS}-${SIZES.train}.f32`);
    const decodedTrain =
      cache && existsSync(cache)
        ? new Float32Array(new Uint8Array(readFileSync(cache)).buffer)
        : (await measureCodec(spec, train.train, [1, 28, 28], ctx)).decoded;
    if (cache && !existsSync(cache)) writeFileSync(cache, new Uint8Array(decodedTrain.buffer));
    const decodeS = (performance.now() - t1) / 1000;
    const model = await adaptClassifier(ae.classifier ?? decodeModel(clsBytes), train, decodedTrain, {
      ...ADAPT,
      onEpoch: (e, l) => {
        mark(`adaptation epoch ${e}`);
        console.error(`  epoch ${e}: loss ${l.toFixed(4)}`);
      },
    });
    save(ref, 'classifier.onnx', model);
    const s = await Session.create(model, { threads: 1 });
    const r = await measureAdapted(
      s,
      evalSplit,
      measured.decoded,
      [1, 28, 28],
      measured.report.classifier!.accuracy_original,
    );
    const rv = val
      ? await measureAdapted(s, valSplit!, val.decoded, [1, 28, 28], val.report.classifier!.accuracy_original)
      : undefined;
    await s.release();
    adapted = {
      ...(rv
        ? { val_adapted_accuracy_decoded: round(rv.accuracy_decoded, 4), val_adapted_drop_pts: round(rv.drop_pts, 2) }
        : {}),
      adapted_accuracy_original: round(r.accuracy_original, 4),
      adapted_accuracy_decoded: round(r.accuracy_decoded, 4),
      adapted_drop_pts: round(r.drop_pts, 2),
      adapt_decode_seconds: round(decodeS, 1),
      adapt_seconds: round((performance.now() - t1) / 1000, 1),
    };
  }
  row(spec, loss, measured.report, {
    latent: LATENT,
    latent_bits: BITS,
    ...(FROM ? { codec_from: FROM } : { final_mse: round(ae.history.at(-1)!.loss, 5) }),
    ...(val
      ? {
          val_accuracy_decoded: round(val.report.classifier!.accuracy_decoded, 4),
          val_drop_pts: round(val.report.classifier!.drop_pts, 2),
        }
      : {}),
    train_seconds: round(trainS, 1),
    ...joint,
    ...adapted,
  });
  await release();
}
await cloud.release();
mark('end');
const path = writeFigures();

/** Write the result; `current` (at `stage`): the row being measured, kept in `in_progress` while the run goes on. */
function writeFigures(current?: Record<string, unknown>, stage?: string): string {
  return writeResult(NAME ? `edge-codec-${NAME}` : 'edge-codec', {
    mode: full ? 'full' : 'quick',
    seed: SEED,
    data: data.source,
    training: { images: SIZES.train, epochs: SIZES.epochs, ...TRAIN, latent: LATENT, latent_bits: BITS, task: TASK },
    adapt_classifier:
      ADAPT.epochs > 0
        ? {
            ...ADAPT,
            from: JOINT !== undefined ? 'the jointly trained cloud CNN' : 'the cloud CNN',
            data: ADAPT.originals
              ? 'the training images + their decoded copies (same labels)'
              : 'the decoded copies of the training images (their labels)',
          }
        : 'not run (--adapt-epochs 0)',
    eval_images: SIZES.eval,
    ...(SIZES.val ? { val_images: `the last ${SIZES.val} training images (never trained on)` } : {}),
    classifier:
      'test/fixtures/models/seed_cnn_fmnist.onnx (the cloud model), frozen; joint_*: its copy trained with the codec (--joint); adapted_*: that model fine-tuned by --adapt-classifier (adapted_drop_pts / joint_drop_pts: the frozen model on originals minus the adapted / joint one on decoded)',
    codecs: rows,
    target: 'learned codec >= 10x smaller than raw float32 with <= 1 pt accuracy loss on decoded samples',
    load_averages: loads,
    ...(current ? { in_progress: { stage, ...current } } : {}),
  });
}
printTable(
  [
    'codec',
    'loss',
    'bytes/sample',
    'x smaller',
    'PSNR dB',
    'acc orig',
    'acc decoded',
    'drop pts',
    'joint: decoded',
    'adapted: decoded',
    'drop pts',
  ],
  rows.map((r) => [
    String(r.codec),
    String(r.loss),
    Number(r.bytes_per_sample),
    Number(r.ratio_vs_float32),
    r.psnr_db === null ? 'inf' : Number(r.psnr_db),
    Number(r.accuracy_original),
    Number(r.accuracy_decoded),
    Number(r.drop_pts),
    r.joint_accuracy_decoded === undefined ? '-' : Number(r.joint_accuracy_decoded),
    r.adapted_accuracy_decoded === undefined ? '-' : Number(r.adapted_accuracy_decoded),
    r.adapted_drop_pts === undefined ? '-' : Number(r.adapted_drop_pts),
  ]),
);
console.log(`\nwrote ${path}`);
