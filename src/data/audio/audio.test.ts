import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VergeError } from '../../errors.ts';
import { deltas, featureOptions, speechFeatures, voicedSpan } from './features.ts';
import { LOG_FLOOR, mfcc, mfccPlan } from './mfcc.ts';
import { resample } from './resample.ts';
import { readWavFile } from './wav-file.ts';
import { decodeWav, encodeWav, toMono } from './wav.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/audio');
interface Reference {
  formats: Record<string, { sample_rate: number; channels: number; frames: number; first: number[][] }>;
  resample: { from: number; to: number; samples: number[] };
  mfcc: Record<string, { frames: number; mfcc: number[][]; deltas: number[][]; delta_deltas: number[][] }>;
}
const ref = JSON.parse(readFileSync(join(FIXTURES, 'audio_reference.json'), 'utf8')) as Reference;

/** The parity bar for MFCC against torchaudio's Kaldi implementation. */
const MFCC_RTOL = 1e-3;
/**
 * In digitally silent frames (every sample equal, so every mel energy sits at the log floor) the
 * log-mel vector is constant and c1..c12 are 0 up to rounding (~1e-13 on both sides), where a
 * relative error means nothing: those coefficients are compared absolutely.
 */
const SILENT_FRAME_ATOL = 1e-9;

/** Worst relative error over all coefficients, with the silent-frame exception above. */
function maxRelErr(got: ArrayLike<number>, want: number[], silent: (i: number) => boolean = () => false): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    worst = Math.max(worst, silent(i) ? (err / SILENT_FRAME_ATOL) * MFCC_RTOL : err / Math.abs(want[i]!));
  }
  return worst;
}

function errorOf(f: () => unknown): VergeError {
  try {
    f();
  } catch (e) {
    if (e instanceof VergeError) return e;
    throw e;
  }
  throw new Error('expected a VergeError');
}

describe('WAV reading', () => {
  for (const [name, want] of Object.entries(ref.formats)) {
    it(`reads ${name} as torchaudio does`, () => {
      const audio = readWavFile(join(FIXTURES, 'formats', `${name}.wav`));
      expect(audio.sampleRate).toBe(want.sample_rate);
      expect(audio.channels.length).toBe(want.channels);
      expect(audio.channels[0]!.length).toBe(want.frames);
      for (let c = 0; c < want.channels; c++) {
        const got = audio.channels[c]!;
        want.first[c]!.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 6));
      }
    });
  }

  it('round-trips every encoding it writes', () => {
    const x = Float32Array.from({ length: 300 }, (_, i) => 0.9 * Math.sin(i / 7));
    const audio = { sampleRate: 11025, channels: [x, x.map((v) => -v / 2)] };
    const tol = { pcm8: 1 / 64, pcm16: 1e-4, pcm24: 1e-6, pcm32: 1e-6, float32: 1e-7, float64: 1e-7 } as const;
    for (const [encoding, t] of Object.entries(tol)) {
      const back = decodeWav(encodeWav(audio, { encoding: encoding as keyof typeof tol }));
      expect(back.sampleRate).toBe(11025);
      for (let i = 0; i < x.length; i++)
        expect(Math.abs(back.channels[1]![i]! - audio.channels[1]![i]!)).toBeLessThan(t);
    }
    expect(toMono(audio)[10]).toBeCloseTo(x[10]! / 4, 6);
  });

  it('refuses bad files with one clear E_DATA_INVALID line', () => {
    const good = readFileSync(join(FIXTURES, 'formats', 'pcm_s16.wav'));
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /empty/],
      [good.subarray(0, 30), /no complete "fmt " chunk|no "data" chunk/],
      [good.subarray(0, good.length - 100), /truncated: the data chunk declares/],
      [new TextEncoder().encode('RIFF\0\0\0\0AVI LIST....'), /no RIFF\/WAVE header/],
      [new TextEncoder().encode('hello, this is not audio at all'), /no RIFF\/WAVE header/],
    ];
    const zero = Uint8Array.from(good.subarray(0, 44));
    new DataView(zero.buffer).setUint32(40, 0, true);
    cases.push([zero, /no samples/]);
    const adpcm = Uint8Array.from(good);
    new DataView(adpcm.buffer).setUint16(20, 2, true);
    cases.push([adpcm, /encoding 2 is not supported/]);
    for (const [bytes, msg] of cases) {
      const e = errorOf(() => decodeWav(bytes, 'x.wav'));
      expect(e.code).toBe('E_DATA_INVALID');
      expect(e.message).toMatch(/^x\.wav is not a readable WAV file: /);
      expect(e.message).toMatch(msg);
      expect(e.message).not.toContain('\n');
    }
    expect(errorOf(() => readWavFile(join(FIXTURES, 'missing.wav'))).code).toBe('E_FILE_NOT_FOUND');
  });
});

describe('resampling', () => {
  it('matches torchaudio.functional.resample 22,050 -> 16,000 Hz', () => {
    const src = readWavFile(join(FIXTURES, 'speech_22k.wav')).channels[0]!;
    const got = resample(src, ref.resample.from, ref.resample.to);
    expect(got.length).toBe(ref.resample.samples.length);
    let worst = 0;
    ref.resample.samples.forEach((v, i) => (worst = Math.max(worst, Math.abs(got[i]! - v))));
    expect(worst).toBeLessThan(1e-5);
  });

  it('keeps a tone below the new Nyquist and removes one above it', () => {
    const tone = (f: number, sr: number): Float32Array =>
      Float32Array.from({ length: sr }, (_, i) => Math.sin((2 * Math.PI * f * i) / sr));
    const rms = (x: Float32Array): number =>
      Math.sqrt(x.slice(200, -200).reduce((a, b) => a + b * b, 0) / (x.length - 400));
    expect(rms(resample(tone(1000, 44100), 44100, 8000))).toBeCloseTo(Math.SQRT1_2, 2);
    expect(rms(resample(tone(6000, 44100), 44100, 8000))).toBeLessThan(0.01);
  });
});

describe('Kaldi-compatible MFCC', () => {
  for (const name of ['speech_16k', 'tone_16k']) {
    it(`${name}: every coefficient, delta and delta-delta within ${MFCC_RTOL} relative of torchaudio`, () => {
      const want = ref.mfcc[name]!;
      const x = readWavFile(join(FIXTURES, `${name}.wav`)).channels[0]!;
      const m = mfcc(x, mfccPlan({ sampleRate: 16000 }));
      expect(m.frames).toBe(want.frames);
      const floor = Math.log(LOG_FLOOR);
      // c1..c12 of frame t (and the deltas over frames t±reach) when all those frames are silent
      const silent =
        (reach: number) =>
        (i: number): boolean => {
          const t = Math.floor(i / 13);
          if (i % 13 === 0 && reach === 0) return false;
          for (let u = Math.max(0, t - reach); u <= Math.min(m.frames - 1, t + reach); u++)
            if (m.logEnergy[u] !== floor) return false;
          return true;
        };
      expect(maxRelErr(m.data, want.mfcc.flat(), silent(0))).toBeLessThan(MFCC_RTOL);
      const d = deltas(m.data, m.frames, m.numCeps);
      expect(maxRelErr(d, want.deltas.flat(), silent(2))).toBeLessThan(MFCC_RTOL);
      const dd = deltas(d, m.frames, m.numCeps);
      expect(maxRelErr(dd, want.delta_deltas.flat(), silent(4))).toBeLessThan(MFCC_RTOL);
    });
  }

  it('trims silence around a word, normalizes the mean and stacks deltas', () => {
    const x = readWavFile(join(FIXTURES, 'speech_16k.wav')).channels[0]!;
    const padded = new Float32Array(x.length + 16000);
    padded.set(x, 8000);
    const opts = featureOptions();
    const plain = speechFeatures(x, opts);
    const f = speechFeatures(padded, opts);
    expect(f.dim).toBe(39);
    // half a second of digital silence on each side adds no frames to the span
    expect(f.frames).toBeGreaterThan(20);
    expect(Math.abs(f.frames - plain.frames)).toBeLessThanOrEqual(1);
    for (let d = 0; d < 13; d++) {
      let s = 0;
      for (let t = 0; t < f.frames; t++) s += f.data[t * 39 + d]!;
      expect(Math.abs(s / f.frames)).toBeLessThan(1e-9);
    }
    // silence only: no voiced frame, the span is the whole utterance
    expect(voicedSpan(new Float64Array([-30, -30, -30]), opts.vad!, 400)).toEqual([0, 2]);
    expect(() => speechFeatures(new Float32Array(100), opts)).toThrow(/shorter than one 25 ms frame/);
  });
});
