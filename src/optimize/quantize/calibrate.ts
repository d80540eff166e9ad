/**
 * Calibration: run the float model on sample inputs, observe the activations that static
 * quantization will quantize, and choose a range for each with one of three calibrators:
 * - min-max: the observed extremes;
 * - percentile: drop the tails beyond the given percentile (robust to rare outliers);
 * - entropy: TensorRT's method — the clipping threshold whose 128-level quantization of the
 *   |x| histogram loses the least information (KL divergence).
 */
import { VergeError } from '../../errors.ts';
import { cloneModel, type Model } from '../../onnx/browser.ts';
import { Session, type TensorValue } from '../../runtime/index.ts';
import type { ActivationRange } from './common.ts';
import { CALIBRATION_METHODS, DEFAULT_PERCENTILE, type CalibrationMethod } from './defaults.ts';

export { CALIBRATION_METHODS, DEFAULT_PERCENTILE, type CalibrationMethod };
/** Histogram resolution: TensorRT's entropy calibrator uses 2048 bins. */
export const HISTOGRAM_BINS = 2048;
/**
 * Quantized levels the entropy method compares against: 128 = the 7 bits of magnitude a signed
 * int8 range gives |x|; a tensor that is never negative gets all 256 levels of asymmetric uint8.
 */
export const ENTROPY_QUANT_LEVELS = 128;
export const ENTROPY_QUANT_LEVELS_NONNEGATIVE = 256;

/**
 * A calibrator sees every batch of one tensor, possibly in two passes: histogram methods need the
 * overall extremes (pass 0) before they can bin values (pass 1).
 */
export interface Calibrator {
  readonly passes: 1 | 2;
  observe(pass: number, values: Float32Array): void;
  range(): ActivationRange;
}

export class MinMaxCalibrator implements Calibrator {
  readonly passes = 1;
  min = Infinity;
  max = -Infinity;
  observe(_pass: number, values: Float32Array): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.min = lo;
    this.max = hi;
  }
  range(): ActivationRange {
    if (this.min > this.max) return { min: 0, max: 0 };
    return { min: this.min, max: this.max };
  }
}

/** Fixed-range histogram over [lo, hi]. */
class Histogram {
  readonly counts: Float64Array;
  total = 0;
  constructor(
    readonly lo: number,
    readonly hi: number,
    readonly bins: number,
  ) {
    this.counts = new Float64Array(bins);
  }
  add(v: number): void {
    const w = this.hi - this.lo;
    let b = w > 0 ? Math.floor(((v - this.lo) / w) * this.bins) : 0;
    if (b < 0) b = 0;
    else if (b >= this.bins) b = this.bins - 1;
    this.counts[b]!++;
    this.total++;
  }
  binWidth(): number {
    return (this.hi - this.lo) / this.bins;
  }
}

/** Keeps the central `percentile`% of values: the lower and upper tails of (100-p)/2 % each. */
export class PercentileCalibrator implements Calibrator {
  readonly passes = 2;
  private readonly extremes = new MinMaxCalibrator();
  private hist: Histogram | undefined;
  constructor(
    readonly percentile = DEFAULT_PERCENTILE,
    readonly bins = HISTOGRAM_BINS,
  ) {
    if (!(percentile > 50 && percentile <= 100)) {
      throw new VergeError('E_BAD_ARGUMENT', `percentile must be in (50, 100], got ${percentile}`);
    }
  }
  observe(pass: number, values: Float32Array): void {
    if (pass === 0) return this.extremes.observe(0, values);
    const { min, max } = this.extremes.range();
    this.hist ??= new Histogram(min, max, this.bins);
    for (let i = 0; i < values.length; i++) this.hist.add(values[i]!);
  }
  range(): ActivationRange {
    const ext = this.extremes.range();
    const h = this.hist;
    if (!h || h.total === 0 || this.percentile === 100) return ext;
    const tail = ((100 - this.percentile) / 200) * h.total;
    const w = h.binWidth();
    // lower edge: first bin where the cumulative count exceeds the tail
    let acc = 0;
    let lowBin = 0;
    for (; lowBin < h.bins; lowBin++) {
      acc += h.counts[lowBin]!;
      if (acc > tail) break;
    }
    acc = 0;
    let highBin = h.bins - 1;
    for (; highBin >= 0; highBin--) {
      acc += h.counts[highBin]!;
      if (acc > tail) break;
    }
    // A tensor that never goes below 0 (ReLU) keeps min 0 exactly: no reason to clip the lower side.
    const min = ext.min >= 0 ? ext.min : Math.max(ext.min, h.lo + lowBin * w);
    const max = Math.min(ext.max, h.lo + (highBin + 1) * w);
    return { min, max: Math.max(min, max) };
  }
}

/**
 * KL-divergence threshold search over the |x| histogram (Migacz, "8-bit Inference with TensorRT",
 * GTC 2017). Candidate thresholds are bin edges i = 128..2048; for each, the reference distribution
 * P is the first i bins with the clipped tail added to the last one, and Q is P quantized to 128
 * levels and expanded back over the non-empty bins. The threshold of least KL(P||Q) wins.
 */
export class EntropyCalibrator implements Calibrator {
  readonly passes = 2;
  private readonly extremes = new MinMaxCalibrator();
  private hist: Histogram | undefined;
  constructor(
    readonly bins = HISTOGRAM_BINS,
    readonly levels?: number,
  ) {}
  observe(pass: number, values: Float32Array): void {
    if (pass === 0) return this.extremes.observe(0, values);
    const { min, max } = this.extremes.range();
    this.hist ??= new Histogram(0, Math.max(Math.abs(min), Math.abs(max)), this.bins);
    for (let i = 0; i < values.length; i++) this.hist.add(Math.abs(values[i]!));
  }
  /** The chosen |x| threshold. */
  threshold(): number {
    const h = this.hist;
    const ext = this.extremes.range();
    const absmax = Math.max(Math.abs(ext.min), Math.abs(ext.max));
    if (!h || h.total === 0 || absmax === 0) return absmax;
    // The zero spike of ReLU outputs would dominate P and pull the threshold down: as NVIDIA's
    // pytorch-quantization does, bin 0 counts like its neighbour.
    const hist = Float64Array.from(h.counts);
    hist[0] = hist[1]!;
    const n = this.levels ?? (ext.min >= 0 ? ENTROPY_QUANT_LEVELS_NONNEGATIVE : ENTROPY_QUANT_LEVELS);
    let bestKl = Infinity;
    let bestI = h.bins;
    const p = new Float64Array(h.bins);
    const q = new Float64Array(h.bins);
    let tailFromI = 0;
    for (let k = n; k < h.bins; k++) tailFromI += hist[k]!;
    for (let i = n; i <= h.bins; i++) {
      // P: first i bins, outliers folded into the last one
      for (let k = 0; k < i; k++) p[k] = hist[k]!;
      p[i - 1]! += tailFromI;
      if (i < h.bins) tailFromI -= hist[i]!;
      // Q: merge the i bins of the *unclipped* histogram into n levels, spread each level's mass
      // uniformly over its non-empty bins
      const per = i / n;
      for (let j = 0; j < n; j++) {
        const start = Math.floor(j * per);
        const end = j === n - 1 ? i : Math.floor((j + 1) * per);
        let mass = 0;
        let nonEmpty = 0;
        for (let k = start; k < end; k++) {
          mass += hist[k]!;
          if (hist[k]! > 0) nonEmpty++;
        }
        for (let k = start; k < end; k++) q[k] = hist[k]! > 0 ? mass / nonEmpty : 0;
      }
      const kl = klDivergence(p, q, i);
      if (kl < bestKl) {
        bestKl = kl;
        bestI = i;
      }
    }
    return Math.min(absmax, bestI * h.binWidth());
  }
  range(): ActivationRange {
    const ext = this.extremes.range();
    const t = this.threshold();
    return { min: Math.max(ext.min, -t), max: Math.min(ext.max, t) };
  }
}

/** KL(P||Q) over the first `len` entries of two unnormalized histograms; Q=0 where P>0 costs a lot. */
function klDivergence(p: Float64Array, q: Float64Array, len: number): number {
  let sp = 0;
  let sq = 0;
  for (let k = 0; k < len; k++) {
    sp += p[k]!;
    sq += q[k]!;
  }
  if (sp === 0) return 0;
  if (sq === 0) return Infinity;
  let kl = 0;
  // Smoothing for bins Q misses entirely (as TensorRT/onnxruntime do): a tiny epsilon mass.
  const EPS = 1e-4;
  for (let k = 0; k < len; k++) {
    const pk = p[k]! / sp;
    if (pk === 0) continue;
    const qk = q[k]! > 0 ? q[k]! / sq : EPS / sq;
    kl += pk * Math.log(pk / qk);
  }
  return kl;
}

export interface CalibratorOptions {
  method: CalibrationMethod;
  percentile?: number;
  bins?: number;
}

export function makeCalibrator(opts: CalibratorOptions): Calibrator {
  switch (opts.method) {
    case 'minmax':
      return new MinMaxCalibrator();
    case 'percentile':
      return new PercentileCalibrator(opts.percentile ?? DEFAULT_PERCENTILE, opts.bins ?? HISTOGRAM_BINS);
    case 'entropy':
      return new EntropyCalibrator(opts.bins ?? HISTOGRAM_BINS);
    default:
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `unknown calibration method '${String(opts.method)}' (expected ${CALIBRATION_METHODS.join(', ')})`,
      );
  }
}

/** Sample inputs for calibration: a list of feed batches for the model's inputs. */
export interface CalibrationData {
  /** Where the samples came from (a dataset name and source, a folder, or 'random'). */
  source: string;
  samples: number;
  batches: Record<string, TensorValue>[];
}

export interface CalibrateOptions extends CalibratorOptions {
  /** Called after each batch of each pass. */
  onProgress?: (done: number, total: number) => void;
  threads?: number;
}

export interface CalibrationResult {
  ranges: Record<string, ActivationRange>;
  method: CalibrationMethod;
  source: string;
  samples: number;
  /** Observed extremes per tensor (before the calibrator clipped them), for reports. */
  observed: Record<string, ActivationRange>;
}

/**
 * Observe `tensors` (float32 values of the model) over the calibration batches and return a range
 * for each. The model is run with those tensors added as outputs.
 */
export async function calibrate(
  model: Model,
  tensors: readonly string[],
  data: CalibrationData,
  opts: CalibrateOptions,
): Promise<CalibrationResult> {
  if (data.batches.length === 0) throw new VergeError('E_BAD_ARGUMENT', 'calibration needs at least one sample');
  const augmented = cloneModel(model);
  const existing = new Set(augmented.graph.outputs.map((o) => o.name));
  for (const t of tensors) {
    if (!existing.has(t)) augmented.graph.outputs.push({ name: t, type: { kind: 'tensor', dtype: 'float32' } });
  }
  const session = await Session.create(augmented, { threads: opts.threads });
  const calibrators = new Map(tensors.map((t) => [t, makeCalibrator(opts)]));
  const extremes = new Map(tensors.map((t) => [t, new MinMaxCalibrator()]));
  const passes = Math.max(1, ...[...calibrators.values()].map((c) => c.passes));
  const total = passes * data.batches.length;
  let done = 0;
  try {
    for (let pass = 0; pass < passes; pass++) {
      for (const feeds of data.batches) {
        const out = await session.run(feeds, tensors);
        for (const t of tensors) {
          const v = out[t];
          if (!v || v.dtype !== 'float32') {
            throw new VergeError(
              'E_DTYPE_MISMATCH',
              `calibration: tensor '${t}' is ${v?.dtype ?? 'missing'}, expected float32`,
            );
          }
          const c = calibrators.get(t)!;
          if (pass < c.passes) c.observe(pass, v.data as Float32Array);
          if (pass === 0) extremes.get(t)!.observe(0, v.data as Float32Array);
        }
        opts.onProgress?.(++done, total);
      }
    }
  } finally {
    await session.release();
  }
  const ranges: Record<string, ActivationRange> = {};
  const observed: Record<string, ActivationRange> = {};
  for (const t of tensors) {
    ranges[t] = calibrators.get(t)!.range();
    observed[t] = extremes.get(t)!.range();
  }
  return { ranges, observed, method: opts.method, source: data.source, samples: data.samples };
}
