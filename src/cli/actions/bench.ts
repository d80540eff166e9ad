/**
 * `verge bench <model.onnx> [--batch 1,32] [--threads N] [--json]`: latency and throughput of a
 * model on onnxruntime, per batch size, on inputs synthesized from its declared input types.
 */
import { VergeError } from '../../errors.ts';
import { Session, type ExecutionProvider } from '../../runtime/index.ts';
import { emit, note, peakRssMb, progressBar, table } from '../output.ts';

export interface BenchResult {
  batch: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  samples_per_sec: number;
  runs: number;
}

/** Nearest-rank quantile of sorted samples. */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

interface BenchOptions {
  batch: number[];
  threads?: number;
  runs: number;
  warmup: number;
  provider: ExecutionProvider;
  json?: boolean;
}

/** `verge bench <model> …` */
export default async function bench(model: string, opts: BenchOptions): Promise<void> {
  const { batch: batches, threads, runs, warmup, provider } = opts;
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
}
