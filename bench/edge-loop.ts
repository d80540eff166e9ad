/**
 * `npm run bench -- edge-loop [--full]`: the edge data loop's figures in one run (docs/edge-loop.md).
 *
 * - joint inference: small int8 edge models (an MLP and a tiny CNN trained here, dynamically
 *   quantized) and a larger cloud model (the trained seed CNN fixture): accuracy of edge-only,
 *   cloud-only and joint at several top-1 thresholds and with thresholds calibrated on held-out
 *   training images for an offload budget (top-1 or margin), fraction offloaded, uplink bytes per 1,000 requests
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
import { Conv2d, Dense, Flatten, MaxPool, ReLU, Sequential } from '../src/nn/index.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import type { Model } from '../src/onnx/ir.ts';
import { quantizeDynamic } from '../src/optimize/quantize/dynamic.ts';
import { Session } from '../src/runtime/index.ts';
import { evaluate, fit } from '../src/train/fit.ts';
import { TrainingSession } from '../src/train/session.ts';
import { decodeModel } from '../src/onnx/codec.ts';
import { codecFigures, printTable, round, stats, writeResult } from './lib.ts';

const full = process.argv.includes('--full');
const here = fileURLToPath(new URL('.', import.meta.url));
const SIZES = full
  ? { edgeTrain: 60_000, test: 10_000, aeTrain: 60_000, aeEpochs: 5, stream: 20_000, codecEval: 2000 }
  : { edgeTrain: 20_000, test: 1000, aeTrain: 10_000, aeEpochs: 3, stream: 6000, codecEval: 500 };
const THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.9];
/** Fine-tuning epochs of the loop (2 recovered 93.5% in the last quick run; the target is 95%). */
const LOOP_EPOCHS = 3;
/** Learned codec latent bytes: 128 + the frame header stays under 3,136 / 10 bytes (the 10× target). */
const LATENT = 128;
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
/** The edge models train on the training images before this index; the rest calibrate offload thresholds. */
const VAL_START = 55_000;
const val: Split = {
  x: data.train.x.subarray(VAL_START * PER),
  y: data.train.y.subarray(VAL_START),
  count: data.train.count - VAL_START,
};
/** Offload budgets a calibrated policy aims at: the threshold is the budget's quantile on the validation split. */
const BUDGETS = [0.15, 0.2];
type Conf = ReturnType<typeof outputConfidence>[number];
const RULES: Record<'top1' | 'margin', (c: Conf) => number> = { top1: (c) => c.top1, margin: (c) => c.margin };

async function confidences(s: Session, split: Split): Promise<Conf[]> {
  const out: Conf[] = [];
  for (let at = 0; at < split.count; at += 500) {
    const n = Math.min(500, split.count - at);
    const r = await s.run({
      [s.inputNames[0]!]: { dtype: 'float32', dims: [n, 1, 28, 28], data: split.x.slice(at * PER, (at + n) * PER) },
    });
    out.push(...outputConfidence([n, 10], Object.values(r)[0]!.data as Float32Array));
  }
  return out;
}

const cloud = await Session.create(encodeModel(cloudModel), { threads: 1 });
console.error(`cloud model over ${test.count} test images (quantize-delta:8 uplink) …`);
const cloudRows: { cloud: number; cloudMs: number; codecMs: number; frame: number }[] = [];
for (let i = 0; i < test.count; i++) {
  const x = test.x.slice(i * PER, (i + 1) * PER);
  let t = performance.now();
  const enc = await encodeTensor('quantize-delta:8', { dims: [1, 1, 28, 28], data: x });
  const dec = (await decodeTensor(enc.frame)).data;
  const codecMs = performance.now() - t;
  t = performance.now();
  const c = outputConfidence([1, 10], await run1(cloud, dec))[0]!;
  cloudRows.push({ cloud: c.predicted, cloudMs: performance.now() - t, codecMs, frame: enc.frame.length });
}
const cloudOnly = cloudRows.filter((r, i) => r.cloud === test.y[i]).length / test.count;

/** Accuracy, offload fraction, uplink and latency when requests with `offload(i)` go to the cloud. */
function jointOf(edgeRows: { edge: number; edgeMs: number }[], offload: (i: number) => boolean) {
  let ok = 0;
  let off = 0;
  let bytes = 0;
  const ms: number[] = [];
  for (let i = 0; i < test.count; i++) {
    const o = offload(i);
    const r = cloudRows[i]!;
    if (o) {
      off++;
      bytes += r.frame;
    }
    if ((o ? r.cloud : edgeRows[i]!.edge) === test.y[i]) ok++;
    ms.push(edgeRows[i]!.edgeMs + (o ? r.codecMs + r.cloudMs : 0));
  }
  return {
    accuracy: round(ok / test.count, 4),
    offloaded: round(off / test.count, 4),
    uplink_bytes_per_1000: Math.round((1000 * bytes) / test.count),
    latency: stats(ms),
  };
}

async function measureEdge(name: string, model: Model) {
  const int8 = quantizeDynamic(model).model;
  const edge = await Session.create(encodeModel(int8), { threads: 1 });
  const rows: { edge: number; edgeMs: number; conf: Conf }[] = [];
  for (let i = 0; i < test.count; i++) {
    const t = performance.now();
    const conf = outputConfidence([1, 10], await run1(edge, test.x.slice(i * PER, (i + 1) * PER)))[0]!;
    rows.push({ edge: conf.predicted, edgeMs: performance.now() - t, conf });
  }
  const valConf = await confidences(edge, val);
  await edge.release();
  const accuracy = rows.filter((r, i) => r.edge === test.y[i]).length / test.count;
  const fixed = THRESHOLDS.map((th) => ({ threshold: th, ...jointOf(rows, (i) => rows[i]!.conf.top1 < th) }));
  const calibrated = (Object.keys(RULES) as (keyof typeof RULES)[]).flatMap((rule) => {
    const sorted = valConf.map(RULES[rule]).sort((a, b) => a - b);
    return BUDGETS.map((budget) => {
      const threshold = sorted[Math.floor(budget * sorted.length)]!;
      return {
        rule,
        budget,
        threshold: round(threshold, 4),
        ...jointOf(rows, (i) => RULES[rule](rows[i]!.conf) < threshold),
      };
    });
  });
  const meets = (j: { accuracy: number; offloaded: number }) => j.accuracy >= cloudOnly - 0.01 && j.offloaded <= 0.2;
  return {
    name,
    accuracy: round(accuracy, 4),
    latency: stats(rows.map((r) => r.edgeMs)),
    joint_top1_below: fixed,
    calibrated,
    target_met_by: [
      ...fixed.filter(meets).map((j) => `top-1 < ${j.threshold}`),
      ...calibrated.filter(meets).map((j) => `${j.rule} budget ${j.budget}`),
    ],
  };
}

console.error('training the edge models (MLP 784-64-10; tiny CNN conv8-conv16) …');
const mlp = new Sequential([1, 28, 28], [new Flatten(), new Dense(64), new ReLU(), new Dense(10)]).build({ seed: 0 });
const mlpFp32 = await trainModel(mlp, { ...data, train: take(data.train, SIZES.edgeTrain) }, 1, 2e-3);
const tiny = new Sequential(
  [1, 28, 28],
  [
    new Conv2d({ filters: 8, kernel: 3, padding: 'same' }),
    new ReLU(),
    new MaxPool(2),
    new Conv2d({ filters: 16, kernel: 3, padding: 'same' }),
    new ReLU(),
    new MaxPool(2),
    new Flatten(),
    new Dense(10),
  ],
).build({ seed: 0 });
const tinyFp32 = await trainModel(tiny, { ...data, train: take(data.train, VAL_START) }, 2, 2e-3);
console.error(`joint inference over ${test.count} test images …`);
const edgeModels = [
  await measureEdge(`MLP 784-64-10, 1 epoch on ${SIZES.edgeTrain}, dynamic int8`, mlpFp32),
  await measureEdge(
    `tiny CNN conv8-conv16 (3x3, maxpool) + dense 10, 2 epochs on ${VAL_START}, dynamic int8`,
    tinyFp32,
  ),
];
const jointFigures = {
  cloud_model: 'seed CNN (test/fixtures/models/seed_cnn_fmnist.onnx), fp32',
  test_images: test.count,
  cloud_only: {
    accuracy: round(cloudOnly, 4),
    latency: stats(cloudRows.map((r) => r.codecMs + r.cloudMs)),
    uplink_bytes_per_1000: Math.round((1000 * cloudRows.reduce((a, r) => a + r.frame, 0)) / test.count),
  },
  edge_models: edgeModels,
  target: 'within 1 pt of cloud-only accuracy with <= 20% offloaded',
  calibration: `thresholds of 'calibrated' rows = the budget's quantile of the edge model's top-1 or margin on training images ${VAL_START}-${data.train.count} (never trained on); the agent's policy today offloads on top-1 only (offload.below)`,
  note: 'latency in-process on onnxruntime (1 thread): edge run, plus quantize-delta:8 encode/decode and the cloud run when offloaded; no network',
};

// ---- codecs ----------------------------------------------------------------------------------
console.error(`training a learned codec (latent ${LATENT}, ${SIZES.aeEpochs} epochs on ${SIZES.aeTrain} images) …`);
const ae = await trainAutoencoder(
  { ...data, train: take(data.train, SIZES.aeTrain) },
  { latent: LATENT, epochs: SIZES.aeEpochs, batchSize: 64, lr: 2e-3, seed: 0, threads: 1 },
);
const { ctx, release } = await sessionCodecContext('bench-ae@1.0.0', ae);
const evalSplit = take(data.test, SIZES.codecEval);
const codecs = [];
for (const spec of ['lossless', 'quantize-delta:8', 'quantize-delta:4', 'learned:bench-ae@1.0.0']) {
  const { report } = await measureCodec(spec, evalSplit, [1, 28, 28], ctx, cloud);
  codecs.push({ codec: spec, ...codecFigures(report) });
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
const retrained = await trainModel(cloudModel, { ...data, train: mixed }, LOOP_EPOCHS, 5e-4);
const afterLoop = await evaluate(retrained, data, shiftedTest);
const afterLoopClean = await evaluate(retrained, data, test);
const loop = {
  shift: 'contrast x0.5 around 0.5, +0.15 brightness, noise sigma 0.05 (clipped to [0, 1])',
  accuracy_before_shift: round(before.accuracy, 4),
  accuracy_after_shift: round(afterShift.accuracy, 4),
  collected: { streamed: stream.count, kept: keep.length, rule: 'top-1 < 0.9, plus a 5% uniform sample' },
  retrain: { samples: mixed.count, replayed_clean: replay.count, epochs: LOOP_EPOCHS, lr: 5e-4 },
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
console.log(
  `joint inference (cloud only: ${cloudOnly.toFixed(4)}, uplink ${jointFigures.cloud_only.uplink_bytes_per_1000} B/1000 req)`,
);
printTable(
  ['edge model', 'offload rule', 'accuracy', 'offloaded', 'uplink B/1000 req', 'p50 ms', 'p99 ms'],
  edgeModels.flatMap((m) => [
    [m.name.split(',')[0]!, 'never (edge only)', m.accuracy.toFixed(4), '0', '0', m.latency.p50_ms, m.latency.p99_ms],
    ...[
      ...m.joint_top1_below.map((j) => ({ ...j, rule: `top-1 < ${j.threshold}` })),
      ...m.calibrated.map((j) => ({ ...j, rule: `${j.rule} < ${j.threshold} (budget ${j.budget})` })),
    ].map((j) => [
      '',
      j.rule,
      j.accuracy.toFixed(4),
      j.offloaded.toFixed(3),
      j.uplink_bytes_per_1000,
      j.latency.p50_ms,
      j.latency.p99_ms,
    ]),
  ]),
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
