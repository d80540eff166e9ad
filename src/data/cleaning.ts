/**
 * Data cleaning checks `verge data` reports: samples holding NaN or ±Infinity, duplicate samples
 * (within a split and shared between train and test, which inflates test accuracy), and classes
 * with too few samples to learn or to measure. Pure computation over a Dataset.
 */
import type { Dataset, Split } from './dataset.ts';

/** A class with fewer training samples than this is flagged (too few to learn or to measure). */
export const MIN_SAMPLES_PER_CLASS = 10;
/** Sample indices listed per finding. */
const MAX_EXAMPLES = 5;

export interface CleaningReport {
  /** Samples with NaN/±Infinity values, per split, with the first indices. */
  non_finite: { train: number; test: number; examples: string[] };
  /** Samples identical to an earlier one in the same split, and test samples also in train. */
  duplicates: { train: number; test: number; train_test: number; examples: string[] };
  /** Classes with fewer than MIN_SAMPLES_PER_CLASS training samples (and none at all). */
  small_classes: { class: number; name?: string; train: number }[];
  /** Training samples per class. */
  train_label_counts: number[];
  /** Findings as sentences, empty when the data looks clean. */
  warnings: string[];
}

/** FNV-1a over a sample's bytes plus its label: a duplicate key (collisions are re-checked). */
function sampleKey(split: Split, i: number, per: number): string {
  const bytes = new Uint8Array(split.x.buffer, split.x.byteOffset + i * per * 4, per * 4);
  let h = 0x811c9dc5;
  for (let k = 0; k < bytes.length; k++) h = Math.imul(h ^ bytes[k]!, 0x01000193);
  return `${h >>> 0}:${split.y[i]}`;
}

function sameSample(a: Split, i: number, b: Split, j: number, per: number): boolean {
  for (let k = 0; k < per; k++) if (a.x[i * per + k] !== b.x[j * per + k]) return false;
  return a.y[i] === b.y[j];
}

function nonFinite(split: Split, per: number, name: string, examples: string[]): number {
  let n = 0;
  for (let i = 0; i < split.count; i++) {
    for (let k = 0; k < per; k++) {
      if (!Number.isFinite(split.x[i * per + k]!)) {
        n++;
        if (examples.length < MAX_EXAMPLES) examples.push(`${name}[${i}]`);
        break;
      }
    }
  }
  return n;
}

/** Index of one split's samples by key; returns the count of in-split duplicates. */
function indexSplit(split: Split, per: number, name: string, seen: Map<string, number[]>, examples: string[]): number {
  let dups = 0;
  for (let i = 0; i < split.count; i++) {
    const key = sampleKey(split, i, per);
    const prev = seen.get(key);
    if (prev?.some((j) => sameSample(split, i, split, j, per))) {
      dups++;
      if (examples.length < MAX_EXAMPLES) examples.push(`${name}[${i}] = ${name}[${prev[0]}]`);
      continue;
    }
    if (prev) prev.push(i);
    else seen.set(key, [i]);
  }
  return dups;
}

/** Check a dataset for non-finite values, duplicates and under-represented classes. */
export function inspectDataset(ds: Dataset): CleaningReport {
  const per = ds.train.count
    ? ds.train.x.length / ds.train.count
    : ds.test.count
      ? ds.test.x.length / ds.test.count
      : 0;
  const nfExamples: string[] = [];
  const nfTrain = nonFinite(ds.train, per, 'train', nfExamples);
  const nfTest = nonFinite(ds.test, per, 'test', nfExamples);
  const dupExamples: string[] = [];
  const trainIndex = new Map<string, number[]>();
  const dupTrain = indexSplit(ds.train, per, 'train', trainIndex, dupExamples);
  const dupTest = indexSplit(ds.test, per, 'test', new Map(), dupExamples);
  let across = 0;
  for (let i = 0; i < ds.test.count; i++) {
    const hit = trainIndex.get(sampleKey(ds.test, i, per))?.find((j) => sameSample(ds.test, i, ds.train, j, per));
    if (hit !== undefined) {
      across++;
      if (dupExamples.length < MAX_EXAMPLES) dupExamples.push(`test[${i}] = train[${hit}]`);
    }
  }
  const counts = new Array<number>(ds.classes).fill(0);
  for (let i = 0; i < ds.train.count; i++) counts[ds.train.y[i]!]!++;
  const small = counts
    .map((n, c) => ({ class: c, ...(ds.classNames?.[c] !== undefined ? { name: ds.classNames[c] } : {}), train: n }))
    .filter((c) => c.train < MIN_SAMPLES_PER_CLASS);
  const warnings: string[] = [];
  if (nfTrain + nfTest)
    warnings.push(`${nfTrain + nfTest} samples hold NaN or infinite values (${nfExamples.join(', ')})`);
  if (dupTrain + dupTest) warnings.push(`${dupTrain} duplicate training samples and ${dupTest} duplicate test samples`);
  if (across) warnings.push(`${across} test samples also appear in the training split (test accuracy is inflated)`);
  for (const c of small)
    warnings.push(`class ${c.name ?? c.class} has ${c.train} training samples (fewer than ${MIN_SAMPLES_PER_CLASS})`);
  return {
    non_finite: { train: nfTrain, test: nfTest, examples: nfExamples },
    duplicates: { train: dupTrain, test: dupTest, train_test: across, examples: dupExamples },
    small_classes: ds.targetShape ? [] : small,
    train_label_counts: counts,
    warnings: ds.targetShape ? warnings.filter((w) => !w.startsWith('class ')) : warnings,
  };
}
