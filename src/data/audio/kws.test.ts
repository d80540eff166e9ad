import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOnnxFiles } from '../../../test/fixtures/onnx-checker.ts';
import { buildArchitecture } from '../../nn/architectures.ts';
import { encodeModel } from '../../onnx/codec.ts';
import { saveModel } from '../../onnx/io.ts';
import { Session } from '../../runtime/index.ts';
import { TrainingSession } from '../../train/session.ts';
import { rng, type Dataset } from '../dataset.ts';
import { readDataInfo } from '../preprocessing.ts';
import { featureOptions } from './features.ts';
import { KWS_FRAMES, kwsData, kwsWindow, withWhiteNoise } from './kws.ts';
import { audioInputOf } from './model-input.ts';
import { readWaveform } from './wav-file.ts';

const wav = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'audio', 'speech_16k.wav');

/** Two "words": the fixture utterance and the same at half the amplitude, reversed. */
function speechData(): Dataset {
  const w = readWaveform(wav, 16000);
  const per = w.length;
  const other = Float32Array.from(w, (_, i) => 0.5 * w[per - 1 - i]!);
  const x = new Float32Array(4 * per);
  [w, other, w, other].forEach((s, i) => x.set(s, i * per));
  const split = { x, y: Int32Array.from([0, 1, 0, 1]), count: 4 };
  return {
    name: 'two-words',
    source: wav,
    shape: [per],
    classes: 2,
    classNames: ['fwd', 'rev'],
    preprocessing: { kind: 'audio', sampleRate: 16000, samples: per },
    train: split,
    test: { x: x.slice(0, 2 * per), y: Int32Array.from([0, 1]), count: 2 },
  };
}

describe('keyword spotting data', () => {
  const data = speechData();
  const per = data.shape[0]!;

  it('turns waveforms into standardized feature windows, with optional noisy copies', () => {
    const k = kwsData(data);
    expect(k.dataset.shape).toEqual([1, KWS_FRAMES, 39]);
    expect(k.dataset.train.count).toBe(4);
    const first = kwsWindow(data.train.x.subarray(0, per), KWS_FRAMES, featureOptions());
    expect(Array.from(k.dataset.train.x.subarray(0, first.length))).toEqual(Array.from(first));
    expect(k.standardize.axis).toBe('last');
    expect((k.standardize.mean as number[]).length).toBe(39);
    expect((k.standardize.std as number[]).every((s) => s > 0)).toBe(true);
    const noisy = kwsData(data, { noiseSnr: [5, 5], seed: 1 });
    expect(noisy.dataset.train.count).toBe(8);
    expect(Array.from(noisy.dataset.train.y)).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    // the copies differ from the clean windows but are the same word
    expect(noisy.dataset.train.x.subarray(4 * first.length, 5 * first.length)).not.toEqual(first);
  });

  it('adds white noise at the asked SNR over the speech', () => {
    const one = { x: data.train.x.slice(0, per), y: Int32Array.from([0]), count: 1 };
    const out = withWhiteNoise(one, per, () => 10, rng(3));
    let a = 0;
    let b = per;
    while (one.x[a] === 0) a++;
    while (one.x[b - 1] === 0) b--;
    let ps = 0;
    let pn = 0;
    for (let k = a; k < b; k++) {
      ps += one.x[k]! ** 2;
      pn += (out.x[k]! - one.x[k]!) ** 2;
    }
    // the ratio over the speech's extent (first to last non-zero sample) is the asked 10 dB
    expect(b - a).toBeGreaterThan(per / 2);
    expect(out.x.subarray(0, a).some((v) => v !== 0) || a === 0).toBe(true);
    expect(10 * Math.log10(ps / pn)).toBeCloseTo(10, 6);
  });

  it('refuses data that is not audio', () => {
    const images: Dataset = {
      ...data,
      shape: [1, 28, 28],
      preprocessing: { kind: 'image', channels: 1, height: 28, width: 28 },
    };
    expect(() => kwsData(images)).toThrow(/keyword spotters \(kws-\*\) train on audio/);
    expect(() => kwsData({ ...data, preprocessing: { kind: 'audio', sampleRate: 8000, samples: per } })).toThrow(
      /at 8000 Hz; the speech front end expects 16000 Hz/,
    );
  });

  it.for(['kws-cnn', 'kws-dscnn'])(
    '%s trains on the windows; deployed behind the front end it scores the waveform alike and passes the checker',
    async (arch, ctx) => {
      const k = kwsData(data);
      const net = buildArchitecture(arch, {
        inputShape: k.dataset.shape,
        classes: 2,
        seed: 1,
        standardize: k.standardize,
      });
      const s = await TrainingSession.create(net, {
        loss: 'cross-entropy',
        optimizer: { kind: 'adam' },
        threads: 1,
        seed: 1,
      });
      const size = KWS_FRAMES * 39;
      const input = { dtype: 'float32' as const, dims: [4, 1, KWS_FRAMES, 39], data: k.dataset.train.x };
      await s.step({ input }, { dtype: 'int32', dims: [4], data: k.dataset.train.y });
      const trained = s.exportModel();
      await s.release();
      const deployed = k.deploy(trained);
      expect(audioInputOf(deployed)?.input).toBe('waveform');
      expect(readDataInfo(deployed)?.classNames).toEqual(['fwd', 'rev']);
      const direct = await Session.create(encodeModel(trained), { threads: 1 });
      const want = (
        await direct.run({ input: { dtype: 'float32', dims: [2, 1, KWS_FRAMES, 39], data: k.dataset.test.x } })
      ).logits!.data as Float32Array;
      await direct.release();
      const wrapped = await Session.create(encodeModel(deployed), { threads: 1 });
      const got = (await wrapped.run({ waveform: { dtype: 'float32', dims: [2, per], data: data.test.x } })).logits!
        .data as Float32Array;
      await wrapped.release();
      expect(want.length).toBe(4);
      got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(want[i]!))));
      expect(k.dataset.test.x.length).toBe(2 * size);
      const dir = mkdtempSync(join(tmpdir(), 'verge-kws-'));
      try {
        const path = join(dir, `${arch}.onnx`);
        saveModel(deployed, path);
        const r = checkOnnxFiles([path]);
        if (r.skipped) return ctx.skip(r.skipped);
        expect(r.failures).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
