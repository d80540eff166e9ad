/**
 * verge Session vs a bare onnxruntime-node InferenceSession on the same model bytes, same
 * options and threads, runs interleaved call by call (ABBA order, so drift and thermal effects
 * fall on both), per model and batch size. Target (DESIGN.md): verge's overhead ≤ 5%.
 *
 *   npm run bench -- runtime-overhead [--threads N] [--runs R] [--models seed_cnn,mobilenet_v2]
 *
 * The baseline does what any caller of onnxruntime does per call: wrap the input buffer in an
 * ort.Tensor and run. verge additionally validates the feeds against the declared inputs and
 * converts outputs to TensorValues. This file imports onnxruntime-node directly: it is the baseline.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { Session } from '../src/runtime/session.ts';
import type { TensorValue } from '../src/runtime/tensor.ts';
import { ensureTorchvisionFixture, fixturePath, fixtureSkipReason } from '../test/fixtures/index.ts';
import { printTable, quantile, round, writeResult } from './lib.ts';

const TARGET_OVERHEAD = 0.05; // DESIGN.md: runtime overhead vs a bare onnxruntime-node session ≤ 5%
const BATCHES = [1, 32];

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: String(Math.min(2, cpus().length)) },
    runs: { type: 'string' },
    warmup: { type: 'string', default: '10' },
    models: { type: 'string', default: 'seed_cnn,mobilenet_v2' },
  },
});
const threads = Number(args.threads);
const warmup = Number(args.warmup);

/** Timed pairs per (model, batch): many for sub-millisecond calls, fewer for big ones. */
function runsFor(singleMs: number): number {
  if (args.runs) return Number(args.runs);
  // about 5 s of pairs, at least 200 pairs for small models (40 for slow ones), at most 3,000
  const floor = singleMs > 20 ? 40 : 200;
  return Math.max(floor, Math.min(3000, Math.round(5000 / Math.max(singleMs, 0.05) / 2)));
}

async function modelPath(name: string): Promise<string | undefined> {
  if (name === 'seed_cnn' || name === 'residual_block' || name === 'gru_classifier') return fixturePath(name);
  const p = await ensureTorchvisionFixture(name as 'mobilenet_v2');
  if (!p) console.error(`skipping ${name}: ${fixtureSkipReason()}`);
  return p;
}

interface Row {
  model: string;
  batch: number;
  runs: number;
  bare_p50_ms: number;
  verge_p50_ms: number;
  ratio_p50: number;
  overhead_pct: number;
  overhead_us: number;
  /** median over pairs of verge/bare for the same iteration */
  paired_ratio_median: number;
}

async function measure(name: string, path: string): Promise<Row[]> {
  const bytes = readFileSync(path);
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    logSeverityLevel: 3,
  };
  const bare = await ort.InferenceSession.create(bytes, opts);
  const verge = await Session.create(bytes, { threads, graphOptimization: 'all', executionProvider: 'cpu' });
  const rows: Row[] = [];
  for (const batch of BATCHES) {
    const feeds = verge.synthesizeInputs({ batch, seed: 1 });
    const names = Object.keys(feeds);
    const bareRun = (): Promise<unknown> => {
      const f: Record<string, ort.Tensor> = {};
      for (const n of names) {
        const v = feeds[n] as TensorValue;
        f[n] = new ort.Tensor(v.dtype as 'float32', v.data as Float32Array, v.dims);
      }
      return bare.run(f);
    };
    const vergeRun = (): Promise<unknown> => verge.run(feeds);
    for (let i = 0; i < warmup; i++) {
      await bareRun();
      await vergeRun();
    }
    const t0 = performance.now();
    await bareRun();
    const runs = runsFor(performance.now() - t0);
    const b: number[] = [];
    const v: number[] = [];
    for (let i = 0; i < runs; i++) {
      // ABBA: alternate which side goes first so neither always follows the other.
      const order = i % 2 === 0 ? [0, 1] : [1, 0];
      for (const side of order) {
        const s = performance.now();
        await (side === 0 ? bareRun() : vergeRun());
        (side === 0 ? b : v).push(performance.now() - s);
      }
    }
    const paired = b.map((x, i) => v[i]! / x).sort((x, y) => x - y);
    const bs = [...b].sort((x, y) => x - y);
    const vs = [...v].sort((x, y) => x - y);
    const bp = quantile(bs, 0.5);
    const vp = quantile(vs, 0.5);
    rows.push({
      model: name,
      batch,
      runs,
      bare_p50_ms: round(bp, 4),
      verge_p50_ms: round(vp, 4),
      ratio_p50: round(vp / bp, 4),
      overhead_pct: round((vp / bp - 1) * 100, 2),
      overhead_us: round((vp - bp) * 1000, 1),
      paired_ratio_median: round(quantile(paired, 0.5), 4),
    });
    console.error(`  ${name} batch ${batch}: ${runs} pairs done`);
  }
  await bare.release();
  await verge.release();
  return rows;
}

const rows: Row[] = [];
const skipped: Record<string, string> = {};
for (const name of args.models!.split(',').map((s) => s.trim())) {
  const path = await modelPath(name);
  if (!path) {
    skipped[name] = fixtureSkipReason() ?? 'not available';
    continue;
  }
  console.error(`measuring ${name} (${path}), threads ${threads}`);
  rows.push(...(await measure(name, path)));
}

printTable(
  ['model', 'batch', 'pairs', 'bare p50 ms', 'verge p50 ms', 'ratio', 'overhead', 'µs/call'],
  rows.map((r) => [
    r.model,
    r.batch,
    r.runs,
    r.bare_p50_ms,
    r.verge_p50_ms,
    r.ratio_p50,
    `${r.overhead_pct}%`,
    r.overhead_us,
  ]),
);
const worst = rows.reduce((m, r) => Math.max(m, r.ratio_p50 - 1), -Infinity);
console.log(
  `worst overhead ${(worst * 100).toFixed(2)}% (target ≤ ${TARGET_OVERHEAD * 100}%): ${worst <= TARGET_OVERHEAD ? 'met' : 'NOT met'}`,
);
const path = writeResult('runtime-overhead', {
  description:
    'verge Session.run vs bare onnxruntime-node InferenceSession.run, same bytes/options/threads, interleaved ABBA',
  threads,
  warmup,
  target_overhead: TARGET_OVERHEAD,
  worst_overhead: round(worst, 4),
  target_met: worst <= TARGET_OVERHEAD,
  results: rows,
  skipped,
});
console.log(`wrote ${path}`);
