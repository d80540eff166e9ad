/**
 * The `--data` flags shared by every command that reads a dataset (data, train, eval): which
 * source to use and its format options, parsed into the registry's SourceOptions. Light (used by
 * declarations): the source list comes from the data-only catalog, not the readers.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { VergeError } from '../errors.ts';
import type { SourceOptions } from '../data/sources/source.ts';
import { SOURCE_CATALOG } from '../data/sources/catalog.ts';
import { choice, integer, positiveInt, wordList } from './options.ts';

/** Parsed values of the flags addDataFlags declares. */
export interface DataFlags {
  format?: string;
  imageSize?: [number, number];
  channels?: '1' | '3';
  cacheDir?: string;
  cache?: boolean;
  label?: string;
  missing?: 'impute' | 'drop';
  categorical?: 'onehot' | 'index';
  dropColumns?: string[];
  window?: number;
  stride?: number;
  timeColumn?: string;
  textColumn?: string;
  tokenizer?: string;
  vocabSize?: number;
  maxLength?: number;
  speakers?: number;
  repeats?: number;
}

/** Default folder for decoded-data caches: $XDG_CACHE_HOME/verge or ~/.cache/verge. */
export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'verge');
}

/** argParser of --image-size: HxW (or one number for square images). */
export function parseImageSize(v: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:[x×,]\s*(\d+))?\s*$/i.exec(v);
  const h = m ? Number(m[1]) : NaN;
  const w = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(h >= 1 && w >= 1 && h <= 4096 && w <= 4096))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `--image-size must be HxW (e.g. 32x32) or one side, at most 4096, got '${v}'`,
    );
  return [h, w];
}

/** Add the data-source flags to a command. */
export function addDataFlags(cmd: Command): Command {
  return cmd
    .addOption(
      choice(
        '--format <source>',
        'read --data with this source instead of detecting it',
        SOURCE_CATALOG.map((s) => s.name),
      ),
    )
    .option(
      '--image-size <HxW>',
      'image folders: resize every image to this size (default: the first image’s)',
      parseImageSize,
    )
    .addOption(
      choice('--channels <n>', 'image folders: 1 = grayscale, 3 = RGB (default: from the first image)', ['1', '3']),
    )
    .option('--cache-dir <dir>', `where decoded images and built datasets are cached (default ${defaultCacheDir()})`)
    .option('--no-cache', 'decode images again instead of reading/writing the cache')
    .option('--label <column>', 'CSV: the label column (default: a column named label, class, target or y)')
    .addOption(
      choice(
        '--missing <how>',
        'CSV: fill missing values from the training rows, or drop those rows (default impute)',
        ['impute', 'drop'],
      ),
    )
    .addOption(
      choice('--categorical <how>', 'CSV: encode text columns one-hot or as one index value (default onehot)', [
        'onehot',
        'index',
      ]),
    )
    .option('--drop-columns <a,b>', 'CSV: leave these columns out (ids, free text)', wordList)
    .option(
      '--window <rows>',
      'sensor series (CSV): samples are windows of this many rows',
      integer('--window', { min: 1, max: 100_000 }),
    )
    .option(
      '--stride <rows>',
      'sensor series: a window starts every this many rows (default window/2)',
      positiveInt('--stride'),
    )
    .option('--time-column <name>', 'sensor series: order rows by this column (default: time, timestamp, t, date)')
    .option('--text-column <name>', "text CSV: the column holding the text (default 'text')")
    .addOption(
      choice(
        '--tokenizer <kind>',
        'text: words, characters, learned subwords, or words + word pairs (ngram, for text-bow) (default word)',
        ['word', 'char', 'bpe', 'ngram'],
      ),
    )
    .option(
      '--vocab-size <n>',
      'text: the most frequent tokens kept (default word 20000, char 256, bpe 8000, ngram 50000)',
      integer('--vocab-size', { min: 3, max: 1_000_000 }),
    )
    .option(
      '--max-length <n>',
      'text: tokens per sample (default: the 95th percentile of training texts, 8..200)',
      integer('--max-length', { min: 1, max: 4096 }),
    )
    .option(
      '--speakers <n>',
      'speech-digits: synthetic speakers (espeak-ng voice variants, default 100)',
      positiveInt('--speakers'),
    )
    .option(
      '--repeats <n>',
      'speech-digits: renditions of each digit per speaker (default 3)',
      positiveInt('--repeats'),
    );
}

/** SourceOptions from parsed flags (unset flags are left out, so they never count as given). */
export function sourceOptionsFrom(flags: DataFlags): SourceOptions {
  const o: SourceOptions = {};
  const set = <K extends keyof SourceOptions>(k: K, v: SourceOptions[K] | undefined): void => {
    if (v !== undefined) o[k] = v;
  };
  set('format', flags.format);
  set('imageSize', flags.imageSize);
  set('channels', flags.channels === undefined ? undefined : (Number(flags.channels) as 1 | 3));
  if (flags.cache !== false) o.cacheDir = flags.cacheDir ?? defaultCacheDir();
  set('label', flags.label);
  set('missing', flags.missing);
  set('categorical', flags.categorical);
  set('dropColumns', flags.dropColumns);
  set('window', flags.window);
  set('stride', flags.stride);
  set('timeColumn', flags.timeColumn);
  set('textColumn', flags.textColumn);
  set('tokenizer', flags.tokenizer);
  set('vocabSize', flags.vocabSize);
  set('maxLength', flags.maxLength);
  set('speakers', flags.speakers);
  set('repeats', flags.repeats);
  return o;
}

/** The formats, one per line, for a command's help. */
export function formatsHelp(): string {
  return `\nFormats (--format NAME to force one):\n${SOURCE_CATALOG.map((s) => `  ${s.name.padEnd(20)} ${s.summary}`).join('\n')}`;
}

/** The `--data` help text: what a dataset argument may be. */
export const DATA_HELP =
  'dataset: a built-in name (fashion-mnist, debian-descriptions) or a path; `verge data --help` lists the formats';
