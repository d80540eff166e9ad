/**
 * Keyword spotting on speech features: a waveform dataset (speech-digits, a WAV folder) becomes
 * fixed windows of speech features — the first `frames` frames of each utterance's voiced span
 * (MFCC + deltas + delta-deltas after the VAD trim and CMN of features.ts), zero-padded — shaped
 * [1, frames, dim] like one-channel images, so any image-style network trains on them. The trained
 * feature model is then put behind the ONNX speech front end (waveform-model.ts), so the saved
 * model takes the waveform like the HMM recognizer. Also the white-noise augmentation the
 * keyword spotters train with. Pure.
 */
import { VergeError } from '../../errors.ts';
import type { Model } from '../../onnx/browser.ts';
import { concatSplits, rng, type Dataset, type Split } from '../dataset.ts';
import { withDataInfo } from '../preprocessing.ts';
import type { Standardization } from '../standardize.ts';
import { featureDim, featureOptions, speechFeatures, type FeatureOptions } from './features.ts';
import { mfccPlan } from './mfcc.ts';
import { withSpeechFrontEnd } from './waveform-model.ts';

/** Frames a keyword spotter sees: 1 s at the 10 ms hop, from the start of speech. */
export const KWS_FRAMES = 100;

export interface KwsOptions {
  frames?: number;
  features?: FeatureOptions;
  /**
   * Add one copy of every training utterance with white noise at a uniform random SNR in this
   * range of dB (over the speech) — robustness to noisy test audio. Default: none.
   */
  noiseSnr?: [number, number];
  seed?: number;
}

export interface KwsData {
  /** Samples [1, frames, dim]; the test split is the clean one. */
  dataset: Dataset;
  /** Per-coefficient mean and standard deviation over the training frames inside the speech. */
  standardize: Standardization;
  /** The trained feature model behind the speech front end, with the waveform data's metadata. */
  deploy(featureModel: Model): Model;
}

/** The feature window of one waveform: [frames, dim], speech first, zeros after. */
export function kwsWindow(
  waveform: ArrayLike<number>,
  frames: number,
  features: FeatureOptions,
  plan = mfccPlan(features.mfcc),
): Float32Array {
  const f = speechFeatures(waveform, features, plan);
  const out = new Float32Array(frames * f.dim);
  const n = Math.min(f.frames, frames) * f.dim;
  for (let i = 0; i < n; i++) out[i] = f.data[i]!;
  return out;
}

/** Feature windows of every waveform of a split ([count, per] samples). */
export function kwsWindows(split: Split, per: number, frames: number, features: FeatureOptions): Split {
  const plan = mfccPlan(features.mfcc);
  const size = frames * featureDim(features);
  const x = new Float32Array(split.count * size);
  for (let i = 0; i < split.count; i++)
    x.set(kwsWindow(split.x.subarray(i * per, (i + 1) * per), frames, features, plan), i * size);
  return { x, y: split.y, count: split.count };
}

/** A standard normal sample from a uniform stream (Box–Muller). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
}

/**
 * Every waveform of `split` plus white noise at `snrOf(i)` dB relative to its speech (the extent
 * between the first and last non-zero sample); the noise covers the whole recording.
 */
export function withWhiteNoise(split: Split, per: number, snrOf: (i: number) => number, random: () => number): Split {
  const x = new Float32Array(split.x.length);
  const noise = new Float32Array(per);
  for (let i = 0; i < split.count; i++) {
    const w = split.x.subarray(i * per, (i + 1) * per);
    let a = 0;
    let b = per;
    while (a < per && w[a] === 0) a++;
    while (b > a && w[b - 1] === 0) b--;
    for (let k = 0; k < per; k++) noise[k] = gaussian(random);
    let ps = 0;
    let pn = 0;
    for (let k = a; k < b; k++) {
      ps += w[k]! * w[k]!;
      pn += noise[k]! * noise[k]!;
    }
    const gain = pn > 0 ? Math.sqrt(ps / pn / 10 ** (snrOf(i) / 10)) : 0;
    const out = x.subarray(i * per, (i + 1) * per);
    for (let k = 0; k < per; k++) out[k] = w[k]! + gain * noise[k]!;
  }
  return { x, y: split.y, count: split.count };
}

/**
 * Per-coefficient statistics over the frames that hold speech (a window's zero padding would pull
 * every mean toward 0 and shrink the spread of the coefficients that matter).
 */
function frameStatistics(x: Float32Array, dim: number): Standardization {
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  let rows = 0;
  for (let r = 0; r < x.length; r += dim) {
    let zero = true;
    for (let k = 0; k < dim && zero; k++) zero = x[r + k] === 0;
    if (zero) continue;
    rows++;
    for (let k = 0; k < dim; k++) mean[k]! += x[r + k]!;
  }
  for (let k = 0; k < dim; k++) mean[k]! /= Math.max(1, rows);
  for (let r = 0; r < x.length; r += dim) {
    let zero = true;
    for (let k = 0; k < dim && zero; k++) zero = x[r + k] === 0;
    if (zero) continue;
    for (let k = 0; k < dim; k++) sq[k]! += (x[r + k]! - mean[k]!) ** 2;
  }
  const std = Array.from(sq, (s) => Math.sqrt(s / Math.max(1, rows)));
  return { mean: Array.from(mean), std: std.map((s) => (s > 1e-6 ? s : 1)), axis: 'last' };
}

/** A waveform dataset as keyword-spotting feature windows, and how to deploy what trains on them. */
export function kwsData(data: Dataset, opts: KwsOptions = {}): KwsData {
  const pre = data.preprocessing;
  if (pre?.kind !== 'audio' || data.shape.length !== 1)
    throw new VergeError(
      'E_DATA_INVALID',
      `keyword spotters (kws-*) train on audio (speech-digits or a folder of <class>/*.wav); ${data.name} holds samples of shape [${data.shape.join(', ')}]`,
    );
  const features = opts.features ?? featureOptions();
  const sampleRate = Number(pre.sampleRate);
  if (sampleRate !== features.mfcc.sampleRate)
    throw new VergeError(
      'E_DATA_INVALID',
      `the audio is at ${sampleRate} Hz; the speech front end expects ${features.mfcc.sampleRate} Hz`,
    );
  const frames = opts.frames ?? KWS_FRAMES;
  const per = data.shape[0]!;
  const dim = featureDim(features);
  let train = kwsWindows(data.train, per, frames, features);
  if (opts.noiseSnr) {
    const [lo, hi] = opts.noiseSnr;
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi))
      throw new VergeError('E_BAD_ARGUMENT', `noise SNR range must be low:high in dB, got ${lo}:${hi}`);
    const seed = opts.seed ?? 0;
    const snrRandom = rng(seed + 77);
    const noisy = withWhiteNoise(data.train, per, () => lo + (hi - lo) * snrRandom(), rng(seed + 78));
    train = concatSplits(train, kwsWindows(noisy, per, frames, features));
  }
  const dataset: Dataset = {
    name: `${data.name} (speech features)`,
    source: data.source,
    shape: [1, frames, dim],
    classes: data.classes,
    ...(data.classNames ? { classNames: data.classNames } : {}),
    train,
    test: kwsWindows(data.test, per, frames, features),
  };
  const labels = data.classNames ?? Array.from({ length: data.classes }, (_, i) => String(i));
  return {
    dataset,
    standardize: frameStatistics(train.x, dim),
    deploy: (featureModel) =>
      withDataInfo(withSpeechFrontEnd(featureModel, { features, frames, sampleRate, labels }), {
        classNames: labels,
        preprocessing: pre,
      }),
  };
}
