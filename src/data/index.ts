/**
 * data/: datasets and the formats they come in (docs/training.md, docs/speech.md).
 *
 *   const ds = await loadDataset('fashion-mnist');          // or a folder, .csv, .npz, … (sources/)
 *   console.log(describeDataset(ds));                        // which source, how many samples
 *   for (const b of batches(ds.train, 64, { shuffle: true, seed: 0 })) …
 *
 * Arrays: readNpy/writeNpy, readNpz/writeNpz, parseIdx. Audio: decodeWav, mfcc, speechFeatures.
 * Augmentation: parseAugment('flip,rotate:10') + augmentBatch. Text: tokenizer('word'|'char'|'bpe'|'ngram').
 * Uplink codecs (edge → cloud samples): encodeTensor/decodeTensor over CODECS.
 */
export * from './browser.ts';
export {
  loadDataset,
  describeDataset,
  chooseSource,
  HOLDOUT_FRACTION,
  MAX_CLASSES,
  type LoadDatasetOptions,
} from './load-dataset.ts';
export { DATA_SOURCES, dataSource, builtinDatasetNames } from './sources/index.ts';
export type { DataSource, DataTarget, SourceOptions } from './sources/source.ts';
export { loadFashionMnist, resolveFashionMnistDir, DEBIAN_FASHION_MNIST_DIR } from './sources/fashion-mnist.ts';
export { datasetFromArrays } from './sources/npy-folder.ts';
export { parseNpy, encodeNpy, readNpy, writeNpy, NPY_DTYPES } from './npy.ts';
export { parseNpz, encodeNpz, readNpz, writeNpz, isNpz } from './npz.ts';
export { csvInput, imageInput, predictionsOf, textInput, type SamplePrediction } from './raw-input.ts';
export { type NdArray } from './npy.ts';
