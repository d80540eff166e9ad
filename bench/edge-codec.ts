/**
 * `npm run bench -- edge-codec [--full]`: the learned uplink codec's accuracy against compression
 * (docs/edge-loop.md, "Codecs"), MSE-trained against task-aware (MSE + the frozen cloud
 * classifier's KL between original and decoded inputs, src/cli/codec-train.ts), beside the
 * quantize-delta codecs. Each learned codec is trained here with `verge codec train`'s code on the
 * same images, epochs and seed, and measured through the real codec frames (8-bit latents,
 * deflated) on held-out test images: bytes per sample, × smaller than float32, PSNR, the cloud
 * CNN's accuracy on original vs decoded images.
 *
 * Quick by default (20,000 training images, 5 epochs, 500 test images: a loaded 2-core box);
 * --full trains on all 60,000 and measures on 2,000.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureCodec, sessionCodecContext, trainAutoencoder, type CodecReport } from '../src/cli/codec-train.ts';
import { take } from '../src/data/dataset.ts';
import { loadDataset } from '../src/data/load-dataset.ts';
import { decodeModel } from '../src/onnx/codec.ts';
import { Session } from '../src/runtime/index.ts';
import { codecFigures, printTable, round, writeResult } from './lib.ts';

const full = process.argv.includes('--full');
const here = fileURLToPath(new URL('.', import.meta.url));
const SIZES = full ? { train: 60_000, epochs: 5, eval: 2000 } : { train: 20_000, epochs: 5, eval: 500 };
const LATENT = 128;
const TASK = { weight: 0.05, temperature: 2 };
const TRAIN = { batchSize: 64, lr: 2e-3, seed: 0, threads: 1 };

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
  const { ctx, release } = await sessionCodecContext(ref, ae);
  row(`learned:${ref}`, loss, (await measureCodec(`learned:${ref}`, evalSplit, [1, 28, 28], ctx, cloud)).report, {
    latent: LATENT,
    final_mse: round(ae.history.at(-1)!.loss, 5),
    train_seconds: round(trainS, 1),
  });
  await release();
}
await cloud.release();

const path = writeResult('edge-codec', {
  mode: full ? 'full' : 'quick',
  data: data.source,
  training: { images: SIZES.train, epochs: SIZES.epochs, ...TRAIN, latent: LATENT, task: TASK },
  eval_images: SIZES.eval,
  classifier: 'test/fixtures/models/seed_cnn_fmnist.onnx (the cloud model), frozen',
  codecs: rows,
  target: 'learned codec >= 10x smaller than raw float32 with <= 1 pt accuracy loss on decoded samples',
});
printTable(
  ['codec', 'loss', 'bytes/sample', 'x smaller', 'PSNR dB', 'acc orig', 'acc decoded', 'drop pts'],
  rows.map((r) => [
    String(r.codec),
    String(r.loss),
    Number(r.bytes_per_sample),
    Number(r.ratio_vs_float32),
    r.psnr_db === null ? 'inf' : Number(r.psnr_db),
    Number(r.accuracy_original),
    Number(r.accuracy_decoded),
    Number(r.drop_pts),
  ]),
);
console.log(`\nwrote ${path}`);
