import type { Command } from 'commander';
import { EXECUTION_PROVIDERS } from '../../runtime/providers.ts';
import { action } from '../command.ts';
import { choice, nonNegativeInt, numberList, positiveInt } from '../options.ts';

/** Defaults: enough runs for a stable p50 on a small model in about a second. */
const DEFAULT_RUNS = 50;
const DEFAULT_WARMUP = 5;

export function register(program: Command): void {
  program
    .command('bench')
    .description('measure latency (p50/p99) and throughput of a model on onnxruntime, per batch size')
    .argument('<model>', 'ONNX model file')
    .option(
      '--batch <list>',
      'comma-separated batch sizes (the value of symbolic batch dims)',
      numberList('--batch', positiveInt('--batch')),
      [1, 32],
    )
    .option('--threads <n>', 'onnxruntime intra-op threads (default: one per physical core)', positiveInt('--threads'))
    .option('--runs <n>', 'timed runs per batch size', positiveInt('--runs'), DEFAULT_RUNS)
    .option('--warmup <n>', 'untimed runs per batch size before timing', nonNegativeInt('--warmup'), DEFAULT_WARMUP)
    .addOption(choice('--provider <ep>', 'execution provider', EXECUTION_PROVIDERS, 'cpu'))
    .option('--json', 'print one JSON object: {results:[{batch, p50_ms, p99_ms, samples_per_sec}], peak_rss_mb}')
    .action(action(() => import('../actions/bench.ts')));
}
