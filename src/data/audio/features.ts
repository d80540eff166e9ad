/**
 * Speech features for recognition: MFCC, an energy-based voice-activity trim to the span from the
 * first to the last voiced frame, cepstral mean normalization over that span, and deltas and
 * delta-deltas (torchaudio.functional.compute_deltas: a 5-frame regression with replicated edges).
 * onnx-frontend.ts builds the same computation as ONNX nodes; the two must agree.
 */
import { VergeError } from '../../errors.ts';
import { mfcc, mfccPlan, type MfccOptions, type MfccPlan } from './mfcc.ts';

export interface VadOptions {
  /** A frame is voiced when its energy is within this many dB of the loudest frame... */
  relativeDb: number;
  /** ...and its mean power is above this level in dB full scale (samples in [-1, 1]). */
  floorDbfs: number;
}

export interface FeatureOptions {
  mfcc: MfccOptions;
  /** null: no trimming. */
  vad: VadOptions | null;
  /** Subtract the per-utterance mean of each cepstral coefficient (over the trimmed span). */
  cmn: boolean;
  /** 0: cepstra only; 1: + deltas; 2: + deltas and delta-deltas. */
  deltaOrder: 0 | 1 | 2;
  /** Frames either side in the delta regression (torchaudio's win_length = 2·N + 1). */
  deltaWindow: number;
}

/**
 * Defaults for isolated words: 35 dB below the loudest frame catches the weak consonants of
 * "six"/"seven" and drops silence; -60 dBFS keeps digital silence and hiss out of the span.
 */
export const DEFAULT_VAD: Readonly<VadOptions> = Object.freeze({ relativeDb: 35, floorDbfs: -60 });

export function featureOptions(
  options: Partial<Omit<FeatureOptions, 'mfcc'>> & { mfcc?: Partial<MfccOptions> } = {},
): FeatureOptions {
  return {
    mfcc: mfccPlan(options.mfcc).opts,
    vad: options.vad === undefined ? DEFAULT_VAD : options.vad,
    cmn: options.cmn ?? true,
    deltaOrder: options.deltaOrder ?? 2,
    deltaWindow: options.deltaWindow ?? 2,
  };
}

export function featureDim(opts: FeatureOptions): number {
  return opts.mfcc.numCeps * (1 + opts.deltaOrder);
}

/** ln of a frame's energy at `dbfs` mean power: ln(len · 10^(dB/10)). */
export function energyFloor(dbfs: number, frameLength: number): number {
  return Math.log(frameLength) + (dbfs / 10) * Math.LN10;
}

/**
 * First and last voiced frame (inclusive). With no voiced frame the span is the whole utterance,
 * which is also what the ONNX front end's ArgMax gives for an all-false mask.
 */
export function voicedSpan(logEnergy: Float64Array, vad: VadOptions, frameLength: number): [number, number] {
  const n = logEnergy.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logEnergy[i]!);
  const threshold = Math.max(max - (vad.relativeDb / 10) * Math.LN10, energyFloor(vad.floorDbfs, frameLength));
  let first = -1;
  let last = -1;
  for (let i = 0; i < n; i++) {
    if (logEnergy[i]! > threshold) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return first < 0 ? [0, n - 1] : [first, last];
}

/** Regression deltas over time of a row-major [frames, dim] matrix, edges replicated. */
export function deltas(x: Float64Array, frames: number, dim: number, window = 2): Float64Array {
  const out = new Float64Array(frames * dim);
  let denom = 0;
  for (let n = 1; n <= window; n++) denom += 2 * n * n;
  for (let t = 0; t < frames; t++) {
    for (let n = 1; n <= window; n++) {
      const ahead = Math.min(frames - 1, t + n) * dim;
      const behind = Math.max(0, t - n) * dim;
      for (let d = 0; d < dim; d++) out[t * dim + d]! += (n * (x[ahead + d]! - x[behind + d]!)) / denom;
    }
  }
  return out;
}

export interface Features {
  frames: number;
  dim: number;
  /** Row-major [frames, dim]: cepstra, then deltas, then delta-deltas. */
  data: Float64Array;
  /** The voiced span within the utterance's frames (inclusive). */
  span: [number, number];
}

/** Features of a mono waveform at `opts.mfcc.sampleRate`. */
export function speechFeatures(waveform: ArrayLike<number>, opts: FeatureOptions, plan?: MfccPlan): Features {
  const p = plan ?? mfccPlan(opts.mfcc);
  const m = mfcc(waveform, p);
  if (m.frames === 0) {
    throw new VergeError(
      'E_DATA_INVALID',
      `audio of ${waveform.length} samples is shorter than one ${opts.mfcc.frameLengthMs} ms frame (${p.frameLength} samples at ${opts.mfcc.sampleRate} Hz)`,
    );
  }
  const c = m.numCeps;
  const [first, last] = opts.vad ? voicedSpan(m.logEnergy, opts.vad, p.frameLength) : [0, m.frames - 1];
  const frames = last - first + 1;
  const statics = m.data.slice(first * c, (last + 1) * c);
  if (opts.cmn) {
    for (let d = 0; d < c; d++) {
      let s = 0;
      for (let t = 0; t < frames; t++) s += statics[t * c + d]!;
      const mean = s / frames;
      for (let t = 0; t < frames; t++) statics[t * c + d]! -= mean;
    }
  }
  const parts: Float64Array[] = [statics];
  for (let o = 1; o <= opts.deltaOrder; o++) parts.push(deltas(parts[o - 1]!, frames, c, opts.deltaWindow));
  const dim = c * parts.length;
  const data = new Float64Array(frames * dim);
  for (let t = 0; t < frames; t++)
    for (let k = 0; k < parts.length; k++) data.set(parts[k]!.subarray(t * c, (t + 1) * c), t * dim + k * c);
  return { frames, dim, data, span: [first, last] };
}
