/**
 * Compression benchmark: the PyTorch-trained seed CNN (test/fixtures/models/seed_cnn_fmnist.onnx)
 * through every variant of the `verge optimize` sweep, measured side by side in one run: bytes,
 * accuracy on the full Fashion-MNIST test set, B=1 and B=32 latency, each as a ratio to fp32.
 * Pruned variants are measured with and without fine-tuning (train/TrainingSession).
 *
 *   npm run bench -- compression [--finetune-epochs 2] [--threads 2] [--rounds 20] [--quick]
 *
 * Targets (DESIGN.md): static int8 <= 0.27x bytes, <= 0.5 pt drop, B=32 <= 0.6x latency;
 * 80% unstructured + fine-tune <= 1 pt drop, file <= 0.35x; 50% structured + fine-tune >= 1.6x
 * faster at B=32, <= 1.5 pt drop.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { take } from '../src/data/dataset.ts';
import { loadFashionMnist } from '../src/data/sources/fashion-mnist.ts';
import { loadModel } from '../src/onnx/io.ts';
import { measureVariants, type VariantMeasurement } from '../src/optimize/measure.ts';
import { executedOps } from '../src/optimize/quantize/executed-ops.ts';
import { finetune } from '../src/optimize/prune/finetune.ts';
import { buildVariants, type BuiltVariant } from '../src/optimize/sweep.ts';
import { FIXTURE_MODELS_DIR } from '../test/fixtures/index.ts';
import { printTable, round, writeResult } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    'finetune-epochs': { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '20' },
    quick: { type: 'boolean', default: false },
  },
});
const epochs = Number(args['finetune-epochs']);
const threads = Number(args.threads);
const rounds = Number(args.rounds);
const MODEL = join(FIXTURE_MODELS_DIR, 'seed_cnn_fmnist.onnx');

const TARGETS = {
  'int8-static': { bytes: 0.27, drop_pt: 0.5, b32: 0.6 },
  pruned: { bytes: 0.35, drop_pt: 1.0 },
  filters: { b32: 1 / 1.6, drop_pt: 1.5 },
};

const t0 = Date.now();
const loadAtStart = loadavg().map((x) => round(x, 2));
const log = (m: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)}s] ${m}\n`);
const data = loadFashionMnist(args.quick ? { train: 6400, test: 2000 } : {});
log(`data: ${data.source}, ${data.train.count} train / ${data.test.count} test`);
const source = loadModel(MODEL);

const variants: BuiltVariant[] = await buildVariants(source, data, {
  finetuneEpochs: epochs,
  threads,
  seed: 0,
  onProgress: log,
});
if (epochs > 0) {
  // Control: the unpruned model fine-tuned for as many epochs. Extra epochs alone could raise the
  // accuracy of a fixture trained short of convergence, so the pruned variants' drop is also
  // reported against it (the fixture is trained 15 epochs with a cosine decay: 91.7%).
  const base = variants.find((v) => v.name === 'fp32')!;
  const control = await finetune(base.model, data.train, data.shape, {
    epochs,
    threads,
    seed: 0,
    onProgress: (step, total, loss) => {
      if (step % 100 === 0 || step === total)
        log(`fine-tuning fp32 control: step ${step}/${total} loss ${loss.toFixed(4)}`);
    },
  });
  variants.push({
    ...base,
    name: 'fp32 (+ft control)',
    description: `fp32 fine-tuned ${epochs} epoch(s) like the pruned variants, unpruned`,
    model: control.model,
    bytes: undefined,
    details: { history: control.history },
  });
  // The same pruning without fine-tuning, to show what fine-tuning buys.
  const raw = await buildVariants(source, data, { only: ['pruned', 'filters'], finetuneEpochs: 0, onProgress: log });
  for (const v of raw.filter((x) => x.name !== 'fp32')) variants.push({ ...v, name: `${v.name} (no ft)` });
}
log(`measuring ${variants.length} variants`);
const measured = await measureVariants(variants, data.test, data.shape, {
  batches: [1, 32],
  threads,
  rounds,
  onProgress: log,
});
const ref = measured.find((m) => m.name === 'fp32')!;
// Latency again with one onnxruntime thread: on a loaded 2-core machine a 2-thread run waits for
// its slower thread, so single-thread ratios are the less disturbed comparison.
let singleThread: VariantMeasurement[] | undefined;
if (threads !== 1) {
  log('latency with 1 thread');
  singleThread = await measureVariants(variants, take(data.test, 250), data.shape, {
    batches: [1, 32],
    threads: 1,
    rounds,
    onProgress: log,
  });
}

function latencyRatios(m: VariantMeasurement, base: VariantMeasurement) {
  const lat = (b: number, k: 'p50_ms' | 'min_ms') =>
    round(m.latency.find((l) => l.batch === b)![k] / base.latency.find((l) => l.batch === b)![k]);
  return {
    b1_ratio: lat(1, 'p50_ms'),
    b32_ratio: lat(32, 'p50_ms'),
    b1_ratio_min: lat(1, 'min_ms'),
    b32_ratio_min: lat(32, 'min_ms'),
  };
}

function ratios(m: VariantMeasurement) {
  const lat = (b: number, k: 'p50_ms' | 'min_ms') =>
    round(m.latency.find((l) => l.batch === b)![k] / ref.latency.find((l) => l.batch === b)![k]);
  const single = singleThread?.find((x) => x.name === m.name);
  const singleRef = singleThread?.find((x) => x.name === 'fp32');
  return {
    bytes_ratio: round(m.bytes / ref.bytes),
    accuracy_drop_pt: round((ref.accuracy - m.accuracy) * 100, 2),
    b1_ratio: lat(1, 'p50_ms'),
    b32_ratio: lat(32, 'p50_ms'),
    b1_ratio_min: lat(1, 'min_ms'),
    b32_ratio_min: lat(32, 'min_ms'),
    ...(single && singleRef ? { single_thread: { latency: single.latency, ...latencyRatios(single, singleRef) } } : {}),
  };
}

const control = measured.find((m) => m.name === 'fp32 (+ft control)');
const rows = measured.map((m) => ({
  ...m,
  ...ratios(m),
  ...(control ? { accuracy_drop_vs_control_pt: round((control.accuracy - m.accuracy) * 100, 2) } : {}),
}));
const int8 = variants.find((v) => v.name === 'int8-static')!;
const kernels = await executedOps(int8.model, 1);
const check = (name: keyof typeof TARGETS) => {
  const r = rows.find((x) => x.name === name)!;
  const t = TARGETS[name] as { bytes?: number; drop_pt: number; b32?: number };
  return {
    variant: name,
    ...(t.bytes !== undefined
      ? { bytes_ratio: r.bytes_ratio, bytes_target: t.bytes, bytes_ok: r.bytes_ratio <= t.bytes }
      : {}),
    accuracy_drop_pt: r.accuracy_drop_pt,
    ...('accuracy_drop_vs_control_pt' in r ? { accuracy_drop_vs_control_pt: r.accuracy_drop_vs_control_pt } : {}),
    drop_target_pt: t.drop_pt,
    drop_ok: r.accuracy_drop_pt <= t.drop_pt,
    // Judged on the median and on the fastest run: on a loaded shared machine the median carries
    // other processes' noise, the minimum is the least disturbed measurement. Both are reported.
    ...(t.b32 !== undefined
      ? {
          b32_ratio_p50: r.b32_ratio,
          b32_ratio_min: r.b32_ratio_min,
          ...(r.single_thread
            ? { b32_ratio_1thread_p50: r.single_thread.b32_ratio, b32_ratio_1thread_min: r.single_thread.b32_ratio_min }
            : {}),
          b32_target: round(t.b32),
          b32_ok_p50: r.b32_ratio <= t.b32,
          b32_ok_min: r.b32_ratio_min <= t.b32,
          ...(r.single_thread ? { b32_ok_1thread_p50: r.single_thread.b32_ratio <= t.b32 } : {}),
        }
      : {}),
  };
};
const targets = [check('int8-static'), check('pruned'), check('filters')];

const path = writeResult('compression', {
  model: 'test/fixtures/models/seed_cnn_fmnist.onnx',
  data: { source: data.source, train: data.train.count, test: data.test.count },
  settings: { finetune_epochs: epochs, threads, rounds, runs_per_round: 5, quick: args.quick },
  // 1/5/15-minute load averages: on a 2-core machine anything far above 2 means the latency figures carry other processes' noise.
  load_average: { start: loadAtStart, end: loadavg().map((x) => round(x, 2)) },
  variants: rows.map((r) => ({ ...r, details: variants.find((v) => v.name === r.name)?.details })),
  int8_static_kernels: kernels,
  targets,
  seconds: Math.round((Date.now() - t0) / 1000),
});

printTable(
  ['variant', 'KB', 'x bytes', 'acc %', 'drop pt', 'B=1 ms', 'x B=1', 'B=32 ms', 'x B=32', 'x B=32 (min)'],
  rows.map((r) => [
    r.name,
    (r.bytes / 1024).toFixed(1),
    r.bytes_ratio.toFixed(3),
    (r.accuracy * 100).toFixed(2),
    r.accuracy_drop_pt.toFixed(2),
    r.latency[0]!.p50_ms.toFixed(3),
    r.b1_ratio.toFixed(3),
    r.latency[1]!.p50_ms.toFixed(3),
    r.b32_ratio.toFixed(3),
    r.b32_ratio_min.toFixed(3),
  ]),
);
if (singleThread) {
  console.log(`\none onnxruntime thread (${singleThread[0]!.samples} samples for accuracy, latency side by side):`);
  printTable(
    ['variant', 'B=1 ms', 'x B=1', 'B=32 ms', 'x B=32', 'x B=32 (min)'],
    rows.map((r) => [
      r.name,
      r.single_thread!.latency[0]!.p50_ms.toFixed(3),
      r.single_thread!.b1_ratio.toFixed(3),
      r.single_thread!.latency[1]!.p50_ms.toFixed(3),
      r.single_thread!.b32_ratio.toFixed(3),
      r.single_thread!.b32_ratio_min.toFixed(3),
    ]),
  );
}
console.log(
  `\nint8-static executes: ${Object.entries(kernels.ops)
    .map(([k, v]) => `${k}×${v}`)
    .join(', ')}`,
);
for (const t of targets) console.log(`target ${t.variant}: ${JSON.stringify(t)}`);
console.log(`\nwrote ${path}`);
