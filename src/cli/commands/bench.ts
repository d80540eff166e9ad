/**
 * `verge bench <model.onnx> [--batch 1,32] [--threads N] [--json]`: latency and throughput of a
 * model on onnxruntime, per batch size, on inputs synthesized from its declared input types.
 */
import type { Command } from 'commander';
import { VergeError } from '../../errors.ts';
import { EXECUTION_PROVIDERS, Session } from '../../runtime/index.ts';
import { emit, note, peakRssMb, progressBar, table } from '../output.ts';
import { nonNegativeInt, parseProvider, positiveInt } from './run.ts';

/** Defaults: enough runs for a stable p50 on a small model in about a second. */
export const DEFAULT_RUNS = 50;
export const DEFAULT_WARMUP = 5;

export interface BenchResult {
  batch: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  samples_per_sec: number;
  runs: number;
}

export function parseBatches(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new VergeError('E_BAD_ARGUMENT', `--batch takes a comma-separated list of positive integers, got '${value}'`);
  }
  return parts.map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(n) || n < 1) {
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `--batch takes a comma-separated list of positive integers, got '${value}'`,
      );
    }
    return n;
  });
}

/** Nearest-rank quantile of sorted samples. */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

interface BenchOptions {
  batch: string;
  threads?: string;
  runs: string;
  warmup: string;
  provider?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('measure latency (p50/p99) and throughput of a model on onnxruntime, per batch size')
    .argument('<model>', 'ONNX model file')
    .option('--batch <list>', 'comma-separated batch sizes (the value of symbolic batch dims)', '1,32')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: one per physical core)')
    .option('--runs <n>', 'timed runs per batch size', String(DEFAULT_RUNS))
    .option('--warmup <n>', 'untimed runs per batch size before timing', String(DEFAULT_WARMUP))
    .option('--provider <ep>', `execution provider: ${EXECUTION_PROVIDERS.join(', ')}`, 'cpu')
    .option('--json', 'print one JSON object: {results:[{batch, p50_ms, p99_ms, samples_per_sec}], peak_rss_mb}')
    .action(async (model: string, opts: BenchOptions) => {
      const batches = parseBatches(opts.batch);
      const threads = positiveInt('--threads', opts.threads);
      const runs = positiveInt('--runs', opts.runs)!;
      const warmup = nonNegativeInt('--warmup', opts.warmup)!;
      const provider = parseProvider(opts.provider);
      const session = await Session.create(model, { threads, executionProvider: provider });
      for (const spec of session.inputs) {
        const d0 = spec.shape?.[0];
        const wrong = typeof d0 === 'number' ? batches.find((b) => b !== d0) : undefined;
        if (wrong !== undefined) {
          throw new VergeError(
            'E_BAD_ARGUMENT',
            `input '${spec.name}' has a fixed batch of ${d0}, so it cannot run batch ${wrong}; use --batch ${d0}`,
          );
        }
      }
      note(
        `bench ${model}: batches ${batches.join(', ')}, ${runs} runs after ${warmup} warm-up, threads ${threads ?? 'default'}, ${session.executionProvider}`,
      );
      const results: BenchResult[] = [];
      const bar = progressBar(batches.length * (runs + warmup), 'bench [{bar}] {value}/{total} batch {batch}');
      let done = 0;
      for (const batch of batches) {
        const feeds = session.synthesizeInputs({ batch, seed: batch });
        for (let i = 0; i < warmup; i++) {
          await session.run(feeds);
          bar.update(++done, { batch });
        }
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          await session.run(feeds);
          times.push(performance.now() - t0);
          bar.update(++done, { batch });
        }
        times.sort((a, b) => a - b);
        const p50 = quantile(times, 0.5);
        results.push({
          batch,
          p50_ms: round(p50),
          p99_ms: round(quantile(times, 0.99)),
          mean_ms: round(times.reduce((a, b) => a + b, 0) / times.length),
          // throughput at the median latency: robust to the occasional stall of a shared machine
          samples_per_sec: round((batch * 1000) / p50, 1),
          runs,
        });
      }
      bar.stop();
      await session.release();
      const report = {
        model,
        provider: session.executionProvider,
        threads: threads ?? null,
        warmup,
        results,
        peak_rss_mb: peakRssMb(),
      };
      emit(opts, report, () =>
        [
          table(
            ['batch', 'p50 ms', 'p99 ms', 'mean ms', 'samples/s'],
            results.map((r) => [
              r.batch,
              r.p50_ms.toFixed(3),
              r.p99_ms.toFixed(3),
              r.mean_ms.toFixed(3),
              r.samples_per_sec.toFixed(1),
            ]),
          ),
          `peak RSS ${report.peak_rss_mb} MiB`,
        ].join('\n'),
      );
    });
}
