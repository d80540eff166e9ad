/**
 * The data sources' names and one-line summaries, for help texts. Data only (no imports): the CLI
 * lists the formats without loading the readers. `test/cli/startup.test.ts` checks it lists
 * exactly the registry's sources (./index.ts) with the same summaries.
 */
export const SOURCE_CATALOG: readonly { name: string; summary: string }[] = [
  {
    name: 'fashion-mnist',
    summary: 'Fashion-MNIST by name: $VERGE_DATA_DIR, /usr/share/datasets/fashion-mnist, or the repo subset',
  },
  {
    name: 'speech-digits',
    summary: 'spoken digits 0-9 synthesized by espeak-ng + sox (seeded, cached; test speakers unseen in training)',
  },
  {
    name: 'idx',
    summary:
      'a folder of IDX files (MNIST family): train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz], t10k-… for test',
  },
  {
    name: 'npy-folder',
    summary: 'a folder with x.npy and y.npy (+ x_test.npy, y_test.npy); without a test pair the last 10% is test',
  },
  { name: 'npz', summary: 'an .npz archive with arrays x and y (+ x_test, y_test)' },
  { name: 'wav-folder', summary: 'a folder of <class>/*.wav (+ train/ and test/), read as mono 16 kHz waveforms' },
];
