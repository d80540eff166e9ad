/**
 * An agent serving the speech recognizer answers a WAV file posted as `audio/wav` (over a real
 * socket), with the scores the TypeScript recognizer computes for that file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIGITS } from '../../src/data/audio/speech-digits-synthesis.ts';
import { loadWavFolder } from '../../src/data/audio/wav-folder.ts';
import { readWaveform } from '../../src/data/audio/wav-file.ts';
import { encodeWav } from '../../src/data/audio/wav.ts';
import { InferenceStats } from '../../src/edge/inference-stats.ts';
import { buildLocalApi } from '../../src/edge/local-api.ts';
import { ServedModels, loadModelBytes } from '../../src/edge/served-models.ts';
import { exportRecognizer } from '../../src/hmm/onnx-export.ts';
import { WordRecognizer } from '../../src/hmm/recognizer.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import { smallSpeechDigits, speechToolsMissing } from '../fixtures/speech.ts';
import { seedCnnBytes, sha256 } from './models.ts';

const missing = speechToolsMissing();
const served = new ServedModels();
const api = buildLocalApi({ served, stats: new InferenceStats() });
let url = '';
let dir = '';
let rec: WordRecognizer;

describe.skipIf(missing)('agent serving a speech recognizer', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    dir = (await smallSpeechDigits()).dir;
    const data = loadWavFolder(dir, { labels: DIGITS });
    rec = WordRecognizer.train(data.train, [...DIGITS], { n_components: 4, n_mix: 1, n_iter: 4 });
    const bytes = encodeModel(exportRecognizer(rec));
    served.swap(
      await loadModelBytes({ name: 'digits', version: '1.0.0', variant: 'fp32', sha256: sha256(bytes) }, bytes, {
        threads: 1,
      }),
    );
    const cnn = seedCnnBytes();
    served.swap(
      await loadModelBytes({ name: 'seed', version: '1.0.0', variant: 'fp32', sha256: sha256(cnn) }, cnn, {
        threads: 1,
      }),
    );
    url = await api.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await api.close();
    await served.close();
  });

  /** A held-out speaker's recording of `digit`. */
  const testWav = (digit: string): string => {
    const speaker = (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { testSpeakers: string[] })
      .testSpeakers[0]!;
    return join(dir, 'test', digit, `${speaker}-0.wav`);
  };

  it('answers a posted WAV file with the recognizer scores', async () => {
    const wav = testWav('seven');
    const res = await fetch(`${url}/v1/models/digits:predict`, {
      method: 'POST',
      headers: { 'content-type': 'audio/wav' },
      body: readFileSync(wav),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      outputs: Record<string, { dims: number[]; data: number[] }>;
      model: { name: string };
    };
    expect(body.model.name).toBe('digits');
    expect(body.outputs.log_likelihood!.dims).toEqual([1, 10]);
    const want = rec.scores(readWaveform(wav, 16000));
    body.outputs.log_likelihood!.data.forEach((v, w) =>
      expect(Math.abs(v - want[w]!)).toBeLessThan(1e-4 * Math.abs(want[w]!)),
    );
  });

  it('refuses a broken WAV, and audio for a model that does not take it, with one error object', async () => {
    const post = (model: string, body: Uint8Array) =>
      fetch(`${url}/v1/models/${model}:predict`, { method: 'POST', headers: { 'content-type': 'audio/x-wav' }, body });
    const bad = await post('digits', new TextEncoder().encode('RIFF....WAVEjunk'));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('E_DATA_INVALID');
    const short = await post('digits', encodeWav({ sampleRate: 16000, channels: [new Float32Array(100)] }));
    expect(short.status).toBe(400);
    expect(((await short.json()) as { error: { message: string } }).error.message).toMatch(/needs at least 400/);
    const cnn = await post('seed', readFileSync(testWav('one')));
    expect(cnn.status).toBe(422);
    expect(((await cnn.json()) as { error: { code: string } }).error.code).toBe('E_UNSUPPORTED');
  });
});
