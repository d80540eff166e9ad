/**
 * `speech-digits` by name: spoken digits synthesized with espeak-ng and sox on first use, cached
 * under the cache folder (audio/speech-digits-synthesis.ts), read as a WAV folder.
 */
import { DIGITS, buildSpeechDigits } from '../audio/speech-digits-synthesis.ts';
import { loadWavFolder } from '../audio/wav-folder.ts';
import type { DataSource } from './source.ts';
import { wavDataset } from './wav-folder.ts';

export const speechDigits: DataSource = {
  name: 'speech-digits',
  summary: 'spoken digits 0-9 synthesized by espeak-ng + sox (seeded, cached; test speakers unseen in training)',
  names: ['speech-digits'],
  options: ['speakers', 'repeats'],
  claims: () => false,
  load: async (_t, opts) => {
    const built = await buildSpeechDigits({
      ...(opts.speakers !== undefined ? { speakers: opts.speakers } : {}),
      ...(opts.repeats !== undefined ? { repeats: opts.repeats } : {}),
      ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const ds = wavDataset(loadWavFolder(built.dir, { limits: opts.limits, labels: DIGITS }), 'speech-digits');
    ds.name = 'speech-digits';
    ds.report!.notes.push(
      `${built.cached ? 'cached' : 'synthesized'} in ${built.dir}: ${built.trainSpeakers.length} training speakers, ${built.testSpeakers.length} test speakers (${built.testSpeakers.slice(0, 4).join(', ')}${built.testSpeakers.length > 4 ? ', …' : ''})`,
    );
    return ds;
  },
};
