/**
 * `npm run bench -- edge-codec [--full] [--train N] [--epochs N] [--eval N] [--latent K] [--bits B]`:
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
 * Quick by default (20,000 training images, 5 epochs, 2,000 test images: a loaded 2-core box);
 * --full trains on all 60,000 and measures on 10,000.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADAPT_DEFAULTS, adaptClassifier, measureAdapted } from '../src/cli/codec-adapt.ts';
import { measureCodec, sessionCodecContext, trainAutoencoder, type CodecReport } from '../src/cli/codec-train.ts';
import { take } from '../src/data/dataset.ts';
import { loadDataset } from '../src/data/load-dataset.ts';
import { decodeModel } from '../src/onnx/codec.ts';
import { Session } from '../src/runtime/index.ts';
import { codecFigures, printTable, round, writeResult } from './lib.ts';

const full = process.argv.includes('--full');
const flag = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const here = fileURLToPath(new URL('.', import.meta.url));
const SIZES = {
  train: flag('train', full ? 60_000 : 20_000),
  epochs: flag('epochs', 5),
  eval: flag('eval', full ? 10_000 : 2000),
};
/**
 * Latent 224 at 5 bits: session 6's scratch runs found latent 224 more accurate than 128 and the
 * 5-bit latents as accurate as 8-bit ones (frames ≈ 12× smaller than float32).
 */
const LATENT = flag('latent', 224);
const BITS = flag('bits', 5);
const TASK = { weight: 0.05, temperature: 2 };
const TRAIN = { batchSize: 64, lr: 2e-3, seed: 0, threads: 1 };
const ADAPT = { ...ADAPT_DEFAULTS, seed: 0, threads: 1 };

const data = await loadDataset('fashion-mnist');
const clsBytes = readFileSync(join(here, '..', 'test', 'fixtures', 'models', 'seed_cnn_fmnist.onnx'));
const cloud = await Session.create(clsBytes, { threads: 1 });
const train = { ...data, train: take(data.train, SIZES.train) };
const evalSplit = take(data.test, SIZES.eval);

const rows: Record<string, unknown>[] = [];
const row = (codec: string, loss: string, r: CodecReport, extra = {}) =>
  rows.push({ codec, loss, ...codecFigures(r), ...extra });

for (const spec of ['quantize-delta:8', 'quantize-delta:4'])
  row(spec, '-', (await measureCodec(spec, evalSplit, [1, 28, 28], { learned: async () => undefined }, cloud)).report);

for (const loss of ['mse', 'mse+task'] as const) {
  console.error(`training the learned codec (${loss}, latent ${LATENT}, ${SIZES.epochs} epochs on ${SIZES.train}) …`);
  const t0 = performance.now();
  const ae = await trainAutoencoder(train, {
    latent: LATENT,
    epochs: SIZES.epochs,
    ...TRAIN,
    ...(loss === 'mse+task' ? { task: { classifier: decodeModel(clsBytes), ...TASK } } : {}),
    onEpoch: (e, l, t) =>
      console.error(`  epoch ${e}: mse ${l.toFixed(5)}${t !== undefined ? `, task ${t.toFixed(4)}` : ''}`),
  });
  const trainS = (performance.now() - t0) / 1000;
  const ref = `bench-${loss === 'mse' ? 'mse' : 'task'}@1.0.0`;
  const spec = `learned:${ref}:${BITS}`;
  const { ctx, release } = await sessionCodecContext(ref, ae);
  const measured = await measureCodec(spec, evalSplit, [1, 28, 28], ctx, cloud);
  let adapted = {};
  if (loss === 'mse+task') {
    console.error(`adapting the cloud CNN: ${ADAPT.epochs} epochs on ${SIZES.train} originals + decoded …`);
    const t1 = performance.now();
    const decodedTrain = (await measureCodec(spec, train.train, [1, 28, 28], ctx)).decoded;
    const decodeS = (performance.now() - t1) / 1000;
    const model = await adaptClassifier(decodeModel(clsBytes), train, decodedTrain, {
      ...ADAPT,
      onEpoch: (e, l) => console.error(`  epoch ${e}: loss ${l.toFixed(4)}`),
    });
    const s = await Session.create(model, { threads: 1 });
    const r = await measureAdapted(
      s,
      evalSplit,
      measured.decoded,
      [1, 28, 28],
      measured.report.classifier!.accuracy_original,
    );
    await s.release();
    adapted = {
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
    final_mse: round(ae.history.at(-1)!.loss, 5),
    train_seconds: round(trainS, 1),
    ...adapted,
  });
  await release();
}
await cloud.release();

const path = writeResult('edge-codec', {
  mode: full ? 'full' : 'quick',
  data: data.source,
  training: { images: SIZES.train, epochs: SIZES.epochs, ...TRAIN, latent: LATENT, latent_bits: BITS, task: TASK },
  adapt_classifier: { ...ADAPT, data: 'the training images + their decoded copies (same labels)' },
  eval_images: SIZES.eval,
  classifier:
    'test/fixtures/models/seed_cnn_fmnist.onnx (the cloud model), frozen; adapted_*: that model fine-tuned by --adapt-classifier (adapted_drop_pts: the frozen model on originals minus the adapted one on decoded)',
  codecs: rows,
  target: 'learned codec >= 10x smaller than raw float32 with <= 1 pt accuracy loss on decoded samples',
});
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
    r.adapted_accuracy_decoded === undefined ? '-' : Number(r.adapted_accuracy_decoded),
    r.adapted_drop_pts === undefined ? '-' : Number(r.adapted_drop_pts),
  ]),
);
console.log(`\nwrote ${path}`);
