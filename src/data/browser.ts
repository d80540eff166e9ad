/**
 * data/'s public API without its Node-only modules (sources reading files, npy/npz files, image
 * decoding): datasets, batching, IDX parsing, preprocessing records, transforms, tokenizers, codecs
 * and audio features — what the browser path (nn, train, web/app) and other layers import.
 * index.ts re-exports all of it.
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
export { SOURCE_CATALOG, sourceSummary } from './sources/catalog.ts';
export { parseIdx, encodeIdx, idxPairToSplit } from './idx.ts';
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
export { FASHION_MNIST_CLASSES } from './fashion-mnist-classes.ts';
export { selectSamples } from './dataset.ts';
export {
  LATENT_BITS,
  learnedCodecModels,
  type CodecContext,
  type FloatTensor,
  type LearnedCodecRunner,
} from './codecs/index.ts';
export { type SourceOptions } from './sources/source.ts';
export { type DataInfo } from './preprocessing.ts';
export { inTestSplit } from './hash-split.ts';
export { addSpeechFrontEnd } from './audio/onnx-frontend.ts';
export { standardizationFor, type Standardization } from './standardize.ts';
export { concatSplits } from './dataset.ts';
export { inverseDocumentFrequencies } from './text-dataset.ts';
