/** Built-in architectures, by name, for `verge train --arch` and examples. */
import { VergeError } from '../errors.ts';
import type { Model } from '../onnx/browser.ts';
import { ReLU, ReLU6 } from './layers/activations.ts';
import { Conv1d, Conv2d } from './layers/conv.ts';
import { Dense } from './layers/dense.ts';
import { BatchNorm } from './layers/normalization.ts';
import { GlobalAvgPool, MaxPool } from './layers/pool.ts';
import { Embedding, EmbeddingBag } from './layers/embedding.ts';
import { GRU, LSTM } from './layers/recurrent.ts';
import { Standardize } from './layers/preprocessing.ts';
import { Flatten, Permute, Reshape } from './layers/shape.ts';
import type { Layer, Shape } from './layer.ts';
import { Sequential } from './network.ts';

export interface ArchitectureOptions {
  /** Per-sample input shape, e.g. [1, 28, 28]. */
  inputShape: Shape;
  classes: number;
  seed?: number;
  /**
   * Standardize inputs inside the model with these statistics (e.g. the training split's mean and
   * standard deviation), so the model still takes raw samples. Default: none.
   */
  standardize?: { mean: number | number[]; std: number | number[]; axis?: 'channel' | 'last' };
  /** Token models (text-*): the vocabulary size (embedding rows); inputs are int64 ids. */
  vocabSize?: number;
  /** text-bow: a fixed weight per token id (e.g. inverse document frequencies); the bag is their weighted mean. */
  tokenWeights?: readonly number[];
}

/** Width of text models' token embeddings and of their recurrent/convolutional layer. */
export const TEXT_EMBEDDING_DIM = 64;
export const TEXT_HIDDEN = 64;
/** text-cnn: filters and width of its 1-D convolution over token embeddings. */
export const TEXT_CNN_FILTERS = 128;
export const TEXT_CNN_KERNEL = 5;

function pre(opts: ArchitectureOptions): Layer[] {
  return opts.standardize ? [new Standardize(opts.standardize)] : [];
}

function needImage(name: string, s: Shape): void {
  if (s.length !== 3)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `architecture '${name}' needs image samples [channels, height, width], got [${s.join(', ')}]`,
    );
}

/**
 * The seed CNN of DESIGN.md: conv 32×3×3 ReLU, maxpool 2, conv 64×3×3 ReLU, maxpool 2, flatten,
 * dense 64 ReLU, dense classes. PyTorch-default initialization.
 */
export function cnn(opts: ArchitectureOptions): Sequential {
  const { inputShape, classes } = opts;
  needImage('cnn', inputShape);
  return new Sequential(inputShape, [
    ...pre(opts),
    new Conv2d({ filters: 32, kernel: 3 }),
    new ReLU(),
    new MaxPool(2),
    new Conv2d({ filters: 64, kernel: 3 }),
    new ReLU(),
    new MaxPool(2),
    new Flatten(),
    new Dense(64),
    new ReLU(),
    new Dense(classes),
  ]);
}

/** Multi-layer perceptron: flatten, dense 256 ReLU, dense 128 ReLU, dense classes. */
export function mlp(opts: ArchitectureOptions): Sequential {
  const { inputShape, classes } = opts;
  return new Sequential(inputShape, [
    ...pre(opts),
    new Flatten(),
    new Dense(256),
    new ReLU(),
    new Dense(128),
    new ReLU(),
    new Dense(classes),
  ]);
}

function convBnRelu6(layers: Layer[], opts: ConstructorParameters<typeof Conv2d>[0]): void {
  layers.push(
    new Conv2d({ useBias: false, kernelInit: 'he-normal', padding: 'same', ...opts }),
    new BatchNorm(),
    new ReLU6(),
  );
}

/**
 * A small MobileNet (v1 style): a stride-2 3×3 stem, then depthwise-separable blocks (3×3
 * depthwise + 1×1 pointwise, each with BatchNorm and ReLU6), global average pooling, dense.
 */
export function mobilenetTiny(opts: ArchitectureOptions): Sequential {
  const { inputShape, classes } = opts;
  needImage('mobilenet-tiny', inputShape);
  const layers: Layer[] = pre(opts);
  convBnRelu6(layers, { filters: 16, kernel: 3, stride: 2 });
  let channels = 16;
  const blocks: [number, number][] = [
    [32, 1],
    [64, 2],
    [64, 1],
  ];
  for (const [out, stride] of blocks) {
    convBnRelu6(layers, { filters: channels, kernel: 3, stride, groups: channels });
    convBnRelu6(layers, { filters: out, kernel: 1 });
    channels = out;
  }
  layers.push(new GlobalAvgPool(), new Dense(classes));
  return new Sequential(inputShape, layers);
}

/** GRU sequence classifier: each row of a sample is a time step (e.g. 28 steps of 28 pixels), GRU 64, dense. */
export function gruClassifier(opts: ArchitectureOptions): Sequential {
  const { inputShape, classes } = opts;
  const features = inputShape[inputShape.length - 1]!;
  const steps = inputShape.reduce((a, b) => a * b, 1) / features;
  return new Sequential(inputShape, [...pre(opts), new Reshape([steps, features]), new GRU(64), new Dense(classes)]);
}

function needTokens(name: string, opts: ArchitectureOptions): [number, number] {
  const s = opts.inputShape;
  if (s.length !== 1 || !opts.vocabSize)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `architecture '${name}' needs token sequences [length] with a vocabulary (text data), got samples [${s.join(', ')}]`,
    );
  return [s[0]!, opts.vocabSize];
}

/**
 * Text classifiers over int64 token ids [length]: an embedding, then a recurrent layer (its last
 * state; fused ONNX GRU/LSTM nodes, lowered for training) or a 1-D convolution with max-pooling
 * over time, then a dense layer scoring the classes.
 */
function textRecurrent(name: string, cell: typeof GRU | typeof LSTM): (o: ArchitectureOptions) => Sequential {
  return (opts) => {
    const [, vocab] = needTokens(name, opts);
    return new Sequential(
      opts.inputShape,
      [
        new Embedding({ vocab, dim: TEXT_EMBEDDING_DIM }),
        new cell({ units: TEXT_HIDDEN, fused: true }),
        new Dense(opts.classes),
      ],
      { dtype: 'int64' },
    );
  };
}

export function textCnn(opts: ArchitectureOptions): Sequential {
  const [length, vocab] = needTokens('text-cnn', opts);
  return new Sequential(
    opts.inputShape,
    [
      new Embedding({ vocab, dim: TEXT_EMBEDDING_DIM }),
      new Permute([1, 0]),
      new Conv1d({ filters: TEXT_CNN_FILTERS, kernel: Math.min(TEXT_CNN_KERNEL, length), padding: 'same' }),
      new ReLU(),
      new MaxPool({ kernel: length }),
      new Flatten(),
      new Dense(opts.classes),
    ],
    { dtype: 'int64' },
  );
}

/**
 * text-bow: fastText's classifier — the mean of the tokens' embeddings (padding ignored, order
 * ignored), then a dense layer. Fast to train; with the `ngram` tokenizer (words and word pairs)
 * a learned bag of n-grams, the neural counterpart of TF-IDF + a linear classifier.
 */
export function textBow(opts: ArchitectureOptions): Sequential {
  const [, vocab] = needTokens('text-bow', opts);
  return new Sequential(
    opts.inputShape,
    [
      new EmbeddingBag({
        vocab,
        dim: TEXT_EMBEDDING_DIM,
        ...(opts.tokenWeights ? { weights: opts.tokenWeights } : {}),
      }),
      new Dense(opts.classes),
    ],
    { dtype: 'int64' },
  );
}

function needFeatures(name: string, s: Shape): void {
  if (s.length !== 3 || s[0] !== 1)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `architecture '${name}' needs speech feature windows [1, frames, features] (train it on audio: speech-digits or a WAV folder), got [${s.join(', ')}]`,
    );
}

function convBnRelu(layers: Layer[], opts: ConstructorParameters<typeof Conv2d>[0]): void {
  layers.push(
    new Conv2d({ useBias: false, kernelInit: 'he-normal', padding: 'same', ...opts }),
    new BatchNorm(),
    new ReLU(),
  );
}

/** kws-cnn: filters of each temporal convolution. */
export const KWS_CNN_WIDTH = 64;

/**
 * Keyword spotters over speech feature windows [1, frames, coefficients] (MFCC + deltas): both end
 * in global average pooling, so a word is recognized wherever it sits in the window.
 * kws-cnn: a temporal CNN (the idea of TC-ResNet, Choi et al. 2019): the coefficients are the
 * channels and the convolutions run over time only — three 1-D convolutions of 64 filters
 * (kernels 5, 5, 3; BatchNorm + ReLU; 2× max-pooling between). A 2-D kernel sliding along the
 * coefficient axis would treat c1 and c2 (or a cepstrum and its delta) as interchangeable positions.
 */
export function kwsCnn(opts: ArchitectureOptions): Sequential {
  needFeatures('kws-cnn', opts.inputShape);
  const [, frames, coefficients] = opts.inputShape as [number, number, number];
  const layers: Layer[] = [...pre(opts), new Reshape([frames, coefficients]), new Permute([1, 0])];
  const conv = (kernel: number) =>
    layers.push(
      new Conv1d({ filters: KWS_CNN_WIDTH, kernel, padding: 'same', useBias: false, kernelInit: 'he-normal' }),
      new BatchNorm(),
      new ReLU(),
    );
  conv(5);
  layers.push(new MaxPool(2));
  conv(5);
  layers.push(new MaxPool(2));
  conv(3);
  layers.push(new GlobalAvgPool(), new Dense(opts.classes));
  return new Sequential(opts.inputShape, layers);
}

/**
 * kws-dscnn: the depthwise-separable CNN of "Hello Edge" (Zhang et al. 2017, DS-CNN S): a 10×4
 * stride-2 convolution of 64 filters over time × coefficients, four blocks of 3×3 depthwise +
 * 1×1 pointwise convolutions (each with BatchNorm and ReLU), global average pooling, dense.
 */
export function kwsDsCnn(opts: ArchitectureOptions): Sequential {
  needFeatures('kws-dscnn', opts.inputShape);
  const layers: Layer[] = pre(opts);
  const width = 64;
  convBnRelu(layers, { filters: width, kernel: [10, 4], stride: 2 });
  for (let i = 0; i < 4; i++) {
    convBnRelu(layers, { filters: width, kernel: 3, groups: width });
    convBnRelu(layers, { filters: width, kernel: 1 });
  }
  layers.push(new GlobalAvgPool(), new Dense(opts.classes));
  return new Sequential(opts.inputShape, layers);
}

export const ARCHITECTURES: Readonly<Record<string, (o: ArchitectureOptions) => Sequential>> = Object.freeze({
  cnn,
  mlp,
  'mobilenet-tiny': mobilenetTiny,
  gru: gruClassifier,
  'text-gru': textRecurrent('text-gru', GRU),
  'text-lstm': textRecurrent('text-lstm', LSTM),
  'text-cnn': textCnn,
  'text-bow': textBow,
  'kws-cnn': kwsCnn,
  'kws-dscnn': kwsDsCnn,
});

/** Architectures over speech feature windows: `verge train` feeds them audio through kws.ts. */
export const SPEECH_ARCHITECTURES: readonly string[] = Object.freeze(['kws-cnn', 'kws-dscnn']);

/** Architectures that take int64 token ids. */
export const TOKEN_ARCHITECTURES: readonly string[] = Object.freeze(['text-gru', 'text-lstm', 'text-cnn', 'text-bow']);

export function architectureNames(): string[] {
  return Object.keys(ARCHITECTURES);
}

/** The network for an architecture name (unbuilt: use .summary() or .build()). */
export function architecture(name: string, opts: ArchitectureOptions): Sequential {
  const make = ARCHITECTURES[name];
  if (!make)
    throw new VergeError('E_BAD_ARGUMENT', `unknown architecture '${name}' (known: ${architectureNames().join(', ')})`);
  if (!(Number.isInteger(opts.classes) && opts.classes > 0))
    throw new VergeError('E_BAD_ARGUMENT', `classes must be a positive integer, got ${opts.classes}`);
  return make(opts);
}

export function buildArchitecture(name: string, opts: ArchitectureOptions): Model {
  return architecture(name, opts).build({ seed: opts.seed ?? 0, name });
}
