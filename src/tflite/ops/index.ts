/**
 * The TFLite operators verge converts to ONNX, one file each. Adding an operator = a file here,
 * a line below, and a case in test/tflite/ops.test.ts (which fails for an operator without one).
 */
import { deepFreeze } from '../../frozen.ts';
import type { TfliteImporter } from './op.ts';
import { logistic, relu, relu6, tanh } from './activations.ts';
import { concatenation } from './concatenation.ts';
import { conv2d } from './conv-2d.ts';
import { depthwiseConv2d } from './depthwise-conv-2d.ts';
import { add, mul } from './elementwise.ts';
import { fullyConnected } from './fully-connected.ts';
import { gather } from './gather.ts';
import { mean } from './mean.ts';
import { pad } from './pad.ts';
import { averagePool2d, maxPool2d } from './pool-2d.ts';
import { dequantize, quantize } from './quantize.ts';
import { reshape } from './reshape.ts';
import { slice } from './slice.ts';
import { softmax } from './softmax.ts';
import { transpose } from './transpose.ts';
import { unidirectionalSequenceLstm } from './unidirectional-sequence-lstm.ts';

export const TFLITE_IMPORTERS: readonly TfliteImporter[] = deepFreeze([
  add,
  averagePool2d,
  concatenation,
  conv2d,
  depthwiseConv2d,
  dequantize,
  fullyConnected,
  gather,
  logistic,
  maxPool2d,
  mean,
  mul,
  pad,
  quantize,
  relu,
  relu6,
  reshape,
  slice,
  softmax,
  tanh,
  transpose,
  unidirectionalSequenceLstm,
]);

export type { TfliteImporter } from './op.ts';
