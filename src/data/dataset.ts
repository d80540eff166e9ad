/**
 * Datasets as verge's training, evaluation and calibration code sees them: float32 samples and
 * integer class labels, already split into train and test.
 */
import { VergeError } from '../errors.ts';
import type { Preprocessing } from './preprocessing.ts';

export interface Split {
  /**
   * Samples, row-major [count, ...shape], float32. Token datasets (`inputDtype: 'int64'`) keep
   * their token ids here as exact integers (below 2^24: vocabularies are bounded far below that)
   * and are fed to models as int64.
   */
  x: Float32Array;
  /** Class labels, one per sample (zeros for regression datasets). */
  y: Int32Array;
  /** Regression targets, row-major [count, ...targetShape] (regression datasets only). */
  targets?: Float32Array;
  count: number;
}

/** Things a source left out, grouped by reason, with the first few names. */
export interface SkippedItems {
  reason: string;
  count: number;
  /** The first few skipped items (file names, row numbers), at most MAX_SKIP_EXAMPLES. */
  examples: string[];
}

/** What a data source read and what it skipped: every command using data reports it. */
export interface SourceReport {
  /** Registry name of the source that read the data ('idx', 'image-folder', ...). */
  format: string;
  /** Counts of what was read, e.g. {files: 4, samples: 2500}. */
  read: Record<string, number>;
  skipped: SkippedItems[];
  /** Decisions the user should know about: held-out test split, imputed values, ... */
  notes: string[];
}

export interface Dataset {
  name: string;
  /** Where the data came from (a path, or 'repo subset'), reported by every command using data. */
  source: string;
  /** Shape of one sample, e.g. [1, 28, 28]. */
  shape: number[];
  classes: number;
  train: Split;
  test: Split;
  /** Class names by label index, when the source knows them (folder names, CSV label values). */
  classNames?: string[];
  /** 'int64': samples are token ids (Split.x holds them as exact integers). Default float32. */
  inputDtype?: 'float32' | 'int64';
  /** Token datasets: ids are below this (the embedding table's row count). */
  vocabSize?: number;
  /** Regression datasets: the shape of one target (Split.targets); classes is then 0. */
  targetShape?: number[];
  /** How raw inputs become samples; saved into models trained on this data (preprocessing.ts). */
  preprocessing?: Preprocessing;
  /** What the source read and skipped. */
  report?: SourceReport;
}

export interface Batch {
  x: Float32Array;
  y: Int32Array;
  /** Regression targets of the batch (when the split has them). */
  targets?: Float32Array;
  count: number;
}

/** mulberry32: small, fast, seedable PRNG (deterministic shuffles and initializers). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates permutation of 0..n-1 with a seeded generator. */
export function permutation(n: number, seed: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const r = rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

export interface BatchOptions {
  shuffle?: boolean;
  seed?: number;
  /** Drop a final partial batch (keeps every training step the same shape). */
  dropLast?: boolean;
}

/** Iterate over mini-batches of a split (copies samples into fresh contiguous buffers). */
export function* batches(split: Split, batchSize: number, opts: BatchOptions = {}): Generator<Batch> {
  if (!(batchSize > 0))
    throw new VergeError('E_BAD_ARGUMENT', `batch size must be a positive integer, got ${batchSize}`);
  const n = split.count;
  const per = n === 0 ? 0 : split.x.length / n;
  const tper = split.targets && n ? split.targets.length / n : 0;
  const order = opts.shuffle ? permutation(n, opts.seed ?? 0) : undefined;
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    if (opts.dropLast && count < batchSize) return;
    const x = new Float32Array(count * per);
    const y = new Int32Array(count);
    const targets = split.targets ? new Float32Array(count * tper) : undefined;
    for (let i = 0; i < count; i++) {
      const idx = order ? order[start + i]! : start + i;
      x.set(split.x.subarray(idx * per, (idx + 1) * per), i * per);
      y[i] = split.y[idx]!;
      if (targets) targets.set(split.targets!.subarray(idx * tper, (idx + 1) * tper), i * tper);
    }
    yield { x, y, ...(targets ? { targets } : {}), count };
  }
}

/** First `count` samples of a split (views, no copy). */
export function take(split: Split, count: number): Split {
  return sliceSplit(split, 0, Math.min(count, split.count));
}

/** Samples [from, to) of a split (views, no copy). */
export function sliceSplit(split: Split, from: number, to: number): Split {
  const per = split.count === 0 ? 0 : split.x.length / split.count;
  const tper = split.targets && split.count ? split.targets.length / split.count : 0;
  return {
    x: split.x.subarray(from * per, to * per),
    y: split.y.subarray(from, to),
    ...(split.targets ? { targets: split.targets.subarray(from * tper, to * tper) } : {}),
    count: to - from,
  };
}

/** The samples at `idx` as their own split (copied; used for hold-outs and client shards). */
export function selectSamples(split: Split, idx: ArrayLike<number>): Split {
  const per = split.count === 0 ? 0 : split.x.length / split.count;
  const tper = split.targets && split.count ? split.targets.length / split.count : 0;
  const x = new Float32Array(idx.length * per);
  const y = new Int32Array(idx.length);
  const targets = split.targets ? new Float32Array(idx.length * tper) : undefined;
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i]!;
    x.set(split.x.subarray(j * per, (j + 1) * per), i * per);
    y[i] = split.y[j]!;
    targets?.set(split.targets!.subarray(j * tper, (j + 1) * tper), i * tper);
  }
  return { x, y, ...(targets ? { targets } : {}), count: idx.length };
}

/** The samples of `a`, then those of `b`, as one split (same sample shape; copied). */
export function concatSplits(a: Split, b: Split): Split {
  const x = new Float32Array(a.x.length + b.x.length);
  x.set(a.x);
  x.set(b.x, a.x.length);
  const y = new Int32Array(a.count + b.count);
  y.set(a.y);
  y.set(b.y, a.count);
  let targets: Float32Array | undefined;
  if (a.targets && b.targets) {
    targets = new Float32Array(a.targets.length + b.targets.length);
    targets.set(a.targets);
    targets.set(b.targets, a.targets.length);
  }
  return { x, y, ...(targets ? { targets } : {}), count: a.count + b.count };
}

/** Standardize in place with a mean and standard deviation (e.g. computed on the train split). */
export function normalize(split: Split, mean: number, std: number): void {
  const x = split.x;
  for (let i = 0; i < x.length; i++) x[i] = (x[i]! - mean) / std;
}

export function meanStd(x: Float32Array): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  const mean = s / Math.max(1, x.length);
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(v / Math.max(1, x.length)) || 1 };
}
