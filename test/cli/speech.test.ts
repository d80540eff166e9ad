/**
 * The speech workflow through the real CLI: train an HMM recognizer or a neural keyword spotter,
 * evaluate it, run it on a WAV file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SMALL_SPEECH_DIGITS, SPEECH_XDG_CACHE, smallSpeechDigits, speechToolsMissing } from '../fixtures/speech.ts';
import type { SpeechDigitsBuild } from '../../src/data/audio/speech-digits-synthesis.ts';
import { verge } from './cli.ts';

const missing = speechToolsMissing();
const tmp = mkdtempSync(join(tmpdir(), 'verge-speech-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const env = { XDG_CACHE_HOME: SPEECH_XDG_CACHE };
/** Enough passes over 50 utterances (and their noisy copies) for the keyword spotter to fit them. */
const KWS_EPOCHS = 15;
const small = ['--speakers', String(SMALL_SPEECH_DIGITS.speakers), '--repeats', String(SMALL_SPEECH_DIGITS.repeats)];

/** `verge train --arch ARCH --data speech-digits` (the small build) with `flags`, `--out out --json`: it succeeds. */
async function trainSpeech(arch: string, out: string, flags: string[]) {
  const t = await verge(
    ['train', '--arch', arch, '--data', 'speech-digits', ...small, ...flags, '--out', out, '--json'],
    env,
  );
  expect(t.stderr).not.toMatch(/at .*\.ts:\d+/);
  expect(t.code).toBe(0);
  return t;
}

/**
 * The saved model evaluates on the held-out speaker to train's test accuracy, and runs on the first
 * training speaker's recording of `word`: `verge run --wav --json`'s output.
 */
async function evalAndRun(built: SpeechDigitsBuild, out: string, testAccuracy: number, word: string): Promise<unknown> {
  const e = await verge(['eval', out, '--data', 'speech-digits', ...small, '--json'], env);
  expect(e.code).toBe(0);
  expect((JSON.parse(e.stdout) as { accuracy: number }).accuracy).toBeCloseTo(testAccuracy, 6);
  const speaker = built.trainSpeakers[0]!;
  const r = await verge(['run', out, '--wav', join(built.dir, 'train', word, `${speaker}-0.wav`), '--json'], env);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

describe.skipIf(missing)('verge speech commands', { timeout: 300_000 }, () => {
  it('train --arch hmm, eval and run --wav agree, with --json', async () => {
    const built = await smallSpeechDigits();
    const out = join(tmp, 'digits.onnx');
    const t = await trainSpeech('hmm', out, ['--states', '4', '--mixtures', '1', '--epochs', '4']);
    const trained = JSON.parse(t.stdout) as {
      test: { accuracy: number; samples: number };
      model: { arch: string };
      history: unknown[];
    };
    expect(trained.model.arch).toBe('hmm');
    expect(trained.history).toHaveLength(10);
    expect(trained.test.samples).toBe(10);

    const ran = (await evalAndRun(built, out, trained.test.accuracy, 'three')) as {
      prediction: { label: string; probability: number };
      outputs: { log_likelihood: { dims: number[] } };
    };
    expect(ran.outputs.log_likelihood.dims).toEqual([1, 10]);
    expect(ran.prediction.label).toBe('three');

    const bad = await verge(['run', out, '--wav', join(tmp, 'nope.wav')], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(/^error: E_FILE_NOT_FOUND: .*nope\.wav does not exist$/);
    const flags = await verge(
      ['train', '--arch', 'hmm', '--data', 'speech-digits', '--covariance-type', 'tied', '--out', join(tmp, 'x.onnx')],
      env,
    );
    expect(flags.code).not.toBe(0);
    expect(flags.stderr.trim()).toMatch(/^error: E_BAD_ARGUMENT: .*--covariance-type.*'tied'.*diag, full/);
  });
  it(
    'train --arch kws-cnn with --noise-snr and --augment timeshift learns above chance; eval and run --wav agree',
    { timeout: 600_000 },
    async () => {
      const built = await smallSpeechDigits();
      const out = join(tmp, 'kws.onnx');
      const t = await trainSpeech('kws-cnn', out, [
        '--epochs',
        String(KWS_EPOCHS),
        '--batch',
        '16',
        '--lr',
        '0.003',
        '--noise-snr',
        '10:30',
        '--augment',
        'timeshift:5',
        '--threads',
        '1',
      ]);
      expect(t.stderr).toMatch(/white-noise copy of each training utterance at 10\.\.30 dB SNR \(100 windows\)/);
      const trained = JSON.parse(t.stdout) as {
        test: { accuracy: number; samples: number };
        history: { loss: number; accuracy: number }[];
      };
      expect(trained.history).toHaveLength(KWS_EPOCHS);
      expect(trained.test.samples).toBe(10);
      // ten words: chance is 10%; the training windows (clean and noisy copies) are learned well above it
      const last = trained.history.at(-1)!;
      expect(last.loss).toBeLessThan(trained.history[0]!.loss / 2);
      expect(last.accuracy).toBeGreaterThan(0.5);

      // the saved model takes the waveform: eval on the held-out speaker gives train's test accuracy
      const ran = (await evalAndRun(built, out, trained.test.accuracy, 'seven')) as {
        outputs: { probabilities: { dims: number[] } };
      };
      expect(ran.outputs.probabilities.dims).toEqual([1, 10]);

      const notSpeech = await verge(
        [
          'train',
          '--arch',
          'cnn',
          '--data',
          'speech-digits',
          ...small,
          '--noise-snr',
          '0:20',
          '--out',
          join(tmp, 'y.onnx'),
        ],
        env,
      );
      expect(notSpeech.code).not.toBe(0);
      expect(notSpeech.stderr.trim()).toBe(
        'error: E_BAD_ARGUMENT: --noise-snr applies to the keyword spotters (--arch kws-*) only',
      );
      const badRange = await verge(
        ['train', '--arch', 'kws-cnn', '--data', 'speech-digits', '--noise-snr', '20:0', '--out', join(tmp, 'y.onnx')],
        env,
      );
      expect(badRange.code).not.toBe(0);
      expect(badRange.stderr.trim()).toMatch(/^error: E_BAD_ARGUMENT: --noise-snr takes LO:HI in dB .*got '20:0'$/);
    },
  );
});
