/** Conversion between verge tensors (IR storage conventions) and onnxruntime tensors. */
import ort from 'onnxruntime-node';
import { VergeError } from '../errors.ts';
import type { DType, TensorData } from '../onnx/dtype.ts';

/** A runtime value: what sessions take and return. Same storage conventions as IR tensors. */
export interface TensorValue {
  dtype: DType;
  dims: number[];
  data: TensorData;
}

const ORT_TYPES: Partial<Record<DType, string>> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
  bool: 'bool',
  string: 'string',
  int4: 'int4',
  uint4: 'uint4',
};

const FROM_ORT: Record<string, DType> = Object.fromEntries(Object.entries(ORT_TYPES).map(([k, v]) => [v, k as DType]));

const utf8 = new TextDecoder();
const utf8enc = new TextEncoder();

export function toOrt(v: TensorValue): ort.Tensor {
  const t = ORT_TYPES[v.dtype];
  if (!t) throw new VergeError('E_UNSUPPORTED', `onnxruntime-node cannot take ${v.dtype} tensors as inputs`);
  if (v.dtype === 'string') {
    return new ort.Tensor('string', (v.data as Uint8Array[]).map((b) => utf8.decode(b)), v.dims);
  }
  return new ort.Tensor(t as 'float32', v.data as Float32Array, v.dims);
}

export function fromOrt(t: ort.Tensor): TensorValue {
  const dtype = FROM_ORT[t.type];
  if (!dtype) throw new VergeError('E_UNSUPPORTED', `onnxruntime returned a ${t.type} tensor, which verge cannot read`);
  const dims = [...t.dims];
  if (dtype === 'string') return { dtype, dims, data: (t.data as string[]).map((s) => utf8enc.encode(s)) };
  let data = t.data as TensorData;
  // onnxruntime-node returns bool tensors as Uint8Array already; float16 as Uint16Array bits.
  if (dtype === 'float16' && !(data instanceof Uint16Array)) {
    const d = data as unknown as { buffer: ArrayBuffer; byteOffset: number; length: number };
    data = new Uint16Array(d.buffer, d.byteOffset, d.length);
  }
  return { dtype, dims, data };
}

/** Convenience: a float32 tensor value. */
export function float32(dims: number[], data?: Float32Array | number[]): TensorValue {
  const n = dims.reduce((a, b) => a * b, 1);
  const arr = data ? (data instanceof Float32Array ? data : Float32Array.from(data)) : new Float32Array(n);
  if (arr.length !== n) {
    throw new VergeError('E_SHAPE_MISMATCH', `float32 tensor of dims [${dims.join(', ')}] needs ${n} values, got ${arr.length}`);
  }
  return { dtype: 'float32', dims, data: arr };
}
