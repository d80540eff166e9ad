/**
 * `npm run bench -- edge-loop [--full]`: the edge data loop's figures in one run (docs/edge-loop.md).
 *
 * - joint inference: a small int8 edge model (an MLP trained here, dynamically quantized) and a
 *   larger cloud model (the trained seed CNN fixture): accuracy of edge-only, cloud-only and
 *   joint at several top-1 thresholds, fraction offloaded, uplink bytes per 1,000 requests
 *   (offloaded inputs as quantize-delta:8 frames), per-request latency p50/p99 in-process (edge
 *   run + encode/decode + cloud run; no network);
 * - codecs: bytes per sample, PSNR and the cloud model's accuracy on decoded test samples for
 *   lossless, quantize-delta:4/8 and a learned codec trained here with `verge codec train`'s code;
 * - the loop under a camera change (contrast halved, +0.15 brightness, noise σ 0.05): the seed
 *   CNN's accuracy before the shift, after it, and after collecting hard examples from shifted
 *   traffic (top-1 < 0.9, plus a 5% sample), labelling them (operator: true labels) and
 *   fine-tuning with replay of clean data — evaluated on held-out shifted and clean test images.
 *
 * Quick by default (subsets sized for a loaded 2-core box); --full uses all of Fashion-MNIST.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureCodec, sessionCodecContext, trainAutoencoder } from '../src/cli/codec-train.ts';
import { decodeTensor, encodeTensor } from '../src/data/codecs/index.ts';
import { rng, take, type Dataset, type Split } from '../src/data/dataset.ts';
import { loadDataset } from '../src/data/load-dataset.ts';
import { outputConfidence } from '../src/edge/confidence.ts';
import { Dense, Flatten, ReLU, Sequential } from '../src/nn/index.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import type { Model } from '../src/onnx/ir.ts';
import { quantizeDynamic } from '../src/optimize/quantize/dynamic.ts';
import { Session } from '../src/runtime/index.ts';
import { evaluate, fit } from '../src/train/fit.ts';
import { TrainingSession } from '../src/train/session.ts';
import { decodeModel } from '../src/onnx/codec.ts';
import { printTable, round, stats, writeResult } from './lib.ts';

const full = process.argv.includes('--full');
const here = fileURLToPath(new URL('.', import.meta.url));
const SIZES = full
  ? { edgeTrain: 60_000, test: 10_000, aeTrain: 60_000, aeEpochs: 5, stream: 20_000, codecEval: 2000 }
  : { edgeTrain: 20_000, test: 1000, aeTrain: 10_000, aeEpochs: 3, stream: 6000, codecEval: 500 };
const THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.9];
const PER = 784;

const data = await loadDataset('fashion-mnist');
console.error(
  `data: ${data.source} (${data.train.count} train, ${data.test.count} test); ${full ? 'full' : 'quick'} run`,
);
const test: Split = take(data.test, SIZES.test);
const cloudModel = decodeModel(readFileSync(join(here, '..', 'test', 'fixtures', 'models', 'seed_cnn_fmnist.onnx')));

function shift(x: Float32Array, seed: number): Float32Array {
  const r = rng(seed);
  return x.map((v) => Math.min(1, Math.max(0, 0.5 + (v - 0.5) * 0.5 + 0.15 + 0.05 * (r() + r() + r() - 1.5) * 2)));
}

async function trainModel(model: Model, ds: Dataset, epochs: number, lr: number): Promise<Model> {
  const s = await TrainingSession.create(model, { loss: 'cross-entropy', optimizer: { kind: 'adam' }, threads: 1 });
  try {
    await fit(s, ds, { epochs, batchSize: 64, lr, seed: 0 });
    return s.exportModel();
  } finally {
    await s.release();
  }
}

async function run1(s: Session, x: Float32Array): Promise<Float32Array> {
  const out = await s.run({ [s.inputNames[0]!]: { dtype: 'float32', dims: [1, 1, 28, 28], data: x } });
  return Object.values(out)[0]!.data as Float32Array;
}

// ---- joint inference -------------------------------------------------------------------------
console.error('training the small edge model (MLP 784-64-10) …');
const mlp = new Sequential([1, 28, 28], [new Flatten(), new Dense(64), new ReLU(), new Dense(10)]).build({ seed: 0 });
const edgeFp32 = await trainModel(mlp, { ...data, train: take(data.train, SIZES.edgeTrain) }, 1, 2e-3);
const edgeInt8 = quantizeDynamic(edgeFp32).model;
const edge = await Session.create(encodeModel(edgeInt8), { threads: 1 });
const cloud = await Session.create(encodeModel(cloudModel), { threads: 1 });

console.error(`joint inference over ${test.count} test images …`);
const rows: {
  edge: number;
  edgeConf: number;
  cloud: number;
  edgeMs: number;
  cloudMs: number;
  codecMs: number;
  frame: number;
}[] = [];
for (let i = 0; i < test.count; i++) {
  const x = test.x.slice(i * PER, (i + 1) * PER);
  let t = performance.now();
  const e = outputConfidence([1, 10], await run1(edge, x))[0]!;
  const edgeMs = performance.now() - t;
  t = performance.now();
  const enc = await encodeTensor('quantize-delta:8', { dims: [1, 1, 28, 28], data: x });
  const dec = (await decodeTensor(enc.frame)).data;
  const codecMs = performance.now() - t;
  t = performance.now();
  const c = outputConfidence([1, 10], await run1(cloud, dec))[0]!;
  const cloudMs = performance.now() - t;
  rows.push({
    edge: e.predicted,
    edgeConf: e.top1,
    cloud: c.predicted,
    edgeMs,
    cloudMs,
    codecMs,
    frame: enc.frame.length,
  });
}
const acc = (pred: (r: (typeof rows)[number]) => number) =>
  rows.filter((r, i) => pred(r) === test.y[i]).length / rows.length;
const edgeOnly = acc((r) => r.edge);
const cloudOnly = acc((r) => r.cloud);
const joint = THRESHOLDS.map((th) => {
  const off = rows.filter((r) => r.edgeConf < th);
  return {
    threshold: th,
    accuracy: round(
      acc((r) => (r.edgeConf < th ? r.cloud : r.edge)),
      4,
    ),
    offloaded: round(off.length / rows.length, 4),
    uplink_bytes_per_1000: Math.round((1000 * off.reduce((a, r) => a + r.frame, 0)) / rows.length),
    latency: stats(rows.map((r) => r.edgeMs + (r.edgeConf < th ? r.codecMs + r.cloudMs : 0))),
  };
});
const meeting = joint.filter((j) => j.accuracy >= cloudOnly - 0.01 && j.offloaded <= 0.2);
const jointFigures = {
  edge_model: 'MLP 784-64-10, 1 epoch, dynamic int8',
  cloud_model: 'seed CNN (test/fixtures/models/seed_cnn_fmnist.onnx), fp32',
  test_images: test.count,
  edge_only: { accuracy: round(edgeOnly, 4), latency: stats(rows.map((r) => r.edgeMs)) },
  cloud_only: {
    accuracy: round(cloudOnly, 4),
    latency: stats(rows.map((r) => r.codecMs + r.cloudMs)),
    uplink_bytes_per_1000: Math.round((1000 * rows.reduce((a, r) => a + r.frame, 0)) / rows.length),
  },
  joint,
  target: 'within 1 pt of cloud-only accuracy with <= 20% offloaded',
  target_met_at: meeting.map((j) => j.threshold),
  note: 'latency in-process on onnxruntime (1 thread): edge run, plus quantize-delta:8 encode/decode and the cloud run when offloaded; no network',
};
await edge.release();

// ---- codecs ----------------------------------------------------------------------------------
console.error(`training a learned codec (latent 64, ${SIZES.aeEpochs} epochs on ${SIZES.aeTrain} images) …`);
const ae = await trainAutoencoder(
  { ...data, train: take(data.train, SIZES.aeTrain) },
  { latent: 64, epochs: SIZES.aeEpochs, batchSize: 64, lr: 2e-3, seed: 0, threads: 1 },
);
const { ctx, release } = await sessionCodecContext('bench-ae@1.0.0', ae);
const evalSplit = take(data.test, SIZES.codecEval);
const codecs = [];
for (const spec of ['lossless', 'quantize-delta:8', 'quantize-delta:4', 'learned:bench-ae@1.0.0']) {
  const { report } = await measureCodec(spec, evalSplit, [1, 28, 28], ctx, cloud);
  codecs.push({
    codec: spec,
    bytes_per_sample: round(report.bytes_per_sample, 1),
    ratio_vs_float32: round(report.ratio, 2),
    psnr_db: Number.isFinite(report.psnr_db) ? round(report.psnr_db, 2) : null,
    accuracy_original: round(report.classifier!.accuracy_original, 4),
    accuracy_decoded: round(report.classifier!.accuracy_decoded, 4),
    drop_pts: round(report.classifier!.drop_pts, 2),
  });
}
await release();
await cloud.release();

// ---- the loop under a camera change ------------------------------------------------------------
console.error(`the loop: shifted stream of ${SIZES.stream} training images → collect → label → retrain …`);
const shiftedTest: Split = { ...test, x: shift(test.x, 1) };
const before = await evaluate(cloudModel, data, test);
const afterShift = await evaluate(cloudModel, data, shiftedTest);
const stream = take(data.train, SIZES.stream);
const streamX = shift(stream.x, 2);
const probe = await Session.create(encodeModel(cloudModel), { threads: 1 });
const pick = rng(3);
const keep: number[] = [];
for (let at = 0; at < stream.count; at += 256) {
  const n = Math.min(256, stream.count - at);
  const out = await probe.run({
    input: { dtype: 'float32', dims: [n, 1, 28, 28], data: streamX.slice(at * PER, (at + n) * PER) },
  });
  const conf = outputConfidence([n, 10], Object.values(out)[0]!.data as Float32Array);
  conf.forEach((c, k) => {
    if (c.top1 < 0.9 || pick() < 0.05) keep.push(at + k);
  });
}
await probe.release();
const collected = { x: new Float32Array(keep.length * PER), y: new Int32Array(keep.length), count: keep.length };
keep.forEach((j, k) => {
  collected.x.set(streamX.subarray(j * PER, (j + 1) * PER), k * PER);
  collected.y[k] = stream.y[j]!;
});
const replay = take(
  {
    ...data.train,
    x: data.train.x.subarray(SIZES.stream * PER),
    y: data.train.y.subarray(SIZES.stream),
    count: data.train.count - SIZES.stream,
  },
  keep.length,
);
const mixed: Split = {
  x: Float32Array.from([...collected.x, ...replay.x]),
  y: Int32Array.from([...collected.y, ...replay.y]),
  count: collected.count + replay.count,
};
const retrained = await trainModel(cloudModel, { ...data, train: mixed }, 2, 5e-4);
const afterLoop = await evaluate(retrained, data, shiftedTest);
const afterLoopClean = await evaluate(retrained, data, test);
const loop = {
  shift: 'contrast x0.5 around 0.5, +0.15 brightness, noise sigma 0.05 (clipped to [0, 1])',
  accuracy_before_shift: round(before.accuracy, 4),
  accuracy_after_shift: round(afterShift.accuracy, 4),
  collected: { streamed: stream.count, kept: keep.length, rule: 'top-1 < 0.9, plus a 5% uniform sample' },
  retrain: { samples: mixed.count, replayed_clean: replay.count, epochs: 2, lr: 5e-4 },
  accuracy_after_loop: round(afterLoop.accuracy, 4),
  accuracy_after_loop_clean: round(afterLoopClean.accuracy, 4),
  recovery_vs_pre_shift: round(afterLoop.accuracy / before.accuracy, 4),
  target: 'accuracy after the loop >= 95% of the pre-shift value',
  note: 'collect/label/retrain run in-process here; the same steps over the fleet are tested in test/e2e/edge-loop-learning.test.ts',
};

const path = writeResult('edge-loop', {
  mode: full ? 'full' : 'quick',
  data: data.source,
  joint_inference: jointFigures,
  codecs,
  loop,
});
console.log('joint inference');
printTable(
  ['setup', 'accuracy', 'offloaded', 'uplink B/1000 req', 'p50 ms', 'p99 ms'],
  [
    [
      'edge only (int8 MLP)',
      edgeOnly.toFixed(4),
      '0',
      '0',
      jointFigures.edge_only.latency.p50_ms,
      jointFigures.edge_only.latency.p99_ms,
    ],
    [
      'cloud only (CNN)',
      cloudOnly.toFixed(4),
      '1',
      jointFigures.cloud_only.uplink_bytes_per_1000,
      jointFigures.cloud_only.latency.p50_ms,
      jointFigures.cloud_only.latency.p99_ms,
    ],
    ...joint.map((j) => [
      `joint, top-1 < ${j.threshold}`,
      j.accuracy.toFixed(4),
      j.offloaded.toFixed(3),
      j.uplink_bytes_per_1000,
      j.latency.p50_ms,
      j.latency.p99_ms,
    ]),
  ],
);
console.log('\ncodecs (cloud CNN on decoded test images)');
printTable(
  ['codec', 'bytes/sample', 'x smaller', 'PSNR dB', 'acc orig', 'acc decoded'],
  codecs.map((c) => [
    c.codec,
    c.bytes_per_sample,
    c.ratio_vs_float32,
    c.psnr_db ?? 'inf',
    c.accuracy_original,
    c.accuracy_decoded,
  ]),
);
console.log('\nloop under a camera change');
printTable(
  ['before shift', 'after shift', 'after loop (shifted)', 'after loop (clean)', 'recovery'],
  [
    [
      loop.accuracy_before_shift,
      loop.accuracy_after_shift,
      loop.accuracy_after_loop,
      loop.accuracy_after_loop_clean,
      loop.recovery_vs_pre_shift,
    ],
  ],
);
console.log(`\n${path}`);
