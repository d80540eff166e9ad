/**
 * A model trained on speech features (a keyword spotter over MFCC frames) wrapped into one ONNX
 * model that takes the raw waveform, like the HMM recognizer: the speech front end of
 * onnx-frontend.ts (MFCC, VAD trim, CMN, deltas), the first `frames` frames of the span
 * (zero-padded), then the feature model's own nodes. Agents then serve it from `audio/wav`
 * requests and `verge run --wav` feeds it, with no feature code on the client. The result is
 * written at opset 17 (the front end's), so the feature model may only use ops whose meaning is
 * the same there. Browser-safe.
 */
import { VergeError } from '../../errors.ts';
import { GraphBuilder, makeModel, emptyGraph, type Model } from '../../onnx/browser.ts';
import { withDataInfo } from '../preprocessing.ts';
import type { FeatureOptions } from './features.ts';
import { mfccPlan } from './mfcc.ts';
import { AUDIO_METADATA } from './model-input.ts';
import { addSpeechFrontEnd } from './onnx-frontend.ts';

export const WAVEFORM_MODEL_OPSET = 17;
export const WAVEFORM_MODEL_IR_VERSION = 8;

/** Ops whose definition at opset 17 is the one verge's feature models are built with (up to 21). */
const OPSET17_SAFE_OPS = new Set([
  'Add',
  'Constant',
  'AveragePool',
  'BatchNormalization',
  'Concat',
  'Conv',
  'Div',
  'Flatten',
  'Gather',
  'Gemm',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'Identity',
  'MatMul',
  'MaxPool',
  'Mul',
  'Relu',
  'Reshape',
  'Sigmoid',
  'Softmax',
  'Sub',
  'Tanh',
  'Transpose',
  'Unsqueeze',
  'Squeeze',
  'LeakyRelu',
  'Clip',
]);

export interface WaveformModelOptions {
  /** The front end the feature model was trained on (featureOptions()). */
  features: FeatureOptions;
  /** Frames per utterance the feature model takes (its input is [batch, 1, frames, dim] or [batch, frames, dim]). */
  frames: number;
  sampleRate: number;
  /** Class names by output index. */
  labels: readonly string[];
}

/** `featureModel` (input [batch, …, frames, dim] float32) behind the ONNX speech front end. Pure. */
export function withSpeechFrontEnd(featureModel: Model, opts: WaveformModelOptions): Model {
  const inner = featureModel.graph;
  const inits = new Set(inner.initializers.map((t) => t.name));
  const dataInputs = inner.inputs.filter((i) => !inits.has(i.name));
  if (dataInputs.length !== 1)
    throw new VergeError('E_UNSUPPORTED', `the feature model has ${dataInputs.length} inputs; one is needed`);
  const input = dataInputs[0]!;
  const shape = input.type?.kind === 'tensor' ? (input.type.shape ?? []) : [];
  const perSample = shape.slice(1);
  if (perSample.some((d) => typeof d !== 'number') || perSample.length < 2)
    throw new VergeError('E_UNSUPPORTED', `the feature model's input needs fixed sizes [batch, …, frames, dim]`);
  const dims = perSample as number[];
  const dim = dims[dims.length - 1]!;
  if (dims[dims.length - 2] !== opts.frames)
    throw new VergeError(
      'E_UNSUPPORTED',
      `the feature model takes ${dims[dims.length - 2]} frames, not ${opts.frames}`,
    );
  for (const n of inner.nodes) {
    if ((n.domain !== '' && n.domain !== 'ai.onnx') || !OPSET17_SAFE_OPS.has(n.opType))
      throw new VergeError(
        'E_UNSUPPORTED',
        `the feature model uses ${n.opType}, which cannot be placed behind the opset-${WAVEFORM_MODEL_OPSET} speech front end`,
      );
  }

  const b = new GraphBuilder(emptyGraph(`${inner.name || 'model'}_from_waveform`));
  const waveform = b.input('waveform', 'float32', ['batch', 'samples']);
  const outputNames = inner.outputs.map((o) => b.reserve(o.name));
  const { features } = addSpeechFrontEnd(b, waveform, opts.features); // [B, F, dim]
  if (dim !== (opts.features.deltaOrder + 1) * opts.features.mfcc.numCeps)
    throw new VergeError(
      'E_UNSUPPORTED',
      `the feature model takes ${dim} features per frame; the front end makes ${(opts.features.deltaOrder + 1) * opts.features.mfcc.numCeps}`,
    );
  // at least `frames` frames (zeros after the span), then the first `frames`
  const padded = b.op('Pad', [features, b.constInt64([0, 0, 0, 0, opts.frames, 0])]);
  const fixed = b.op('Slice', [padded, b.constInt64([0]), b.constInt64([opts.frames]), b.constInt64([1])]);
  const x = b.op('Reshape', [fixed, b.constInt64([-1, ...dims])]);

  // the feature model's nodes, its tensors renamed apart from the front end's
  const rename = new Map<string, string>([[input.name, x]]);
  inner.outputs.forEach((o, i) => rename.set(o.name, outputNames[i]!));
  const nameOf = (t: string): string => {
    if (t === '') return t;
    let r = rename.get(t);
    if (r === undefined) rename.set(t, (r = b.uniqueName(`kws/${t}`)));
    return r;
  };
  for (const t of inner.initializers) b.graph.initializers.push({ ...t, name: nameOf(t.name) });
  for (const n of inner.nodes)
    b.graph.nodes.push({
      ...n,
      name: b.uniqueName(`kws/${n.name || n.opType}`),
      inputs: n.inputs.map(nameOf),
      outputs: n.outputs.map(nameOf),
    });
  inner.outputs.forEach((o, i) => b.graph.outputs.push({ ...o, name: outputNames[i]! }));
  const probs = b.op('Softmax', [outputNames[0]!], { axis: 1 }, { output: b.uniqueName('probabilities') });
  b.output(probs, 'float32', ['batch', opts.labels.length]);

  const model = makeModel(b.graph, {
    opset: WAVEFORM_MODEL_OPSET,
    irVersion: WAVEFORM_MODEL_IR_VERSION,
    docString: `${featureModel.docString ?? 'feature model'} behind the speech front end (mono waveform at ${opts.sampleRate} Hz)`,
  });
  model.metadataProps = [
    { key: AUDIO_METADATA.input, value: 'audio/wav' },
    { key: AUDIO_METADATA.sampleRate, value: String(opts.sampleRate) },
    { key: AUDIO_METADATA.minSamples, value: String(mfccPlan(opts.features.mfcc).frameLength) },
    { key: AUDIO_METADATA.labels, value: JSON.stringify(opts.labels) },
  ];
  return withDataInfo(model, { classNames: [...opts.labels] });
}
