/**
 * Kaldi-compatible MFCC (the recipe of Kaldi's compute-mfcc-feats and torchaudio.compliance.kaldi.mfcc):
 * framing without padding (snip_edges), DC removal, raw log energy, pre-emphasis, window, zero-padded
 * FFT power spectrum, triangular mel filterbank, log, orthonormal DCT-II, cepstral liftering.
 * Computed in float64; no dither (Kaldi's default dither is random, so it is off here, as in
 * torchaudio's default). Browser-safe.
 */
import FFT from 'fft.js';
import { VergeError } from '../../errors.ts';

export type WindowType = 'povey' | 'hann' | 'hamming' | 'blackman' | 'rectangular';

export interface MfccOptions {
  sampleRate: number;
  frameLengthMs: number;
  frameShiftMs: number;
  preemphasis: number;
  removeDcOffset: boolean;
  window: WindowType;
  numMelBins: number;
  /** Filterbank edges in Hz; highFreq <= 0 means Nyquist + highFreq (Kaldi's convention). */
  lowFreq: number;
  highFreq: number;
  numCeps: number;
  cepstralLifter: number;
}

/** Kaldi's and torchaudio's defaults (16 kHz, 25 ms / 10 ms, 23 mel bins, 13 cepstra, lifter 22). */
export const KALDI_MFCC_DEFAULTS: Readonly<MfccOptions> = Object.freeze({
  sampleRate: 16000,
  frameLengthMs: 25,
  frameShiftMs: 10,
  preemphasis: 0.97,
  removeDcOffset: true,
  window: 'povey',
  numMelBins: 23,
  lowFreq: 20,
  highFreq: 0,
  numCeps: 13,
  cepstralLifter: 22,
});

/** float32 machine epsilon: Kaldi's floor under energies before taking logs. */
export const LOG_FLOOR = 1.1920928955078125e-7;

export interface Mfcc {
  frames: number;
  numCeps: number;
  /** Row-major [frames, numCeps]. */
  data: Float64Array;
  /** Natural log of each frame's energy after DC removal, before pre-emphasis (Kaldi's raw energy). */
  logEnergy: Float64Array;
}

/** Everything that depends only on the options, computed once per configuration. */
export interface MfccPlan {
  opts: MfccOptions;
  frameLength: number;
  frameShift: number;
  fftSize: number;
  window: Float64Array;
  /** Mel filterbank [numMelBins, fftSize/2 + 1], dense. */
  melBank: Float64Array;
  /** Per mel bin, the first and one-past-last FFT bin with a non-zero weight. */
  melRange: Int32Array;
  /** DCT [numCeps, numMelBins] with Kaldi's first row and the lifter folded in. */
  dct: Float64Array;
}

export function melScale(hz: number): number {
  return 1127 * Math.log(1 + hz / 700);
}

export function windowFunction(type: WindowType, n: number): Float64Array {
  const w = new Float64Array(n);
  const a = (2 * Math.PI) / (n - 1);
  for (let i = 0; i < n; i++) {
    const hann = 0.5 - 0.5 * Math.cos(a * i);
    if (type === 'povey') w[i] = Math.pow(hann, 0.85);
    else if (type === 'hann') w[i] = hann;
    else if (type === 'hamming') w[i] = 0.54 - 0.46 * Math.cos(a * i);
    else if (type === 'blackman') w[i] = 0.42 - 0.5 * Math.cos(a * i) + 0.08 * Math.cos(2 * a * i);
    else w[i] = 1;
  }
  return w;
}

/** Kaldi's mel filterbank: triangles equally spaced on the mel scale, evaluated at FFT bin frequencies. */
export function melFilterbank(opts: MfccOptions, fftSize: number): Float64Array {
  const bins = fftSize / 2 + 1;
  const nyquist = opts.sampleRate / 2;
  const high = opts.highFreq <= 0 ? nyquist + opts.highFreq : opts.highFreq;
  if (!(opts.lowFreq >= 0 && opts.lowFreq < high && high <= nyquist))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `mel filterbank edges ${opts.lowFreq}..${high} Hz do not fit 0..${nyquist} Hz`,
    );
  const lowMel = melScale(opts.lowFreq);
  const delta = (melScale(high) - lowMel) / (opts.numMelBins + 1);
  const bank = new Float64Array(opts.numMelBins * bins);
  // The Nyquist bin (index fftSize/2) gets no weight, as in Kaldi.
  for (let m = 0; m < opts.numMelBins; m++) {
    const left = lowMel + m * delta;
    const center = left + delta;
    const right = center + delta;
    for (let k = 0; k < bins - 1; k++) {
      const mel = melScale((k * opts.sampleRate) / fftSize);
      const up = (mel - left) / (center - left);
      const down = (right - mel) / (right - center);
      bank[m * bins + k] = Math.max(0, Math.min(up, down));
    }
  }
  return bank;
}

/** Orthonormal DCT-II rows [numCeps, numMelBins] times the lifter 1 + L/2·sin(πi/L). */
export function dctMatrix(opts: MfccOptions): Float64Array {
  const { numCeps: c, numMelBins: n, cepstralLifter: L } = opts;
  const out = new Float64Array(c * n);
  for (let i = 0; i < c; i++) {
    const lift = L !== 0 ? 1 + 0.5 * L * Math.sin((Math.PI * i) / L) : 1;
    for (let j = 0; j < n; j++) {
      const v = i === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n) * Math.cos((Math.PI / n) * (j + 0.5) * i);
      out[i * n + j] = v * lift;
    }
  }
  return out;
}

export function mfccPlan(options: Partial<MfccOptions> = {}): MfccPlan {
  const opts = { ...KALDI_MFCC_DEFAULTS, ...options };
  const frameLength = Math.trunc((opts.sampleRate * opts.frameLengthMs) / 1000);
  const frameShift = Math.trunc((opts.sampleRate * opts.frameShiftMs) / 1000);
  if (frameLength < 2 || frameShift < 1)
    throw new VergeError('E_BAD_ARGUMENT', `frames of ${frameLength} samples every ${frameShift} are too short`);
  if (opts.numCeps > opts.numMelBins)
    throw new VergeError('E_BAD_ARGUMENT', `numCeps ${opts.numCeps} > numMelBins ${opts.numMelBins}`);
  let fftSize = 2;
  while (fftSize < frameLength) fftSize *= 2;
  const melBank = melFilterbank(opts, fftSize);
  const bins = fftSize / 2 + 1;
  const melRange = new Int32Array(opts.numMelBins * 2);
  for (let m = 0; m < opts.numMelBins; m++) {
    let lo = bins;
    let hi = 0;
    for (let k = 0; k < bins; k++) {
      if (melBank[m * bins + k]! > 0) {
        lo = Math.min(lo, k);
        hi = k + 1;
      }
    }
    melRange[2 * m] = Math.min(lo, hi);
    melRange[2 * m + 1] = hi;
  }
  return {
    opts,
    frameLength,
    frameShift,
    fftSize,
    window: windowFunction(opts.window, frameLength),
    melBank,
    melRange,
    dct: dctMatrix(opts),
  };
}

/** Number of whole frames in `samples` samples (Kaldi's snip_edges = true). */
export function frameCount(samples: number, frameLength: number, frameShift: number): number {
  return samples < frameLength ? 0 : 1 + Math.floor((samples - frameLength) / frameShift);
}

/** MFCCs of a mono waveform sampled at the plan's rate. */
export function mfcc(waveform: ArrayLike<number>, planOrOptions: MfccPlan | Partial<MfccOptions> = {}): Mfcc {
  const plan = 'melBank' in planOrOptions ? (planOrOptions as MfccPlan) : mfccPlan(planOrOptions);
  const { opts, frameLength: len, frameShift: shift, fftSize, window, melBank, melRange, dct } = plan;
  const frames = frameCount(waveform.length, len, shift);
  const { numCeps, numMelBins } = opts;
  const data = new Float64Array(frames * numCeps);
  const logEnergy = new Float64Array(frames);
  const fft = new FFT(fftSize);
  const buf = new Float64Array(fftSize);
  const spec = fft.createComplexArray() as number[];
  const bins = fftSize / 2 + 1;
  const power = new Float64Array(bins);
  const logMel = new Float64Array(numMelBins);
  for (let f = 0; f < frames; f++) {
    const start = f * shift;
    let mean = 0;
    if (opts.removeDcOffset) {
      for (let i = 0; i < len; i++) mean += waveform[start + i]!;
      mean /= len;
    }
    let energy = 0;
    for (let i = 0; i < len; i++) {
      const v = waveform[start + i]! - mean;
      buf[i] = v;
      energy += v * v;
    }
    logEnergy[f] = Math.log(Math.max(energy, LOG_FLOOR));
    // Pre-emphasis backwards so each sample still sees its unmodified predecessor; x[0] -= k·x[0].
    for (let i = len - 1; i > 0; i--) buf[i] = (buf[i]! - opts.preemphasis * buf[i - 1]!) * window[i]!;
    buf[0] = (buf[0]! - opts.preemphasis * buf[0]!) * window[0]!;
    buf.fill(0, len);
    fft.realTransform(spec, buf);
    for (let k = 0; k < bins; k++) {
      const re = spec[2 * k]!;
      const im = spec[2 * k + 1]!;
      power[k] = re * re + im * im;
    }
    for (let m = 0; m < numMelBins; m++) {
      let s = 0;
      const row = m * bins;
      for (let k = melRange[2 * m]!; k < melRange[2 * m + 1]!; k++) s += power[k]! * melBank[row + k]!;
      logMel[m] = Math.log(Math.max(s, LOG_FLOOR));
    }
    for (let c = 0; c < numCeps; c++) {
      let s = 0;
      const row = c * numMelBins;
      for (let m = 0; m < numMelBins; m++) s += dct[row + m]! * logMel[m]!;
      data[f * numCeps + c] = s;
    }
  }
  return { frames, numCeps, data, logEnergy };
}
