/**
 * One entry point for every command's `--data <name|path>`: a built-in dataset by name, or a
 * file or folder that one of the registered sources (sources/index.ts) claims.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { VergeError } from '../errors.ts';
import type { Dataset } from './dataset.ts';
import { take } from './dataset.ts';
import { builtinDatasetNames, DATA_SOURCES, dataSource } from './sources/index.ts';
import type { DataSource, DataTarget, FormatOption, SourceOptions } from './sources/source.ts';
import { unreadable } from './sources/source.ts';

export { HOLDOUT_FRACTION, MAX_CLASSES } from './sources/source.ts';
export type LoadDatasetOptions = SourceOptions;

/** The --flag spelling of a format option, for messages. */
export function optionFlag(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** Resolve `spec` as a path: stat it and list a folder once for every source's `claims`. */
function targetOf(spec: string): DataTarget {
  const path = resolve(spec);
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw unreadable(spec, e);
  }
  let entries: string[] = [];
  if (isDir) {
    try {
      entries = readdirSync(path).sort();
    } catch (e) {
      throw unreadable(spec, e, 'listed');
    }
  }
  return { spec, path, isDir, entries, ext: isDir ? '' : extname(path).toLowerCase() };
}

function formatList(): string {
  return DATA_SOURCES.map((s) => `  ${s.name}: ${s.summary}`).join('\n');
}

/** The source for `spec`: forced by opts.format, a built-in name, or the first source that claims the path. */
export function chooseSource(spec: string, opts: SourceOptions = {}): { source: DataSource; target: DataTarget } {
  const byName = DATA_SOURCES.find((s) => s.names?.includes(spec.toLowerCase()));
  if (opts.format !== undefined) {
    const source = dataSource(opts.format);
    if (!source)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `--format must be one of ${DATA_SOURCES.map((s) => s.name).join(', ')}, got '${opts.format}'`,
      );
    if (byName === source) return { source, target: { spec, isDir: false, entries: [], ext: '' } };
    return { source, target: targetOf(spec) };
  }
  if (byName && !existsSync(spec)) return { source: byName, target: { spec, isDir: false, entries: [], ext: '' } };
  if (!existsSync(spec)) {
    throw new VergeError(
      'E_DATA_NOT_FOUND',
      `'${spec}' is neither a built-in dataset (${builtinDatasetNames().join(', ')}) nor an existing folder or file`,
    );
  }
  const target = targetOf(spec);
  const source = DATA_SOURCES.find((s) => s.claims(target, opts));
  if (!source) {
    throw new VergeError(
      target.isDir ? 'E_DATA_NOT_FOUND' : 'E_DATA_INVALID',
      `${target.isDir ? 'folder' : 'file'} ${spec} is not in a layout verge reads; --data takes:\n${formatList()}`,
    );
  }
  return { source, target };
}

const COMMON_OPTIONS = new Set([
  'limits',
  'format',
  'preprocessing',
  'classNames',
  'cacheDir',
  'onProgress',
  'regression',
]);

/** Format options that were set but mean nothing to `source` (e.g. --window for an image folder). */
function checkOptions(source: DataSource, opts: SourceOptions): void {
  for (const [key, value] of Object.entries(opts)) {
    if (value === undefined || COMMON_OPTIONS.has(key)) continue;
    if (!(source.options ?? []).includes(key as FormatOption)) {
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `${optionFlag(key)} does not apply to ${source.name} data (${source.summary})`,
      );
    }
  }
}

/** Load a dataset by built-in name or path, through the source registry. */
export async function loadDataset(spec: string, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  const { source, target } = chooseSource(spec, opts);
  checkOptions(source, opts);
  const ds = await source.load(target, opts);
  const limits = opts.limits ?? {};
  const train = limits.train !== undefined ? take(ds.train, limits.train) : ds.train;
  const test = limits.test !== undefined ? take(ds.test, limits.test) : ds.test;
  return {
    ...ds,
    train,
    test,
    report: ds.report ?? { format: source.name, read: { samples: train.count + test.count }, skipped: [], notes: [] },
  };
}

/**
 * The line every command that uses data prints (DESIGN.md: report which source and how many
 * samples), e.g. `data: fashion-mnist from /usr/share/datasets/fashion-mnist (60,000 train / 10,000 test)`.
 * Skipped items follow on their own lines. `testOnly` (for commands that read only the test split,
 * such as `verge eval`) leaves out the train count, which would be the loader's limit, not the data's.
 */
export function describeDataset(ds: Dataset, opts: { testOnly?: boolean } = {}): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const what = ds.targetShape ? `regression target [${ds.targetShape.join(', ')}]` : `${ds.classes} classes`;
  const counts = opts.testOnly ? `${n(ds.test.count)} test` : `${n(ds.train.count)} train / ${n(ds.test.count)} test`;
  const lines = [`data: ${ds.name} from ${ds.source} (${counts}, shape [${ds.shape.join(', ')}], ${what})`];
  for (const s of ds.report?.skipped ?? [])
    lines.push(
      `  skipped ${n(s.count)}: ${s.reason} (${s.examples.join(', ')}${s.count > s.examples.length ? ', …' : ''})`,
    );
  return lines.join('\n');
}
