/**
 * `speech-digits`: the ten English digits spoken by synthetic voices, built on demand with espeak-ng
 * (8 English accents × its voice variants, random speed, pitch and amplitude) and sox (tempo,
 * reverb, and a noise recording mixed in at a random SNR for part of the training split), resampled
 * to 16 kHz and cached as a WAV folder (train/<digit>/*.wav, test/<digit>/*.wav). Seeded: the same
 * options give the same files. The split is speaker-independent: a voice variant is either a test
 * speaker or a training speaker, never both. Node only (runs espeak-ng and sox).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { VergeError } from '../../errors.ts';
import { decodeWav, encodeWav, toMono } from './wav.ts';
import { resample } from './resample.ts';
import { rng, permutation } from '../dataset.ts';

export const DIGITS = Object.freeze([
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
] as const);
/** espeak-ng's English accents (its gmw voices). */
export const ACCENTS = Object.freeze([
  'en-gb',
  'en-us',
  'en-gb-scotland',
  'en-gb-x-gbclan',
  'en-gb-x-rp',
  'en-gb-x-gbcwmd',
  'en-029',
  'en-us-nyc',
] as const);
export const SPEECH_DIGITS_RATE = 16000;
/** Bump when the synthesis recipe changes, so caches of the old recipe are not reused. */
const RECIPE_VERSION = 2;

export interface SpeechDigitsOptions {
  /** Voice variants (speakers) to use, at most all espeak-ng has (~100). */
  speakers?: number;
  /** Renditions of each digit per speaker (each with its own accent, speed, pitch, effects). */
  repeats?: number;
  /** Fraction of the speakers held out as the test split. */
  testFraction?: number;
  seed?: number;
  /** Cache root (default $XDG_CACHE_HOME/verge, else ~/.cache/verge). */
  cacheDir?: string;
  /** Called after each synthesized utterance. */
  onProgress?: (done: number, total: number) => void;
}

export const SPEECH_DIGITS_DEFAULTS = Object.freeze({ speakers: 100, repeats: 3, testFraction: 0.2, seed: 0 } as const);

export interface SpeechDigitsBuild {
  dir: string;
  cached: boolean;
  train: number;
  test: number;
  trainSpeakers: string[];
  testSpeakers: string[];
}

function tool(name: string, args: string[]): string {
  try {
    return execFileSync(name, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new VergeError(
      missing ? 'E_UNSUPPORTED' : 'E_RUNTIME',
      missing
        ? `speech-digits needs ${name} (apt-get install espeak-ng sox)`
        : `${name} ${args.join(' ')} failed: ${
            String((e as { stderr?: string }).stderr ?? e)
              .trim()
              .split('\n')[0]
          }`,
    );
  }
}

/** espeak-ng's voice variants (names without spaces), sorted. */
export function espeakVariants(): string[] {
  const dataDir = /Data at:\s*(\S+)/.exec(tool('espeak-ng', ['--version']))?.[1];
  const dir = dataDir ? join(dataDir, 'voices', '!v') : '';
  if (!dir || !existsSync(dir))
    throw new VergeError('E_UNSUPPORTED', 'espeak-ng has no voice variants folder (voices/!v)');
  return readdirSync(dir)
    .filter((v) => /^[A-Za-z0-9_-]+$/.test(v))
    .sort();
}

interface Utterance {
  split: 'train' | 'test';
  digit: number;
  speaker: string;
  index: number;
  accent: string;
  speed: number;
  pitch: number;
  amplitude: number;
  tempo: number;
  reverb: number;
  /** SNR in dB of the mixed-in noise, or null for none. */
  snr: number | null;
  noiseOffset: number;
}

function plan(variants: string[], o: Required<Omit<SpeechDigitsOptions, 'cacheDir' | 'onProgress'>>): Utterance[] {
  const order = permutation(variants.length, o.seed);
  const speakers = Array.from(order, (i) => variants[i]!).slice(0, o.speakers);
  const nTest = Math.max(1, Math.round(speakers.length * o.testFraction));
  const random = rng(o.seed + 1);
  const uniform = (a: number, b: number): number => a + (b - a) * random();
  const out: Utterance[] = [];
  speakers.forEach((speaker, s) => {
    const split = s < nTest ? 'test' : 'train';
    for (let r = 0; r < o.repeats; r++)
      for (let digit = 0; digit < DIGITS.length; digit++)
        out.push({
          split,
          digit,
          speaker,
          index: r,
          accent: ACCENTS[Math.floor(random() * ACCENTS.length)]!,
          speed: Math.round(uniform(120, 200)),
          pitch: Math.round(uniform(20, 80)),
          amplitude: Math.round(uniform(60, 160)),
          tempo: +uniform(0.85, 1.15).toFixed(3),
          reverb: random() < 0.4 ? Math.round(uniform(10, 60)) : 0,
          snr: split === 'train' && random() < 0.5 ? +uniform(0, 30).toFixed(1) : null,
          noiseOffset: random(),
        });
  });
  return out;
}

/** Mix `noise` (looped from an offset) into `x` at `snr` dB. */
export function mixAtSnr(x: Float32Array, noise: Float32Array, snr: number, offset = 0): Float32Array {
  let px = 0;
  let pn = 0;
  const start = Math.floor(offset * noise.length);
  for (let i = 0; i < x.length; i++) {
    const n = noise[(start + i) % noise.length]!;
    px += x[i]! * x[i]!;
    pn += n * n;
  }
  const gain = pn > 0 && px > 0 ? Math.sqrt(px / pn / 10 ** (snr / 10)) : 0;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + gain * noise[(start + i) % noise.length]!;
  return out;
}

function run(cmd: string, args: string[], input?: Uint8Array): Promise<Buffer> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('error', (e) =>
      reject(new VergeError('E_UNSUPPORTED', `cannot run ${cmd} (${e.message}): apt-get install espeak-ng sox`)),
    );
    p.on('close', (code) =>
      code === 0
        ? resolveRun(Buffer.concat(chunks))
        : reject(new VergeError('E_RUNTIME', `${cmd} failed: ${err.trim().split('\n')[0]}`)),
    );
    p.stdin.end(input ?? null);
  });
}

/** A few seconds of sox-generated noise (pink, brown or white, repeatable with sox -R). */
async function noiseRecording(kind: 'pinknoise' | 'brownnoise' | 'whitenoise'): Promise<Float32Array> {
  const bytes = await run('sox', [
    '-R',
    '-n',
    '-r',
    String(SPEECH_DIGITS_RATE),
    '-b',
    '16',
    '-c',
    '1',
    '-t',
    'wav',
    '-',
    'synth',
    '5',
    kind,
  ]);
  return toMono(decodeWav(bytes, `sox ${kind}`));
}

async function synthesize(u: Utterance, noises: Float32Array[]): Promise<Uint8Array> {
  const spoken = await run('espeak-ng', [
    '-v',
    `${u.accent}+${u.speaker}`,
    '-s',
    String(u.speed),
    '-p',
    String(u.pitch),
    '-a',
    String(u.amplitude),
    '--stdout',
    DIGITS[u.digit]!,
  ]);
  const effects = ['tempo', '-s', String(u.tempo)];
  if (u.reverb) effects.push('reverb', String(u.reverb));
  effects.push('norm', '-3');
  // -R: sox dithers the 16-bit output with a random seed per run otherwise, and the same recipe would give
  // different audio (and different trained models) on every build
  const processed = await run('sox', ['-R', '-t', 'wav', '-', '-t', 'wav', '-b', '16', '-', ...effects], spoken);
  const audio = decodeWav(processed, `${u.speaker}/${DIGITS[u.digit]}`);
  let x = resample(toMono(audio), audio.sampleRate, SPEECH_DIGITS_RATE);
  if (u.snr !== null) x = mixAtSnr(x, noises[Math.floor(u.noiseOffset * 1000) % noises.length]!, u.snr, u.noiseOffset);
  return encodeWav({ sampleRate: SPEECH_DIGITS_RATE, channels: [x] });
}

export function speechDigitsCacheDir(opts: SpeechDigitsOptions = {}): string {
  const o = { ...SPEECH_DIGITS_DEFAULTS, ...opts };
  const key = createHash('sha256')
    .update(JSON.stringify([RECIPE_VERSION, o.speakers, o.repeats, o.testFraction, o.seed]))
    .digest('hex')
    .slice(0, 12);
  const root = opts.cacheDir ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'verge');
  return join(root, `speech-digits-${key}`);
}

/** Build the dataset's WAV folder (or reuse the cached one) and say where it is. */
export async function buildSpeechDigits(opts: SpeechDigitsOptions = {}): Promise<SpeechDigitsBuild> {
  const o = { ...SPEECH_DIGITS_DEFAULTS, ...opts };
  if (!(Number.isInteger(o.speakers) && o.speakers >= 2))
    throw new VergeError('E_BAD_ARGUMENT', `speakers must be an integer >= 2, got ${o.speakers}`);
  if (!(Number.isInteger(o.repeats) && o.repeats >= 1))
    throw new VergeError('E_BAD_ARGUMENT', `repeats must be a positive integer, got ${o.repeats}`);
  if (!(o.testFraction > 0 && o.testFraction < 1))
    throw new VergeError('E_BAD_ARGUMENT', `testFraction must be in (0, 1), got ${o.testFraction}`);
  const dir = speechDigitsCacheDir(opts);
  const manifestPath = join(dir, 'manifest.json');
  if (existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Omit<SpeechDigitsBuild, 'dir' | 'cached'>;
    return { ...m, dir, cached: true };
  }
  const variants = espeakVariants();
  if (o.speakers > variants.length)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `espeak-ng has ${variants.length} voice variants; asked for ${o.speakers} speakers`,
    );
  const utterances = plan(variants, {
    speakers: o.speakers,
    repeats: o.repeats,
    testFraction: o.testFraction,
    seed: o.seed,
  });
  const noises = [
    await noiseRecording('pinknoise'),
    await noiseRecording('brownnoise'),
    await noiseRecording('whitenoise'),
  ];
  // Build beside the final folder and rename at the end: a cache is complete or absent.
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  for (const s of ['train', 'test']) for (const d of DIGITS) mkdirSync(join(tmp, s, d), { recursive: true });
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < utterances.length) {
      const u = utterances[next++]!;
      const bytes = await synthesize(u, noises);
      writeFileSync(join(tmp, u.split, DIGITS[u.digit]!, `${u.speaker}-${u.index}.wav`), bytes);
      opts.onProgress?.(++done, utterances.length);
    }
  };
  try {
    await Promise.all([worker(), worker()]); // two processes at a time: the machines have two cores
    const speakersOf = (s: string): string[] => [
      ...new Set(utterances.filter((u) => u.split === s).map((u) => u.speaker)),
    ];
    const manifest = {
      train: utterances.filter((u) => u.split === 'train').length,
      test: utterances.filter((u) => u.split === 'test').length,
      trainSpeakers: speakersOf('train'),
      testSpeakers: speakersOf('test'),
      recipe: RECIPE_VERSION,
      options: { speakers: o.speakers, repeats: o.repeats, testFraction: o.testFraction, seed: o.seed },
      espeak: tool('espeak-ng', ['--version']).split('\n')[0]!.trim(),
      utterances,
    };
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1));
    mkdirSync(join(dir, '..'), { recursive: true });
    renameSync(tmp, dir);
    return {
      train: manifest.train,
      test: manifest.test,
      trainSpeakers: manifest.trainSpeakers,
      testSpeakers: manifest.testSpeakers,
      dir,
      cached: false,
    };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // another process may have finished the same build first
    if (existsSync(manifestPath)) return buildSpeechDigits(opts);
    throw e;
  }
}
