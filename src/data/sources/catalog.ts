/**
 * The data sources' names and one-line summaries, for help texts. Data only (no imports but the
 * freezing helper): the CLI lists the formats without loading the readers; each source takes its
 * summary from here (sourceSummary), and `test/cli/startup.test.ts` checks this lists exactly the
 * registry's sources.
 */
import { deepFreeze } from '../../frozen.ts';

export const SOURCE_CATALOG: readonly { readonly name: string; readonly summary: string }[] = deepFreeze([
  {
    name: 'fashion-mnist',
    summary: 'Fashion-MNIST by name: $VERGE_DATA_DIR, /usr/share/datasets/fashion-mnist, or the repo subset',
  },
  {
    name: 'speech-digits',
    summary: 'spoken digits 0-9 synthesized by espeak-ng + sox (seeded, cached; test speakers unseen in training)',
  },
  {
    name: 'debian-descriptions',
    summary: 'Debian package descriptions → section (10 largest), built from `apt-cache dumpavail` and cached',
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
  {
    name: 'image-folder',
    summary:
      'class folders of images: <class>/*.png|jpg|jpeg|webp, optionally under train/ and test/ (--image-size, --channels)',
  },
  {
    name: 'text-folder',
    summary:
      'class folders of text: <class>/*.txt, optionally under train/ and test/ (--tokenizer, --vocab-size, --max-length)',
  },
  {
    name: 'series',
    summary:
      'sensor series in CSV (a file or a folder of recordings): --window N [--stride S] [--time-column C] [--label C] → [window, channels]',
  },
  {
    name: 'text-csv',
    summary: "a CSV of texts and labels: --text-column (default 'text') and --label; train.csv + test.csv or one file",
  },
  {
    name: 'csv',
    summary:
      'a CSV table (or a folder with train.csv + test.csv): --label COLUMN, numeric and categorical features, --missing impute|drop',
  },
]);

/** The summary of a catalogued source (sources/<name>.ts uses it, so the text lives in one place). */
export function sourceSummary(name: string): string {
  const e = SOURCE_CATALOG.find((s) => s.name === name);
  if (!e) throw new Error(`data source '${name}' is missing from sources/catalog.ts`);
  return e.summary;
}
