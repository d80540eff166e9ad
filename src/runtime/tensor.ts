/**
 * Conversion between verge tensors (IR storage conventions, see onnx/dtype.ts) and onnxruntime
 * tensors. Conversions share the underlying buffer whenever onnxruntime's storage convention is
 * the same as verge's (every dtype but string), so feeding a tensor costs no copy.
 */
import type * as ort from 'onnxruntime-common';
import { backend } from '#ort';
import { VergeError } from '../errors.ts';
import {
  allocate,
  float16BitsToNumber,
  numberToFloat16Bits,
  storageCtor,
  storageLength,
  type DType,
  type TensorData,
} from '../onnx/browser.ts';

/** A runtime value: what sessions take and return. Same storage conventions as IR tensors. */
export interface TensorValue {
  dtype: DType;
  dims: number[];
  data: TensorData;
}

/**
 * Element types onnxruntime-node can take as inputs and return as outputs, by verge name.
 * int4/uint4 are not among them: onnxruntime-common declares them, but the 1.30 node binding
 * rejects them at run time ("Tensor.type is not supported"); models use them only inside.
 */
export const ORT_DTYPES = Object.freeze([
  'float32',
  'float64',
  'float16',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'bool',
  'string',
] as const satisfies readonly DType[]);

export type OrtDType = (typeof ORT_DTYPES)[number];

const ORT_DTYPE_SET: ReadonlySet<string> = new Set(ORT_DTYPES);

export function isOrtDType(dtype: string): dtype is OrtDType {
  return ORT_DTYPE_SET.has(dtype);
}

const utf8 = new TextDecoder();
const utf8enc = new TextEncoder();

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Storage length a tensor of these dims needs (packed for 4-bit types, one entry per string). */
export function expectedStorageLength(dtype: DType, dims: readonly number[]): number {
  const n = elementCount(dims);
  return dtype === 'string' ? n : storageLength(dtype, n);
}

/** A one-line description of a value, for error messages: `float32 [1, 28, 28]`. */
export function describeValue(v: Pick<TensorValue, 'dtype' | 'dims'>): string {
  return `${v.dtype} [${v.dims.join(', ')}]`;
}

/**
 * Check that `v.data` is the storage verge's convention prescribes for `v.dtype` and holds as
 * many elements as `v.dims` say. `what` names the value in the error.
 */
export function checkStorage(v: TensorValue, what = 'tensor'): void {
  if (v.dtype === 'string') {
    if (!Array.isArray(v.data))
      throw new VergeError('E_DTYPE_MISMATCH', `${what}: a string tensor needs an array of byte strings`);
  } else if (!(v.data instanceof storageCtor(v.dtype))) {
    const got = (v.data as object)?.constructor?.name ?? typeof v.data;
    throw new VergeError(
      'E_DTYPE_MISMATCH',
      `${what}: ${v.dtype} data must be a ${storageCtor(v.dtype).name}, got ${got}`,
    );
  }
  const need = expectedStorageLength(v.dtype, v.dims);
  if (v.data.length !== need) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `${what}: dims [${v.dims.join(', ')}] need ${need} values, data holds ${v.data.length}`,
    );
  }
}

/** verge value -> onnxruntime tensor. Shares the buffer (no copy) for every dtype but string. */
export function toOrt(v: TensorValue, what = 'tensor'): ort.Tensor {
  if (!isOrtDType(v.dtype)) {
    throw new VergeError('E_UNSUPPORTED', `${what}: onnxruntime-node cannot take ${v.dtype} tensors`);
  }
  let data: unknown = v.data;
  if (v.dtype === 'string') data = (v.data as Uint8Array[]).map((b) => (typeof b === 'string' ? b : utf8.decode(b)));
  try {
    return new backend.ort.Tensor(v.dtype as 'float32', data as Float32Array, v.dims);
  } catch (e) {
    checkStorage(v, what); // gives the precise verge error when the storage is at fault
    throw new VergeError('E_RUNTIME', `${what}: ${(e as Error).message}`);
  }
}

const FLOAT16_ARRAY = (globalThis as { Float16Array?: { new (...a: unknown[]): ArrayLike<number> } }).Float16Array;

/** onnxruntime tensor -> verge value. Shares the buffer for every dtype but string. */
export function fromOrt(t: ort.Tensor): TensorValue {
  const dtype = t.type as DType;
  if (!isOrtDType(dtype))
    throw new VergeError('E_UNSUPPORTED', `onnxruntime returned a ${t.type} tensor, which verge cannot read`);
  const dims = t.dims as number[];
  if (dtype === 'string') return { dtype, dims: [...dims], data: (t.data as string[]).map((s) => utf8enc.encode(s)) };
  let data = t.data as TensorData;
  if (dtype === 'float16' && !(data instanceof Uint16Array)) {
    // With a Float16Array global onnxruntime returns float16 as numbers; verge keeps the raw bits.
    const d = data as unknown as ArrayBufferView & { length: number };
    data =
      FLOAT16_ARRAY && d instanceof FLOAT16_ARRAY
        ? new Uint16Array(d.buffer, d.byteOffset, d.length)
        : (data as unknown as Uint16Array);
  }
  return { dtype, dims: [...dims], data };
}

/** Values accepted by tensor(): typed storage as-is, or plain JS values converted to the storage. */
export type TensorInput = TensorData | readonly number[] | readonly bigint[] | readonly boolean[] | readonly string[];

/**
 * Make a tensor value of any dtype from typed storage or plain JS values: numbers (float16 given
 * as numbers is converted to half bits; int64 numbers become BigInt), booleans for bool,
 * strings for string. Without values, a zero tensor.
 */
export function tensor(dtype: DType, dims: number[], values?: TensorInput): TensorValue {
  const n = elementCount(dims);
  let data: TensorData;
  if (values === undefined) data = allocate(dtype, n);
  else if (!Array.isArray(values)) data = values as TensorData;
  else if (dtype === 'string')
    data = (values as (string | Uint8Array)[]).map((s) => (typeof s === 'string' ? utf8enc.encode(s) : s));
  else {
    if (dtype === 'int4' || dtype === 'uint4') {
      throw new VergeError('E_UNSUPPORTED', `make ${dtype} tensors from packed Uint8Array bytes, not a number array`);
    }
    const out = allocate(dtype, values.length);
    const arr = values as unknown as readonly (number | bigint | boolean)[];
    if (dtype === 'int64' || dtype === 'uint64') {
      const o = out as BigInt64Array;
      for (let i = 0; i < arr.length; i++) o[i] = BigInt(arr[i] as number | bigint);
    } else if (dtype === 'float16') {
      const o = out as Uint16Array;
      for (let i = 0; i < arr.length; i++) o[i] = numberToFloat16Bits(Number(arr[i]));
    } else {
      const o = out as Float32Array;
      for (let i = 0; i < arr.length; i++) o[i] = Number(arr[i]);
    }
    data = out;
  }
  const v = { dtype, dims: [...dims], data };
  checkStorage(v);
  return v;
}

/** Element `i` as a JS number (float16 decoded, int64 converted, bool as 0/1). Not for strings. */
export function elementAsNumber(v: TensorValue, i: number): number {
  switch (v.dtype) {
    case 'float16':
      return float16BitsToNumber((v.data as Uint16Array)[i]!);
    case 'int64':
    case 'uint64':
      return Number((v.data as BigInt64Array)[i]!);
    case 'int4':
    case 'uint4': {
      const byte = (v.data as Uint8Array)[i >> 1]!;
      const nib = i & 1 ? byte >> 4 : byte & 0x0f;
      return v.dtype === 'int4' && nib >= 8 ? nib - 16 : nib;
    }
    case 'string':
      throw new VergeError('E_UNSUPPORTED', 'string tensors have no numeric values');
    default:
      return (v.data as Float32Array)[i]!;
  }
}

const INTEGER_DTYPES: ReadonlySet<DType> = new Set<DType>([
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
]);

/**
 * Convert a numeric tensor to another numeric dtype like numpy's astype: integers truncate toward
 * zero (and wrap like typed arrays do), bool is value != 0. Returns `v` itself when already `dtype`.
 */
export function castTensor(v: TensorValue, dtype: DType): TensorValue {
  if (v.dtype === dtype) return v;
  if (v.dtype === 'string' || dtype === 'string' || !isOrtDType(dtype) || !isOrtDType(v.dtype)) {
    throw new VergeError('E_UNSUPPORTED', `cannot cast ${v.dtype} to ${dtype}`);
  }
  const n = elementCount(v.dims);
  const values = new Array<number | bigint>(n);
  for (let i = 0; i < n; i++) {
    const x = elementAsNumber(v, i);
    if (dtype === 'bool') values[i] = x !== 0 ? 1 : 0;
    else if (dtype === 'int64' || dtype === 'uint64')
      values[i] = BigInt.asIntN(64, BigInt(Number.isFinite(x) ? Math.trunc(x) : 0));
    else values[i] = INTEGER_DTYPES.has(dtype) ? Math.trunc(x) : x;
  }
  if (dtype === 'uint64') for (let i = 0; i < n; i++) values[i] = BigInt.asUintN(64, values[i] as bigint);
  return tensor(dtype, v.dims, values as number[]);
}

/** Summary statistics over a numeric tensor (for previews and --json reports). */
export function summarize(v: TensorValue): { min: number; max: number; mean: number; count: number } {
  const count = elementCount(v.dims);
  if (v.dtype === 'string' || count === 0) return { min: NaN, max: NaN, mean: NaN, count };
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const x = elementAsNumber(v, i);
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
  }
  return { min, max, mean: sum / count, count };
}

/** The first `limit` elements as JSON-friendly values (numbers, or strings for string tensors). */
export function previewValues(v: TensorValue, limit: number): (number | string)[] {
  const n = Math.min(limit, elementCount(v.dims));
  const out: (number | string)[] = [];
  for (let i = 0; i < n; i++) {
    out.push(v.dtype === 'string' ? utf8.decode((v.data as Uint8Array[])[i]!) : elementAsNumber(v, i));
  }
  return out;
}

/** Convenience: a float32 tensor value. */
export function float32(dims: number[], data?: Float32Array | number[]): TensorValue {
  const n = elementCount(dims);
  const arr = data ? (data instanceof Float32Array ? data : Float32Array.from(data)) : new Float32Array(n);
  if (arr.length !== n) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `float32 tensor of dims [${dims.join(', ')}] needs ${n} values, got ${arr.length}`,
    );
  }
  return { dtype: 'float32', dims, data: arr };
}
