import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { smallSpeechDigits, speechToolsMissing, SMALL_SPEECH_DIGITS } from '../../../test/fixtures/speech.ts';
import { DIGITS } from '../audio/speech-digits-synthesis.ts';
import { loadDataset } from '../load-dataset.ts';

const missing = speechToolsMissing();

describe('speech-digits', () => {
  it.skipIf(missing)(
    'synthesizes the ten digits with a speaker-independent split, cached and reproducible',
    { timeout: 180_000 },
    async () => {
      const built = await smallSpeechDigits();
      const ds = await loadDataset('speech-digits', SMALL_SPEECH_DIGITS);
      expect(ds.name).toBe('speech-digits');
      expect(ds.classNames).toEqual([...DIGITS]);
      expect([ds.train.count, ds.test.count]).toEqual([50, 10]);
      expect(built.testSpeakers.filter((s) => built.trainSpeakers.includes(s))).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(built.dir, 'manifest.json'), 'utf8')) as {
        utterances: { split: string; speaker: string; snr: number | null }[];
      };
      // noise is mixed into part of the training split only; test utterances are clean
      expect(manifest.utterances.filter((u) => u.split === 'test').every((u) => u.snr === null)).toBe(true);
      // the second call reuses the cache; the same options name the same folder
      const again = await smallSpeechDigits();
      expect(again).toMatchObject({ cached: true, dir: built.dir });
      expect(existsSync(join(built.dir, 'test', 'seven'))).toBe(true);
      await expect(loadDataset('speech-digits', { ...SMALL_SPEECH_DIGITS, speakers: 1 })).rejects.toThrow(
        /speakers must be an integer >= 2/,
      );
    },
  );
});
