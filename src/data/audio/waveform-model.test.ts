import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOnnxFiles } from '../../../test/fixtures/onnx-checker.ts';
import { buildArchitecture } from '../../nn/architectures.ts';
import { encodeModel } from '../../onnx/codec.ts';
import { saveModel } from '../../onnx/io.ts';
import { Session } from '../../runtime/index.ts';
import { readDataInfo } from '../preprocessing.ts';
import { featureOptions, speechFeatures } from './features.ts';
import { audioInputOf } from './model-input.ts';
import { readWaveform } from './wav-file.ts';
import { withSpeechFrontEnd } from './waveform-model.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const FRAMES = 100;
const wav = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'audio', 'speech_16k.wav');

describe('a feature model behind the ONNX speech front end', () => {
  const opts = featureOptions();
  const cnn = buildArchitecture('cnn', {
    inputShape: [1, FRAMES, 39],
    classes: 3,
    seed: 2,
    standardize: { mean: 0.5, std: 3 },
  });
  const labels = ['yes', 'no', 'maybe'];
  const model = withSpeechFrontEnd(cnn, { features: opts, frames: FRAMES, sampleRate: 16000, labels });

  it('takes the waveform and scores it as the feature model scores the TypeScript features', async () => {
    const waveform = readWaveform(wav, 16000);
    const f = speechFeatures(waveform, opts);
    const x = new Float32Array(FRAMES * 39);
    x.set(f.data.subarray(0, Math.min(f.frames, FRAMES) * 39));
    const direct = await Session.create(encodeModel(cnn), { threads: 1 });
    const want = (await direct.run({ input: { dtype: 'float32', dims: [1, 1, FRAMES, 39], data: x } })).logits!
      .data as Float32Array;
    await direct.release();
    const wrapped = await Session.create(encodeModel(model), { threads: 1 });
    const out = await wrapped.run({ waveform: { dtype: 'float32', dims: [1, waveform.length], data: waveform } });
    await wrapped.release();
    const got = out.logits!.data as Float32Array;
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(want[i]!))));
    const p = out.probabilities!.data as Float32Array;
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('declares audio input and its labels, and passes the ONNX checker', (ctx) => {
    expect(audioInputOf(model)).toEqual({ input: 'waveform', sampleRate: 16000, minSamples: 400 });
    expect(readDataInfo(model)?.classNames).toEqual(labels);
    const dir = mkdtempSync(join(tmpdir(), 'verge-kws-'));
    try {
      const path = join(dir, 'kws.onnx');
      saveModel(model, path);
      const r = checkOnnxFiles([path]);
      if (r.skipped) return ctx.skip(r.skipped);
      expect(r.failures).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a feature model of the wrong size or with ops the front end opset cannot hold', () => {
    expect(() => withSpeechFrontEnd(cnn, { features: opts, frames: 50, sampleRate: 16000, labels })).toThrow(
      /takes 100 frames, not 50/,
    );
    const gru = buildArchitecture('gru', { inputShape: [FRAMES, 39], classes: 3 });
    expect(() => withSpeechFrontEnd(gru, { features: opts, frames: FRAMES, sampleRate: 16000, labels })).toThrow(
      /^the feature model uses \w+, which cannot be placed behind the opset-17 speech front end$/,
    );
  });
});
