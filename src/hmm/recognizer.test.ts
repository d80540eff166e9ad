import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkOnnxFiles } from '../../test/fixtures/onnx-checker.ts';
import { smallSpeechDigits, speechToolsMissing } from '../../test/fixtures/speech.ts';
import { DIGITS } from '../data/audio/speech-digits-synthesis.ts';
import { loadWavFolder, type WavDataset } from '../data/audio/wav-folder.ts';
import { saveModel } from '../onnx/io.ts';
import { Session } from '../runtime/index.ts';
import { exportRecognizer } from './onnx-export.ts';
import { WordRecognizer } from './recognizer.ts';

/** The bar: the ONNX model's output equals the TypeScript scorer within 1e-4 (relative, log-likelihoods). */
const ONNX_RTOL = 1e-4;
const missing = speechToolsMissing();
const tmp = mkdtempSync(join(tmpdir(), 'verge-recognizer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(missing)('isolated-word recognizer', { timeout: 180_000 }, () => {
  let data: WavDataset;
  let rec: WordRecognizer;
  beforeAll(async () => {
    data = loadWavFolder((await smallSpeechDigits()).dir, { labels: DIGITS });
    rec = WordRecognizer.train(data.train, [...DIGITS], { n_components: 4, n_mix: 1, n_iter: 5 });
  });

  it('its ONNX export equals the TypeScript scorer and passes the ONNX checker', async () => {
    const model = exportRecognizer(rec);
    const file = join(tmp, 'digits.onnx');
    saveModel(model, file);
    const checked = checkOnnxFiles([file]);
    if (!checked.skipped) expect(checked.failures).toEqual([]);

    // a batch of held-out and training utterances, plus one shifted by 0.3 s of leading silence
    const per = data.shape[0]!;
    const picks = [
      data.test.x.subarray(0, per),
      data.test.x.subarray(per, 2 * per),
      data.train.x.subarray(7 * per, 8 * per),
    ];
    const shifted = new Float32Array(per);
    shifted.set(picks[0]!.subarray(0, per - 4800), 4800);
    picks.push(shifted);
    const x = new Float32Array(picks.length * per);
    picks.forEach((p, i) => x.set(p, i * per));
    const session = await Session.create(file);
    try {
      const out = await session.run({ waveform: { dtype: 'float32', dims: [picks.length, per], data: x } });
      const ll = out.log_likelihood!.data as Float32Array;
      const probs = out.probabilities!.data as Float32Array;
      expect(out.log_likelihood!.dims).toEqual([picks.length, 10]);
      picks.forEach((p, i) => {
        const want = rec.scores(p);
        for (let w = 0; w < 10; w++) {
          const got = ll[i * 10 + w]!;
          if (Math.abs(got - want[w]!) > ONNX_RTOL * Math.abs(want[w]!))
            expect.fail(`utterance ${i} word ${w}: ${got} vs ${want[w]}`);
        }
        expect(probs.subarray(i * 10, i * 10 + 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      });
      // leading silence is trimmed away: the shifted copy (its end cut by 0.3 s) still gets the same word
      const argmax = (i: number): number =>
        ll.subarray(i * 10, i * 10 + 10).reduce((b, v, k, a) => (v > a[b]! ? k : b), 0);
      expect(argmax(3)).toBe(argmax(0));
    } finally {
      await session.release();
    }
  });

  it('recognizes its training speakers and refuses audio shorter than a frame', () => {
    const per = data.shape[0]!;
    let right = 0;
    for (let i = 0; i < data.train.count; i++)
      if (rec.predict(data.train.x.subarray(i * per, (i + 1) * per)) === data.train.y[i]) right++;
    expect(right / data.train.count).toBeGreaterThan(0.9);
    expect(() => rec.scores(new Float32Array(100))).toThrow(/shorter than one 25 ms frame/);
  });
});
