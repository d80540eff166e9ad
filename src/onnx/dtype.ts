/**
 * ONNX element types: names, enum numbers, typed-array storage and byte sizes.
 * Storage conventions (what `Tensor.data` holds for each type):
 * - float16/bfloat16: Uint16Array of raw bits; float8 and 4/2-bit types: Uint8Array of raw (packed) bytes
 * - bool: Uint8Array of 0/1; int64/uint64: BigInt64Array/BigUint64Array
 * - complex64/complex128: Float32Array/Float64Array with interleaved (re, im)
 * - string: Uint8Array[] (one byte string per element)
 */

export const DTYPES = Object.freeze({
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  complex64: 14,
  complex128: 15,
  bfloat16: 16,
  float8e4m3fn: 17,
  float8e4m3fnuz: 18,
  float8e5m2: 19,
  float8e5m2fnuz: 20,
  uint4: 21,
  int4: 22,
  float4e2m1: 23,
  float8e8m0: 24,
  uint2: 25,
  int2: 26,
} as const);

export type DType = keyof typeof DTYPES;

const BY_CODE = new Map<number, DType>(Object.entries(DTYPES).map(([k, v]) => [v, k as DType]));

export function dtypeFromCode(code: number): DType | undefined {
  return BY_CODE.get(code);
}

export function dtypeCode(dtype: DType): number {
  return DTYPES[dtype];
}

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export type TensorData = NumericArray | Uint8Array[];

/** Bits per element as stored on disk (sub-byte types are packed). */
export function bitsPerElement(dtype: DType): number {
  switch (dtype) {
    case 'uint4':
    case 'int4':
    case 'float4e2m1':
      return 4;
    case 'uint2':
    case 'int2':
      return 2;
    case 'string':
      return 0;
    default:
      return storageCtor(dtype).BYTES_PER_ELEMENT * 8 * (isComplex(dtype) ? 2 : 1);
  }
}

export function isComplex(dtype: DType): boolean {
  return dtype === 'complex64' || dtype === 'complex128';
}

export function isFloat(dtype: DType): boolean {
  return (
    dtype === 'float32' ||
    dtype === 'float64' ||
    dtype === 'float16' ||
    dtype === 'bfloat16' ||
    dtype.startsWith('float8') ||
    dtype === 'float4e2m1'
  );
}

type Ctor = {
  new (n: number): NumericArray;
  new (buf: ArrayBuffer, byteOffset?: number, length?: number): NumericArray;
  BYTES_PER_ELEMENT: number;
};

/** The typed-array class that stores elements of `dtype` (packed bytes for sub-byte types). */
export function storageCtor(dtype: DType): Ctor {
  switch (dtype) {
    case 'float32':
    case 'complex64':
      return Float32Array as unknown as Ctor;
    case 'float64':
    case 'complex128':
      return Float64Array as unknown as Ctor;
    case 'int8':
      return Int8Array as unknown as Ctor;
    case 'int16':
      return Int16Array as unknown as Ctor;
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return Uint16Array as unknown as Ctor;
    case 'int32':
      return Int32Array as unknown as Ctor;
    case 'uint32':
      return Uint32Array as unknown as Ctor;
    case 'int64':
      return BigInt64Array as unknown as Ctor;
    case 'uint64':
      return BigUint64Array as unknown as Ctor;
    default:
      // uint8, bool, float8*, 4-bit and 2-bit packed types
      return Uint8Array as unknown as Ctor;
  }
}

/** Number of storage elements needed for `count` logical elements. */
export function storageLength(dtype: DType, count: number): number {
  const bits = bitsPerElement(dtype);
  if (bits === 4) return Math.ceil(count / 2);
  if (bits === 2) return Math.ceil(count / 4);
  if (isComplex(dtype)) return count * 2;
  return count;
}

/** Byte size of `count` elements when stored as raw data. */
export function byteSize(dtype: DType, count: number): number {
  if (dtype === 'string') return 0;
  return Math.ceil((bitsPerElement(dtype) * count) / 8);
}

/** Allocate zeroed storage for `count` elements. */
export function allocate(dtype: DType, count: number): TensorData {
  if (dtype === 'string') return Array.from({ length: count }, () => new Uint8Array(0));
  const C = storageCtor(dtype);
  return new C(storageLength(dtype, count));
}

// float16 <-> float32 conversion (IEEE 754 half), used by fp16 quantization and tensor display.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float16BitsToNumber(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  let v: number;
  if (e === 0) v = (f / 1024) * 2 ** -14;
  else if (e === 0x1f) v = f ? NaN : Infinity;
  else v = (1 + f / 1024) * 2 ** (e - 15);
  return s ? -v : v;
}

export function numberToFloat16Bits(val: number): number {
  f32[0] = val;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  // a carry out of the mantissa correctly rounds up into the exponent (and to Infinity)
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function bfloat16BitsToNumber(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}
