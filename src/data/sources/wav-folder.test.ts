import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeWav } from '../audio/wav.ts';
import { loadDataset } from '../load-dataset.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/audio');
const tmp = mkdtempSync(join(tmpdir(), 'verge-wav-folder-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('wav-folder', () => {
  it('reads <class>/*.wav as mono waveforms at 16 kHz, resampling and mixing down, skipping bad files', async () => {
    const root = join(tmp, 'words');
    for (const c of ['seven', 'tone']) mkdirSync(join(root, c), { recursive: true });
    // 22,050 Hz speech, 16 kHz speech, and a stereo 8 kHz file: all become 16 kHz mono
    copyFileSync(join(FIXTURES, 'speech_22k.wav'), join(root, 'seven', 'a.wav'));
    for (let i = 0; i < 9; i++) copyFileSync(join(FIXTURES, 'speech_16k.wav'), join(root, 'seven', `b${i}.wav`));
    copyFileSync(join(FIXTURES, 'formats', 'pcm_s16.wav'), join(root, 'tone', 'stereo.wav'));
    for (let i = 0; i < 9; i++) copyFileSync(join(FIXTURES, 'tone_16k.wav'), join(root, 'tone', `t${i}.wav`));
    writeFileSync(
      join(root, 'tone', 'broken.wav'),
      encodeWav({ sampleRate: 16000, channels: [new Float32Array(100)] }).subarray(0, 60),
    );
    const ds = await loadDataset(root);
    expect(ds.report?.format).toBe('wav-folder');
    expect(ds.classNames).toEqual(['seven', 'tone']);
    expect(ds.train.count + ds.test.count).toBe(20);
    expect(ds.test.count).toBe(2); // every tenth file per listing order
    expect(ds.preprocessing).toEqual({ kind: 'audio', sampleRate: 16000, samples: ds.shape[0] });
    // 16,680 samples at 22,050 Hz -> ceil(16,680 · 16,000 / 22,050) = 12,104 at 16 kHz, the longest file
    expect(ds.shape).toEqual([12104]);
    expect(ds.report?.skipped[0]?.count).toBe(1);
    expect(ds.report?.skipped[0]?.reason).toMatch(/truncated/);
  });

  it('uses train/ and test/ when present', async () => {
    const root = join(tmp, 'split');
    for (const s of ['train', 'test']) {
      mkdirSync(join(root, s, 'a'), { recursive: true });
      mkdirSync(join(root, s, 'b'), { recursive: true });
      copyFileSync(join(FIXTURES, 'speech_16k.wav'), join(root, s, 'a', 'x.wav'));
      copyFileSync(join(FIXTURES, 'tone_16k.wav'), join(root, s, 'b', 'y.wav'));
    }
    const ds = await loadDataset(root);
    expect([ds.train.count, ds.test.count]).toEqual([2, 2]);
    expect(Array.from(ds.test.y)).toEqual([0, 1]);
  });
});
