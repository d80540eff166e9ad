/**
 * `npm run bench -- quantize [--runs N] [--threads N] [--test N]`: the trained seed CNN through
 * every quantization mode — bytes, Fashion-MNIST test accuracy, and B=1 / B=32 latency, each as a
 * ratio to float32. Latencies are measured interleaved (one run of each variant per round), so
 * machine noise hits every variant alike.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadFashionMnist } from '../src/data/sources/fashion-mnist.ts';
import { encodeModel } from '../src/onnx/codec.ts';
import { loadModel } from '../src/onnx/io.ts';
import type { Model } from '../src/onnx/ir.ts';
import {
  calibrationFromSplit,
  convertToFloat16,
  executedOps,
  measureAccuracy,
  quantizeDynamic,
  quantizeStaticCalibrated,
  quantizeWeightBits,
} from '../src/optimize/index.ts';
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

/**
 * Kernel time per B=32 run from onnxruntime's profiler (sum over nodes, median over runs): the
 * compute itself, without the JS↔native call overhead. Profiled sessions run interleaved too.
 */
async function kernelMs(
  models: Model[],
  x: { dtype: 'float32'; dims: number[]; data: Float32Array },
  runs: number,
): Promise<number[]> {
  const dirs = models.map(() => mkdtempSync(join(tmpdir(), 'verge-bench-prof-')));
  try {
    const profiled = await Promise.all(
      models.map((m, i) => Session.create(m, { threads: THREADS, profilePrefix: join(dirs[i]!, 'p') })),
    );
    for (let r = 0; r < runs; r++) for (const s of profiled) await s.run({ input: x });
    const out: number[] = [];
    for (const [i, s] of profiled.entries()) {
      s.endProfiling();
      await s.release();
      const file = readdirSync(dirs[i]!).find((f) => f.startsWith('p'))!;
      const events = JSON.parse(readFileSync(join(dirs[i]!, file), 'utf8')) as {
        cat: string;
        name: string;
        dur: number;
      }[];
      // model_run events bracket each run; kernel events follow in order
      const perRun: number[] = [];
      for (const e of events) {
        if (e.cat === 'Session' && e.name === 'model_run') perRun.push(0);
        else if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && perRun.length > 0)
          perRun[perRun.length - 1]! += e.dur;
      }
      const sorted = perRun.filter((v) => v > 0).sort((a, b) => a - b);
      out.push(round(quantile(sorted, 0.5) / 1000));
    }
    return out;
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

const kernels = await kernelMs(
  variants.map(([, m]) => m),
  { dtype: 'float32', dims: [32, ...SHAPE], data: ds.test.x.slice(0, 32 * 784) },
  Math.min(RUNS, 100),
);
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
const base = { bytes: encodeModel(fp32).length, acc: 0, b1: 0, b32: 0, b32p10: 0, kernel: 0 };
for (const [i, [name, m]] of variants.entries()) {
  const bytes = encodeModel(m).length;
  const { accuracy: acc } = await measureAccuracy(sessions[i]!, 'input', ds.test, SHAPE);
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
  const kernel = kernels[variants.findIndex(([n]) => n === name)]!;
  if (name === 'fp32') base.kernel = kernel;
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
    b32_kernel_ms: kernel,
    b32_kernel_ratio: round(kernel / base.kernel, 3),
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
    'B=32 kernel ratio',
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
        r.b32_kernel_ratio,
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
