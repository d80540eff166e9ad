/** The speech workflow through the real CLI: train an HMM recognizer, evaluate it, run it on a WAV file. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SMALL_SPEECH_DIGITS, SPEECH_XDG_CACHE, smallSpeechDigits, speechToolsMissing } from '../fixtures/speech.ts';
import { verge } from './cli.ts';

const missing = speechToolsMissing();
const tmp = mkdtempSync(join(tmpdir(), 'verge-speech-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const env = { XDG_CACHE_HOME: SPEECH_XDG_CACHE };
const small = ['--speakers', String(SMALL_SPEECH_DIGITS.speakers), '--repeats', String(SMALL_SPEECH_DIGITS.repeats)];

describe.skipIf(missing)('verge speech commands', { timeout: 300_000 }, () => {
  it('train --arch hmm, eval and run --wav agree, with --json', async () => {
    const built = await smallSpeechDigits();
    const out = join(tmp, 'digits.onnx');
    const t = await verge(
      [
        'train',
        '--arch',
        'hmm',
        '--data',
        'speech-digits',
        ...small,
        '--states',
        '4',
        '--mixtures',
        '1',
        '--epochs',
        '4',
        '--out',
        out,
        '--json',
      ],
      env,
    );
    expect(t.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(t.code).toBe(0);
    const trained = JSON.parse(t.stdout) as {
      test: { accuracy: number; samples: number };
      model: { arch: string };
      history: unknown[];
    };
    expect(trained.model.arch).toBe('hmm');
    expect(trained.history).toHaveLength(10);
    expect(trained.test.samples).toBe(10);

    const e = await verge(['eval', out, '--data', 'speech-digits', ...small, '--json'], env);
    expect(e.code).toBe(0);
    expect((JSON.parse(e.stdout) as { accuracy: number }).accuracy).toBeCloseTo(trained.test.accuracy, 6);

    const speaker = (JSON.parse(readFileSync(join(built.dir, 'manifest.json'), 'utf8')) as { trainSpeakers: string[] })
      .trainSpeakers[0]!;
    const r = await verge(['run', out, '--wav', join(built.dir, 'train', 'three', `${speaker}-0.wav`), '--json'], env);
    expect(r.code).toBe(0);
    const ran = JSON.parse(r.stdout) as {
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
});
