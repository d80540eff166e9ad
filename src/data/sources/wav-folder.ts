/** A folder of WAV files by class: <class>/*.wav, optionally under train/ and test/ (audio/wav-folder.ts). */
import { loadWavFolder, isWavFolder, type WavDataset } from '../audio/wav-folder.ts';
import type { Dataset } from '../dataset.ts';
import { SourceLog, type DataSource } from './source.ts';

/** The Dataset the registry hands out: waveforms plus their class names, preprocessing and report. */
export function wavDataset(ds: WavDataset, format: string): Dataset {
  const log = new SourceLog(format);
  log.read('files', ds.train.count + ds.test.count);
  for (const s of ds.skipped) log.skip(`not a readable WAV file (${s.reason})`, s.file);
  if (ds.truncated)
    log.note(`${ds.truncated} files longer than ${(ds.shape[0]! / ds.sampleRate).toFixed(1)} s were cut`);
  log.note(`mono waveforms at ${ds.sampleRate} Hz, zero-padded to ${(ds.shape[0]! / ds.sampleRate).toFixed(2)} s`);
  return {
    name: ds.name,
    source: ds.source,
    shape: ds.shape,
    classes: ds.classes,
    classNames: ds.labels,
    preprocessing: { kind: 'audio', sampleRate: ds.sampleRate, samples: ds.shape[0]! },
    train: ds.train,
    test: ds.test,
    report: log.report(),
  };
}

export const wavFolder: DataSource = {
  name: 'wav-folder',
  summary: 'a folder of <class>/*.wav (+ train/ and test/), read as mono 16 kHz waveforms',
  claims: (t) => t.isDir && isWavFolder(t.path!),
  load: async (t, opts) => wavDataset(loadWavFolder(t.path!, { limits: opts.limits }), 'wav-folder'),
};
