/**
 * The shape of a data source: one record per on-disk format, registered in ./index.ts (adding a
 * format = adding a file, a line in the registry and a test beside it; sources.test.ts fails
 * otherwise). A source says cheaply whether it reads a target (`claims`), then loads it into a
 * Dataset whose `report` says what was read and what was skipped and why.
 */
import { VergeError } from '../../errors.ts';
import { sliceSplit, type Dataset, type SkippedItems, type SourceReport, type Split } from '../dataset.ts';
import type { Preprocessing } from '../preprocessing.ts';

/** What `--data` named, resolved once for every source's `claims`. */
export interface DataTarget {
  /** The value as the user wrote it. */
  spec: string;
  /** Absolute path, when `spec` is an existing file or folder. */
  path?: string;
  isDir: boolean;
  /** The folder's entry names (isDir only), sorted. */
  entries: string[];
  /** Lower-case extension of a file, with the dot ('.csv'); '' for folders and names. */
  ext: string;
}

/**
 * Options every source sees. The common ones apply to all; the rest are format options, and a
 * source lists those it understands in `options` (setting one the chosen source does not use is
 * an error, so `--window` on an image folder does not pass silently).
 */
export interface SourceOptions {
  limits?: { train?: number; test?: number };
  /** Use this source (registry name) instead of detecting one. */
  format?: string;
  /** Preprocessing frozen in a trained model: read new data exactly the same way (eval, run). */
  preprocessing?: Preprocessing;
  /** Class names of a trained model: labels of new data are mapped onto them by name. */
  classNames?: string[];
  /** Where sources may cache decoded data (default: none). */
  cacheDir?: string;
  /** Progress of long reads (decoding thousands of files). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Read the label column as a float target (regression, `--loss mse`) where the format has one
   * (CSV, series); formats with class labels ignore it.
   */
  regression?: boolean;

  // ---- format options (listed by the sources that use them) ----
  /** Tabular/text CSV: the label (or regression target) column. */
  label?: string;
  /** Tabular: what to do with rows missing values. */
  missing?: 'drop' | 'impute';
  /** Tabular: categorical columns as one-hot vectors or as a single index value. */
  categorical?: 'onehot' | 'index';
  /** Tabular/series: columns to leave out (ids, free text). */
  dropColumns?: string[];
  /** Series: the time column, window length and stride in rows (a window makes a CSV a series). */
  timeColumn?: string;
  window?: number;
  stride?: number;
  /** Images: decode to this size [height, width] and channel count. */
  imageSize?: [number, number];
  channels?: 1 | 3;
  /** Text: the text column of a CSV, the tokenizer, vocabulary size and sequence length. */
  textColumn?: string;
  tokenizer?: string;
  vocabSize?: number;
  maxLength?: number;
  /** speech-digits: voice variants (speakers) and renditions of each digit per speaker. */
  speakers?: number;
  repeats?: number;
}

/** Format options a source can declare (the common options apply to every source). */
export type FormatOption = Exclude<
  keyof SourceOptions,
  'limits' | 'format' | 'preprocessing' | 'classNames' | 'cacheDir' | 'onProgress' | 'regression'
>;

export interface DataSource {
  /** Registry name, also the file name: 'idx' lives in sources/idx.ts. */
  readonly name: string;
  /** One line for `--help` and docs: what this source reads. */
  readonly summary: string;
  /** Built-in dataset names this source answers to (no path involved). */
  readonly names?: readonly string[];
  /** Format options this source understands. */
  readonly options?: readonly FormatOption[];
  /** Whether this source reads `target`: cheap checks only (extension, folder listing, magic bytes). */
  claims(target: DataTarget, opts: SourceOptions): boolean;
  /** Read the target. The result carries a `report`; limits may be applied here or by the caller. */
  load(target: DataTarget, opts: SourceOptions): Promise<Dataset>;
}

/** How many names of skipped items a report keeps per reason. */
export const MAX_SKIP_EXAMPLES = 5;

/** Collects a source's report while it reads. */
export class SourceLog {
  private readonly counts: Record<string, number> = {};
  private readonly skips = new Map<string, SkippedItems>();
  private readonly notes: string[] = [];

  constructor(readonly format: string) {}

  read(what: string, n = 1): void {
    this.counts[what] = (this.counts[what] ?? 0) + n;
  }
  skip(reason: string, item: string): void {
    let s = this.skips.get(reason);
    if (!s) this.skips.set(reason, (s = { reason, count: 0, examples: [] }));
    s.count++;
    if (s.examples.length < MAX_SKIP_EXAMPLES) s.examples.push(item);
  }
  note(text: string): void {
    this.notes.push(text);
  }
  get skipped(): number {
    let n = 0;
    for (const s of this.skips.values()) n += s.count;
    return n;
  }
  report(): SourceReport {
    // Skip reasons in a fixed (alphabetical) order: a report does not depend on the order files were read in.
    const skipped = [...this.skips.values()].sort((a, b) => (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0));
    return { format: this.format, read: { ...this.counts }, skipped, notes: [...this.notes] };
  }
}

/** Without a test split of its own, a dataset holds out its last tenth as test (deterministic). */
export const HOLDOUT_FRACTION = 0.1;

/** Split the tail of `split` off as the test split (HOLDOUT_FRACTION of it, at least 1 when n ≥ 2). */
export function holdOutTail(split: Split, fraction = HOLDOUT_FRACTION): { train: Split; test: Split } {
  const n = split.count;
  const held = n >= 2 ? Math.max(1, Math.floor(n * fraction)) : 0;
  const keep = n - held;
  return { train: sliceSplit(split, 0, keep), test: sliceSplit(split, keep, n) };
}

/** Largest class count accepted from labels; guards against regression targets passed as labels. */
export const MAX_CLASSES = 100_000;

/** Class count from labels (max + 1), bounded. */
export function classCount(splits: Split[], source: string): number {
  let max = -1;
  for (const s of splits) for (let i = 0; i < s.count; i++) if (s.y[i]! > max) max = s.y[i]!;
  if (max + 1 > MAX_CLASSES)
    throw new VergeError('E_DATA_INVALID', `${source}: labels go up to ${max}; labels must be class indices 0..C-1`);
  return max + 1;
}

/** A folder-listing or file-reading failure as a VergeError. */
export function unreadable(path: string, e: unknown, what = 'read'): VergeError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new VergeError('E_FILE_NOT_FOUND', `${path} does not exist`);
  return new VergeError('E_FILE_UNREADABLE', `${path} cannot be ${what} (${code ?? (e as Error).message})`);
}
