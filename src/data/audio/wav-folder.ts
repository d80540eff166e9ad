/**
 * A folder of WAV files by class — <class>/*.wav, or train/<class>/*.wav and test/<class>/*.wav — as
 * a Dataset of mono waveforms at one sample rate, zero-padded at the end to the longest file
 * (zero padding is silence: the speech front end's voice-activity trim drops it). Node only.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { VergeError } from '../../errors.ts';
import type { Dataset, Split } from '../dataset.ts';
import { readWavFile } from './wav-file.ts';
import { waveformAt } from './wav.ts';

/** Longest utterance kept: longer files are cut (and reported), so one stray file cannot blow up memory. */
export const DEFAULT_MAX_SECONDS = 3;
/** Without test/, every tenth file of each class (in name order) is held out. */
const HOLDOUT_EVERY = 10;

export interface WavFolderOptions {
  sampleRate?: number;
  maxSeconds?: number;
  limits?: { train?: number; test?: number };
  /** Class folders in label order (default: every class folder, sorted by name). */
  labels?: readonly string[];
}

export interface WavDataset extends Dataset {
  labels: string[];
  sampleRate: number;
  /** Files cut to maxSeconds. */
  truncated: number;
  /** Files that are not readable WAV files: left out, with the reason. */
  skipped: { file: string; reason: string }[];
}

function subdirs(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && statSync(join(dir, f)).isDirectory())
    .sort();
}

function wavsIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.wav'))
    .sort()
    .map((f) => join(dir, f));
}

/** Does this folder look like a WAV class folder (class subfolders holding .wav files)? */
export function isWavFolder(dir: string): boolean {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return false;
  const root = existsSync(join(dir, 'train')) ? join(dir, 'train') : dir;
  return subdirs(root).some((c) => wavsIn(join(root, c)).length > 0);
}

export function loadWavFolder(dir: string, opts: WavFolderOptions = {}): WavDataset {
  const sampleRate = opts.sampleRate ?? 16000;
  const maxSamples = Math.round((opts.maxSeconds ?? DEFAULT_MAX_SECONDS) * sampleRate);
  const path = resolve(dir);
  const split = existsSync(join(path, 'train')) && statSync(join(path, 'train')).isDirectory();
  const trainRoot = split ? join(path, 'train') : path;
  const labels = opts.labels
    ? [...opts.labels]
    : subdirs(trainRoot).filter((c) => wavsIn(join(trainRoot, c)).length > 0);
  if (labels.length === 0)
    throw new VergeError('E_DATA_NOT_FOUND', `${dir} has no <class>/ subfolders with .wav files`);
  const files = (root: string): [string, number][] =>
    labels.flatMap((c, y) =>
      existsSync(join(root, c)) ? wavsIn(join(root, c)).map((f) => [f, y] as [string, number]) : [],
    );
  let train: [string, number][];
  let test: [string, number][];
  if (split) {
    train = files(trainRoot);
    test = existsSync(join(path, 'test')) ? files(join(path, 'test')) : [];
  } else {
    const all = files(path);
    train = all.filter((_, i) => i % HOLDOUT_EVERY !== HOLDOUT_EVERY - 1);
    test = all.filter((_, i) => i % HOLDOUT_EVERY === HOLDOUT_EVERY - 1);
  }
  if (opts.limits?.train !== undefined) train = spread(train, opts.limits.train);
  if (opts.limits?.test !== undefined) test = spread(test, opts.limits.test);
  const skipped: { file: string; reason: string }[] = [];
  const readable = (list: [string, number][]): [string, number, Float32Array][] =>
    list.flatMap(([f, y]) => {
      try {
        return [[f, y, waveformAt(readWavFile(f), sampleRate)] as [string, number, Float32Array]];
      } catch (e) {
        if (!(e instanceof VergeError) || e.code !== 'E_DATA_INVALID') throw e;
        skipped.push({ file: f, reason: e.message.replace(/^.*? is not a readable WAV file: /, '') });
        return [];
      }
    });
  const trainW = readable(train);
  const testW = readable(test);
  if (trainW.length === 0) throw new VergeError('E_DATA_INVALID', `${dir} has no readable .wav file for training`);
  const waves = [...trainW, ...testW].map(([, , w]) => w);
  const longest = Math.min(maxSamples, Math.max(...waves.map((w) => w.length)));
  let truncated = 0;
  const toSplit = (list: [string, number, Float32Array][], offset: number): Split => {
    const x = new Float32Array(list.length * longest);
    const y = new Int32Array(list.length);
    list.forEach(([, label], i) => {
      const w = waves[offset + i]!;
      if (w.length > longest) truncated++;
      x.set(w.subarray(0, longest), i * longest);
      y[i] = label;
    });
    return { x, y, count: list.length };
  };
  return {
    name: basename(path),
    source: path,
    shape: [longest],
    classes: labels.length,
    labels,
    sampleRate,
    truncated,
    skipped,
    train: toSplit(trainW, 0),
    test: toSplit(testW, trainW.length),
  };
}

/** At most n of the files, spread evenly over the list (so every class keeps some). */
function spread<T>(list: T[], n: number): T[] {
  if (n >= list.length) return list;
  return Array.from({ length: n }, (_, i) => list[Math.floor((i * list.length) / n)]!);
}
