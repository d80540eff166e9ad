/**
 * Measuring model variants: accuracy on a labelled split (and which samples each got right, for
 * paired comparisons), bytes of the serialized file, the memory its session takes when loaded,
 * and latency at several batch sizes. Latency of all variants is measured side by side
 * (round-robin over the variants, several rounds), so machine noise hits every variant alike and
 * ratios stay meaningful. Shared by `verge optimize` and bench/compression.
 */
import { VergeError } from '../errors.ts';
import type { Split } from '../data/browser.ts';
import { encodeModel, singleDataInput, type Model } from '../onnx/browser.ts';
import { countTop1 } from '../train/browser.ts';
import { measureLoadedMemory, Session, type TensorValue } from '../runtime/index.ts';
import { DEFAULT_LATENCY_BATCHES, DEFAULT_ROUNDS, DEFAULT_THREADS } from './defaults.ts';

export type Precision = 'fp32' | 'fp16' | 'int8';

export interface ModelVariant {
  name: string;
  /** Arithmetic the variant computes in (weight-only n-bit computes in fp32). */
  precision: Precision;
  /** How it was made, for reports. */
  description: string;
  model: Model;
  /** Serialized bytes (computed from `model` when absent). */
  bytes?: Uint8Array;
}

export interface LatencyStats {
  batch: number;
  /** Fastest run: on a shared, noisy machine the least disturbed measurement. */
  min_ms: number;
  p50_ms: number;
  p90_ms: number;
  mean_ms: number;
  runs: number;
  samples_per_sec: number;
}

export interface VariantMeasurement {
  name: string;
  precision: Precision;
  description: string;
  bytes: number;
  /**
   * Resident memory its onnxruntime session takes once run at each measured batch size
   * (measureLoadedMemory; empty when not measured) — what a device must hold, unlike `bytes`.
   */
  loaded: { batch: number; bytes: number }[];
  accuracy: number;
  samples: number;
  /** Which of the first `samples` test samples it classified right (1), for paired significance tests; not reported. */
  correct?: Uint8Array;
  latency: LatencyStats[];
}

export interface MeasureOptions {
  /** Batch sizes to time (default 1 and 32). */
  batches?: number[];
  /** onnxruntime intra-op threads per session (default 2: the project machines' core count). */
  threads?: number;
  /** Rounds over all variants; each round times every variant `runsPerRound` times in a row per batch size, after one untimed run. */
  rounds?: number;
  runsPerRound?: number;
  /** Accuracy on at most this many samples (default: the whole split). */
  samples?: number;
  /** Measure each variant's loaded memory (a child process per variant; default true). */
  loadedMemory?: boolean;
  onProgress?: (message: string) => void;
}

export { DEFAULT_LATENCY_BATCHES, DEFAULT_ROUNDS, DEFAULT_THREADS };
export const DEFAULT_RUNS_PER_ROUND = 5;
/** Accuracy is computed in batches of this size (throughput, not latency). */
const EVAL_BATCH = 250;

export function serialized(v: ModelVariant): Uint8Array {
  return v.bytes ?? encodeModel(v.model);
}

function dataInput(model: Model): string {
  return singleDataInput(model.graph, 'measuring').name;
}

/** Top-1 accuracy of a classifier session over a split. */
export async function measureAccuracy(
  session: Session,
  input: string,
  split: Split,
  sampleShape: number[],
  limit?: number,
): Promise<{ accuracy: number; samples: number; correct: Uint8Array }> {
  const n = Math.min(split.count, limit ?? Infinity);
  const per = sampleShape.reduce((a, b) => a * b, 1);
  const right = new Uint8Array(n);
  let correct = 0;
  for (let start = 0; start < n; start += EVAL_BATCH) {
    const b = Math.min(EVAL_BATCH, n - start);
    const x: TensorValue = {
      dtype: 'float32',
      dims: [b, ...sampleShape],
      data: split.x.subarray(start * per, (start + b) * per),
    };
    const out = await session.run({ [input]: x });
    const logits = out[session.outputNames[0]!]!;
    if (logits.dtype !== 'float32')
      throw new VergeError('E_DTYPE_MISMATCH', `classifier output is ${logits.dtype}, expected float32 logits`);
    const scores = logits.data as Float32Array;
    const classes = scores.length / b;
    for (let i = 0; i < b; i++) {
      right[start + i] = countTop1(scores.subarray(i * classes, (i + 1) * classes), split.y, 1, start + i);
      correct += right[start + i]!;
    }
  }
  return { accuracy: n ? correct / n : 0, samples: n, correct: right };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function latencyStats(batch: number, times: number[]): LatencyStats {
  const s = [...times].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  const p50 = quantile(s, 0.5);
  return {
    batch,
    min_ms: r(s[0]!),
    p50_ms: r(p50),
    p90_ms: r(quantile(s, 0.9)),
    mean_ms: r(s.reduce((a, b) => a + b, 0) / s.length),
    runs: s.length,
    samples_per_sec: Math.round((batch * 1000) / p50),
  };
}

/** Accuracy, bytes and side-by-side latency of every variant on a labelled split. */
export async function measureVariants(
  variants: ModelVariant[],
  test: Split,
  sampleShape: number[],
  opts: MeasureOptions = {},
): Promise<VariantMeasurement[]> {
  const batchSizes = opts.batches ?? DEFAULT_LATENCY_BATCHES;
  const rounds = opts.rounds ?? DEFAULT_ROUNDS;
  const runs = opts.runsPerRound ?? DEFAULT_RUNS_PER_ROUND;
  const per = sampleShape.reduce((a, b) => a * b, 1);
  if (test.count === 0) throw new VergeError('E_DATA_INVALID', 'no test samples to measure accuracy on');
  // Timing inputs: real samples (repeated when the split is smaller than the batch).
  const feedsFor = (b: number): Float32Array => {
    const x = new Float32Array(b * per);
    for (let i = 0; i < b; i++) x.set(test.x.subarray((i % test.count) * per, ((i % test.count) + 1) * per), i * per);
    return x;
  };
  const inputsByBatch = new Map(batchSizes.map((b) => [b, feedsFor(b)]));
  const sessions: {
    v: ModelVariant;
    s: Session;
    input: string;
    bytes: number;
    loaded: VariantMeasurement['loaded'];
  }[] = [];
  try {
    for (const v of variants) {
      const bytes = serialized(v);
      const threads = opts.threads ?? DEFAULT_THREADS;
      const s = await Session.create(bytes, { threads });
      const entry = {
        v,
        s,
        input: dataInput(v.model),
        bytes: bytes.length,
        loaded: [] as VariantMeasurement['loaded'],
      };
      sessions.push(entry);
      if (opts.loadedMemory ?? true) {
        opts.onProgress?.(`loaded memory of ${v.name}`);
        entry.loaded = await measureLoadedMemory(bytes, s.inputs, batchSizes, { threads });
      }
    }
    const accuracy = new Map<string, { accuracy: number; samples: number; correct: Uint8Array }>();
    for (const { v, s, input } of sessions) {
      opts.onProgress?.(`accuracy of ${v.name}`);
      accuracy.set(v.name, await measureAccuracy(s, input, test, sampleShape, opts.samples));
    }
    const times = new Map<string, number[]>();
    // Warm-up: first runs allocate and pick kernels.
    for (const { v, s, input } of sessions) {
      for (const b of batchSizes) {
        const x: TensorValue = { dtype: 'float32', dims: [b, ...sampleShape], data: inputsByBatch.get(b)! };
        for (let k = 0; k < 3; k++) await s.run({ [input]: x });
        times.set(`${v.name}@${b}`, []);
      }
    }
    // Interleaved in short blocks: each round runs every variant in turn, so a burst of load from
    // elsewhere on the machine lands on every variant alike; within a block the variant runs
    // `runs` times back to back after one untimed run, as a served model does. Timing single runs
    // alternately instead would charge each variant for caches the others just evicted, and with
    // several threads for the previous session's worker threads still spinning.
    for (let r = 0; r < rounds; r++) {
      opts.onProgress?.(`latency round ${r + 1}/${rounds}`);
      for (const b of batchSizes) {
        const x: TensorValue = { dtype: 'float32', dims: [b, ...sampleShape], data: inputsByBatch.get(b)! };
        for (const { v, s, input } of sessions) {
          await s.run({ [input]: x });
          for (let k = 0; k < runs; k++) {
            const t0 = process.hrtime.bigint();
            await s.run({ [input]: x });
            times.get(`${v.name}@${b}`)!.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
        }
      }
    }
    return sessions.map(({ v, bytes, loaded }) => ({
      name: v.name,
      precision: v.precision,
      description: v.description,
      bytes,
      loaded,
      ...accuracy.get(v.name)!,
      latency: batchSizes.map((b) => latencyStats(b, times.get(`${v.name}@${b}`)!)),
    }));
  } finally {
    for (const { s } of sessions) await s.release();
  }
}

/** Latency of a measurement at a batch size (throws when it was not measured). */
export function latencyAt(m: VariantMeasurement, batch: number): LatencyStats {
  const l = m.latency.find((x) => x.batch === batch);
  if (!l)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `latency of ${m.name} was not measured at batch ${batch} (measured: ${m.latency.map((x) => x.batch).join(', ')})`,
    );
  return l;
}
