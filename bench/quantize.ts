/**
 * `npm run bench -- quantize [--runs N] [--threads N] [--test N]`: the trained seed CNN through
 * every quantization mode — bytes, Fashion-MNIST test accuracy, and B=1 / B=32 latency, each as a
 * ratio to float32. Latencies are measured interleaved (one run of each variant per round), so
 * machine noise hits every variant alike.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadFashionMnist } from '../src/data/fashion-mnist.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import { loadModel } from '../src/onnx/io.ts';
import type { Model } from '../src/onnx/ir.ts';
import {
  calibrationFromSplit,
  convertToFloat16,
  executedOps,
  quantizeDynamic,
  quantizeStaticCalibrated,
  quantizeWeightBits,
} from '../src/optimize/index.ts';
import { accuracy } from '../src/optimize/quantize/test-models.ts';
import { Session } from '../src/runtime/index.ts';
import { FIXTURE_MODELS_DIR } from '../test/fixtures/index.ts';
import { printTable, quantile, round, stats, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    threads: { type: 'string', default: '1' },
    test: { type: 'string', default: '10000' },
  },
});
const RUNS = Number(values.runs);
const THREADS = Number(values.threads);
const SHAPE = [1, 28, 28];

const ds = loadFashionMnist({ train: 512, test: Number(values.test) });
const fp32 = loadModel(join(FIXTURE_MODELS_DIR, 'seed_cnn_fmnist.onnx'));
const calib = calibrationFromSplit(fp32, ds.train, SHAPE, 512, `fashion-mnist train (${ds.source})`);
const variants: [string, Model][] = [
  ['fp32', fp32],
  ['static int8 (minmax)', (await quantizeStaticCalibrated(fp32, calib, { method: 'minmax' })).model],
  ['static int8 (percentile)', (await quantizeStaticCalibrated(fp32, calib, { method: 'percentile' })).model],
  ['static int8 (entropy)', (await quantizeStaticCalibrated(fp32, calib, { method: 'entropy' })).model],
  ['dynamic int8', quantizeDynamic(fp32).model],
  ['fp16', convertToFloat16(fp32).model],
  ['weight-bits 4 (affine)', quantizeWeightBits(fp32, { bits: 4 }).model],
];

const rows: Record<string, unknown>[] = [];
const sessions = await Promise.all(variants.map(([, m]) => Session.create(m, { threads: THREADS })));
const latency: Record<string, Record<number, number[]>> = {};
for (const batch of [1, 32]) {
  const x = { dtype: 'float32' as const, dims: [batch, ...SHAPE], data: ds.test.x.slice(0, batch * 784) };
  for (const s of sessions) for (let i = 0; i < 10; i++) await s.run({ input: x }); // warm-up
  for (let r = 0; r < RUNS; r++) {
    for (const [i, s] of sessions.entries()) {
      const t0 = performance.now();
      await s.run({ input: x });
      ((latency[variants[i]![0]] ??= {})[batch] ??= []).push(performance.now() - t0);
    }
  }
}
const base = { bytes: encodeModel(fp32).length, acc: 0, b1: 0, b32: 0, b32p10: 0 };
for (const [name, m] of variants) {
  const bytes = encodeModel(m).length;
  const acc = await accuracy(m, ds.test, SHAPE);
  const b1 = stats(latency[name]![1]!).p50_ms;
  const b32 = stats(latency[name]![32]!).p50_ms;
  // p10: the machine is shared, so the quiet runs tell the kernels' own speed best
  const b32p10 = round(
    quantile(
      [...latency[name]![32]!].sort((a, c) => a - c),
      0.1,
    ),
  );
  if (name === 'fp32') Object.assign(base, { acc, b1, b32, b32p10 });
  const k = await executedOps(m);
  rows.push({
    variant: name,
    bytes,
    bytes_ratio: round(bytes / base.bytes, 4),
    accuracy: acc,
    accuracy_drop_pt: round((base.acc - acc) * 100, 2),
    b1_p50_ms: b1,
    b1_ratio: round(b1 / base.b1, 3),
    b32_p50_ms: b32,
    b32_ratio: round(b32 / base.b32, 3),
    b32_p10_ms: b32p10,
    b32_p10_ratio: round(b32p10 / base.b32p10, 3),
    int8_kernels: k.int8_kernels,
    executed_ops: k.ops,
  });
}
for (const s of sessions) await s.release();
printTable(
  [
    'variant',
    'bytes',
    'ratio',
    'accuracy',
    'drop pt',
    'B=1 ms',
    'B=1 ratio',
    'B=32 ms',
    'B=32 ratio',
    'B=32 p10 ratio',
    'int8 kernels',
  ],
  rows.map(
    (r) =>
      [
        r.variant,
        r.bytes,
        r.bytes_ratio,
        r.accuracy,
        r.accuracy_drop_pt,
        r.b1_p50_ms,
        r.b1_ratio,
        r.b32_p50_ms,
        r.b32_ratio,
        r.b32_p10_ratio,
        r.int8_kernels,
      ] as (string | number)[],
  ),
);
const path = writeResult('quantize', {
  model: 'seed_cnn_fmnist.onnx',
  test_samples: ds.test.count,
  calibration: { source: calib.source, samples: calib.samples },
  threads: THREADS,
  runs: RUNS,
  variants: rows,
});
console.log(`wrote ${path}`);
