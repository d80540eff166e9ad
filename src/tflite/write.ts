/**
 * Writing a TensorFlow Lite flatbuffer from plain objects, through the `flatbuffers` Builder and
 * the field slots in ./schema.ts (the mirror of ./read.ts). One subgraph; buffer 0 is the empty
 * buffer TFLite reserves; every constant tensor gets its own buffer, 16-byte aligned.
 */
import { Builder } from 'flatbuffers';
import {
  BUFFER,
  MODEL,
  OPERATOR,
  OPERATOR_CODE,
  QUANTIZATION,
  SUBGRAPH,
  TENSOR,
  TFLITE_FILE_IDENTIFIER,
  TFLITE_SCHEMA_VERSION,
} from './schema.ts';

/** One scalar or int32-vector field of an options table. */
export type OptionField =
  | { slot: number; kind: 'int8' | 'int32' | 'float32'; value: number }
  | { slot: number; kind: 'bool'; value: boolean }
  | { slot: number; kind: 'int32Vector'; value: number[] };

export interface TfliteOptions {
  /** BuiltinOptions union member (schema.ts OPTIONS_TYPE). */
  type: number;
  fields: OptionField[];
}

export interface TfliteTensorOut {
  name: string;
  shape: number[];
  /** TensorType code (schema.ts TENSOR_TYPE). */
  type: number;
  /** Constant data (little-endian bytes); absent for computed tensors. */
  data?: Uint8Array;
  /** Quantization of an int8 / int32 tensor: real = scale · (q − zero point), per channel along `quantizedDimension` when more than one. */
  quantization?: { scale: number[]; zeroPoint: number[]; quantizedDimension: number };
}

export interface TfliteOperatorOut {
  builtin: number;
  inputs: number[];
  outputs: number[];
  options?: TfliteOptions;
}

export interface TfliteGraphOut {
  name: string;
  description: string;
  tensors: TfliteTensorOut[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperatorOut[];
}

/** Alignment of constant buffers: TFLite kernels read weights in place, 16 bytes suits SIMD loads. */
const BUFFER_ALIGNMENT = 16;

function offsets(b: Builder, items: number[]): number {
  b.startVector(4, items.length, 4);
  for (let i = items.length - 1; i >= 0; i--) b.addOffset(items[i]!);
  return b.endVector();
}

function int32s(b: Builder, items: number[]): number {
  b.startVector(4, items.length, 4);
  for (let i = items.length - 1; i >= 0; i--) b.addInt32(items[i]!);
  return b.endVector();
}

function bytesVector(b: Builder, data: Uint8Array): number {
  b.startVector(1, data.length, BUFFER_ALIGNMENT);
  for (let i = data.length - 1; i >= 0; i--) b.addInt8(data[i]!);
  return b.endVector();
}

function quantizationTable(b: Builder, q: NonNullable<TfliteTensorOut['quantization']>): number {
  b.startVector(4, q.scale.length, 4);
  for (let i = q.scale.length - 1; i >= 0; i--) b.addFloat32(q.scale[i]!);
  const scale = b.endVector();
  b.startVector(8, q.zeroPoint.length, 8);
  for (let i = q.zeroPoint.length - 1; i >= 0; i--) b.addInt64(BigInt(q.zeroPoint[i]!));
  const zeroPoint = b.endVector();
  b.startObject(7);
  b.addFieldOffset(QUANTIZATION.scale, scale, 0);
  b.addFieldOffset(QUANTIZATION.zeroPoint, zeroPoint, 0);
  b.addFieldInt32(QUANTIZATION.quantizedDimension, q.quantizedDimension, 0);
  return b.endObject();
}

function optionsTable(b: Builder, o: TfliteOptions): number {
  const vectors = o.fields.map((f) => (f.kind === 'int32Vector' ? int32s(b, f.value) : 0));
  b.startObject(Math.max(0, ...o.fields.map((f) => f.slot + 1)));
  o.fields.forEach((f, i) => {
    if (f.kind === 'int32Vector') b.addFieldOffset(f.slot, vectors[i]!, 0);
    else if (f.kind === 'int8') b.addFieldInt8(f.slot, f.value, 0);
    else if (f.kind === 'bool') b.addFieldInt8(f.slot, f.value ? 1 : 0, 0);
    else if (f.kind === 'int32') b.addFieldInt32(f.slot, f.value, 0);
    else b.addFieldFloat32(f.slot, f.value, 0);
  });
  return b.endObject();
}

/** Serialize one graph as a .tflite flatbuffer (file identifier "TFL3", schema version 3). */
export function writeTflite(g: TfliteGraphOut): Uint8Array {
  const b = new Builder(1024);
  // every field is written, defaults too: a reader never depends on the schema's default values
  b.forceDefaults(true);
  const codes = [...new Set(g.operators.map((op) => op.builtin))];
  const codeTables = codes.map((c) => {
    b.startObject(4);
    b.addFieldInt8(OPERATOR_CODE.deprecatedBuiltinCode, Math.min(c, 127), 0);
    b.addFieldInt32(OPERATOR_CODE.version, 1, 0);
    b.addFieldInt32(OPERATOR_CODE.builtinCode, c, 0);
    return b.endObject();
  });
  const buffers = [0];
  const bufferData: Uint8Array[] = [new Uint8Array(0)];
  const tensors = g.tensors.map((t) => {
    let buffer = 0;
    if (t.data) {
      buffer = bufferData.length;
      bufferData.push(t.data);
    }
    const name = b.createString(t.name);
    const shape = int32s(b, t.shape);
    const quantization = t.quantization ? quantizationTable(b, t.quantization) : 0;
    b.startObject(7);
    b.addFieldOffset(TENSOR.shape, shape, 0);
    b.addFieldInt8(TENSOR.type, t.type, 0);
    b.addFieldInt32(TENSOR.buffer, buffer, 0);
    b.addFieldOffset(TENSOR.name, name, 0);
    if (quantization) b.addFieldOffset(TENSOR.quantization, quantization, 0);
    return b.endObject();
  });
  const operators = g.operators.map((op) => {
    const options = op.options ? optionsTable(b, op.options) : 0;
    const ins = int32s(b, op.inputs);
    const outs = int32s(b, op.outputs);
    b.startObject(5);
    b.addFieldInt32(OPERATOR.opcodeIndex, codes.indexOf(op.builtin), 0);
    b.addFieldOffset(OPERATOR.inputs, ins, 0);
    b.addFieldOffset(OPERATOR.outputs, outs, 0);
    if (op.options) {
      b.addFieldInt8(OPERATOR.builtinOptionsType, op.options.type, 0);
      b.addFieldOffset(OPERATOR.builtinOptions, options, 0);
    }
    return b.endObject();
  });
  const tensorVec = offsets(b, tensors);
  const inputs = int32s(b, g.inputs);
  const outputs = int32s(b, g.outputs);
  const operatorVec = offsets(b, operators);
  const graphName = b.createString(g.name);
  b.startObject(5);
  b.addFieldOffset(SUBGRAPH.tensors, tensorVec, 0);
  b.addFieldOffset(SUBGRAPH.inputs, inputs, 0);
  b.addFieldOffset(SUBGRAPH.outputs, outputs, 0);
  b.addFieldOffset(SUBGRAPH.operators, operatorVec, 0);
  b.addFieldOffset(SUBGRAPH.name, graphName, 0);
  const subgraph = b.endObject();
  for (const data of bufferData.slice(1)) {
    const vec = bytesVector(b, data);
    b.startObject(1);
    b.addFieldOffset(BUFFER.data, vec, 0);
    buffers.push(b.endObject());
  }
  b.startObject(0);
  buffers[0] = b.endObject();
  const codeVec = offsets(b, codeTables);
  const subgraphs = offsets(b, [subgraph]);
  const bufferVec = offsets(b, buffers);
  const description = b.createString(g.description);
  b.startObject(5);
  b.addFieldInt32(MODEL.version, TFLITE_SCHEMA_VERSION, 0);
  b.addFieldOffset(MODEL.operatorCodes, codeVec, 0);
  b.addFieldOffset(MODEL.subgraphs, subgraphs, 0);
  b.addFieldOffset(MODEL.description, description, 0);
  b.addFieldOffset(MODEL.buffers, bufferVec, 0);
  b.finish(b.endObject(), TFLITE_FILE_IDENTIFIER);
  return b.asUint8Array();
}
