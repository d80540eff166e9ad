/**
 * data/: datasets and the formats they come in (docs/training.md, docs/speech.md).
 *
 *   const ds = await loadDataset('fashion-mnist');          // or a folder, .csv, .npz, … (sources/)
 *   console.log(describeDataset(ds));                        // which source, how many samples
 *   for (const b of batches(ds.train, 64, { shuffle: true, seed: 0 })) …
 *
 * Arrays: readNpy/writeNpy, readNpz/writeNpz, parseIdx. Audio: decodeWav, mfcc, speechFeatures.
 * Augmentation: parseAugment('flip,rotate:10') + augmentBatch. Text: tokenizer('word'|'char'|'bpe').
 * Uplink codecs (edge → cloud samples): encodeTensor/decodeTensor over CODECS.
 */
export {
  type Dataset,
  type Split,
  type Batch,
  type BatchOptions,
  type SourceReport,
  type SkippedItems,
  batches,
  take,
  sliceSplit,
  normalize,
  meanStd,
  permutation,
  rng,
} from './dataset.ts';
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
export { SOURCE_CATALOG, sourceSummary } from './sources/catalog.ts';
export {
  loadFashionMnist,
  resolveFashionMnistDir,
  FASHION_MNIST_CLASSES,
  DEBIAN_FASHION_MNIST_DIR,
} from './sources/fashion-mnist.ts';
export { datasetFromArrays } from './sources/npy-folder.ts';
export { parseNpy, encodeNpy, readNpy, writeNpy, NPY_DTYPES } from './npy.ts';
export { parseNpz, encodeNpz, readNpz, writeNpz, isNpz } from './npz.ts';
export { parseIdx, encodeIdx } from './idx.ts';
export { withDataInfo, readDataInfo, DATA_INFO_KEY } from './preprocessing.ts';
export { inspectDataset } from './cleaning.ts';
export {
  TRANSFORMS,
  transform,
  augmentBatch,
  parseAugment,
  describeAugment,
  augmenter,
  type AugmentStep,
} from './transforms/index.ts';
export { TOKENIZERS, tokenizer, encoderFor } from './tokenizers/index.ts';
export {
  CODECS,
  CODEC_NAMES,
  getCodec,
  parseCodecSpec,
  encodeTensor,
  decodeTensor,
  psnr,
  maxAbsError,
} from './codecs/index.ts';
export * from './audio/index.ts';
