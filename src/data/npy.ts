/**
 * NumPy .npy arrays (format versions 1.0, 2.0 and 3.0), the interchange format for `verge run`
 * inputs/outputs and for `--data DIR` folders. Arrays use verge's tensor storage conventions
 * (onnx/dtype.ts): float16 as Uint16Array bits, bool as Uint8Array, int64 as BigInt64Array.
 * Only C-order numeric and bool arrays are supported; everything else is a clear error.
 */
import { readFileSync } from 'node:fs';
import { VergeError } from '../errors.ts';
import { storageCtor, type DType, type NumericArray } from '../onnx/browser.ts';
import { writeFileAtomic } from '../onnx/index.ts';

export interface NdArray {
  dtype: DType;
  shape: number[];
  data: NumericArray;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** The format pads the header so data starts on a multiple of 64 bytes (numpy's ARRAY_ALIGN). */
const HEADER_ALIGN = 64;

/** numpy type character + item size → verge dtype. */
const FROM_DESCR: Record<string, DType> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  u1: 'uint8',
  i2: 'int16',
  u2: 'uint16',
  i4: 'int32',
  u4: 'uint32',
  i8: 'int64',
  u8: 'uint64',
  b1: 'bool',
};

const TO_DESCR: Partial<Record<DType, string>> = Object.fromEntries(
  Object.entries(FROM_DESCR).map(([d, t]) => [t, (d.endsWith('1') ? '|' : '<') + d]),
);

export const NPY_DTYPES = Object.freeze(Object.values(FROM_DESCR));

function invalid(source: string, why: string): VergeError {
  return new VergeError('E_DATA_INVALID', `${source}: ${why}`);
}

/** Header text shown in an error: quoted and escaped, so a hostile header stays on the error's one line. */
function quoted(text: string, max = 80): string {
  const t = text.slice(0, max);
  return /^[\x20-\x7e]*$/.test(t) ? `'${t}'` : JSON.stringify(t);
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

interface Header {
  descr: string;
  fortran: boolean;
  shape: number[];
}

/** Parse numpy's header, a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } */
function parseHeader(text: string, source: string): Header {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    if (/'descr'\s*:\s*\[/.test(text)) throw invalid(source, 'structured (record) arrays are not supported');
    throw invalid(source, `malformed .npy header: ${quoted(text.trim())}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(n) || n < 0) throw invalid(source, `bad dimension ${quoted(s)} in .npy header`);
      return n;
    });
  return { descr, fortran: fortran === 'True', shape };
}

function dtypeOfDescr(descr: string, source: string): { dtype: DType; bigEndian: boolean } {
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const dtype = m ? FROM_DESCR[`${m[2]}${m[3]}`] : undefined;
  if (!m || !dtype) {
    const kind: Record<string, string> = {
      U: 'unicode strings',
      S: 'byte strings',
      O: 'Python objects',
      c: 'complex numbers',
      M: 'datetimes',
      m: 'timedeltas',
      V: 'raw void records',
    };
    const what = m ? kind[m[2]!] : undefined;
    throw new VergeError(
      'E_UNSUPPORTED',
      `${source}: dtype ${quoted(descr)}${what ? ` (${what})` : ''} is not supported; use one of ${Object.values(TO_DESCR).join(' ')}`,
    );
  }
  return { dtype, bigEndian: m[1] === '>' };
}

/** Parse .npy bytes. `source` names the file in errors. */
export function parseNpy(bytes: Uint8Array, source = 'array.npy'): NdArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw invalid(
      source,
      bytes.length < 10
        ? `only ${bytes.length} bytes: too short for a .npy file`
        : 'not a .npy file (no \\x93NUMPY magic)',
    );
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw invalid(source, 'truncated .npy header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new VergeError(
      'E_UNSUPPORTED',
      `${source}: .npy format version ${major}.${bytes[7]} is not supported (1.0-3.0 are)`,
    );
  }
  const dataStart = headerStart + headerLen;
  if (bytes.length < dataStart)
    throw invalid(source, `truncated: the header needs ${dataStart} bytes, the file has ${bytes.length}`);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const header = parseHeader(text, source);
  const { dtype, bigEndian } = dtypeOfDescr(header.descr, source);
  const count = elementCount(header.shape);
  if (header.fortran && header.shape.filter((d) => d > 1).length > 1) {
    throw new VergeError(
      'E_UNSUPPORTED',
      `${source} is in Fortran (column-major) order; save it in C order (numpy.ascontiguousarray) first`,
    );
  }
  const Ctor = storageCtor(dtype);
  const byteLen = count * Ctor.BYTES_PER_ELEMENT;
  if (bytes.length - dataStart < byteLen) {
    throw invalid(
      source,
      `truncated: holds ${bytes.length - dataStart} of the ${byteLen} data bytes its header declares`,
    );
  }
  // Copy into a fresh, aligned buffer: typed arrays need alignment, and callers may keep the
  // array long after the file buffer.
  // (Node's Buffer.slice would return a view, hence the explicit copy.)
  const copy = new Uint8Array(byteLen);
  copy.set(bytes.subarray(dataStart, dataStart + byteLen));
  if (bigEndian && Ctor.BYTES_PER_ELEMENT > 1) swapBytes(copy, Ctor.BYTES_PER_ELEMENT);
  const data = new Ctor(copy.buffer, 0, count);
  return { dtype, shape: header.shape, data };
}

function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) {
    for (let j = 0; j < size >> 1; j++) {
      const t = b[i + j]!;
      b[i + j] = b[i + size - 1 - j]!;
      b[i + size - 1 - j] = t;
    }
  }
}

/** Encode an array as .npy (version 1.0, little-endian, C order). */
export function encodeNpy(arr: NdArray): Uint8Array {
  const descr = TO_DESCR[arr.dtype];
  if (!descr) throw new VergeError('E_UNSUPPORTED', `${arr.dtype} arrays cannot be written as .npy`);
  const count = elementCount(arr.shape);
  if (arr.data.length !== count) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `array of shape [${arr.shape.join(', ')}] needs ${count} values, holds ${arr.data.length}`,
    );
  }
  if (!(arr.data instanceof storageCtor(arr.dtype))) {
    throw new VergeError('E_DTYPE_MISMATCH', `${arr.dtype} array data must be a ${storageCtor(arr.dtype).name}`);
  }
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1; // magic+version+len, header, trailing newline
  header += ' '.repeat((HEADER_ALIGN - (unpadded % HEADER_ALIGN)) % HEADER_ALIGN) + '\n';
  if (header.length > 0xffff)
    throw new VergeError('E_UNSUPPORTED', `array of rank ${arr.shape.length} has too long a .npy header`);
  const data = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  const out = new Uint8Array(10 + header.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data, 10 + header.length);
  return out;
}

export function readNpy(path: string): NdArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new VergeError('E_FILE_NOT_FOUND', `${path} does not exist`);
    throw new VergeError('E_FILE_UNREADABLE', `${path} cannot be read (${code ?? (e as Error).message})`);
  }
  return parseNpy(bytes, path);
}

/** Write atomically (temp file + rename). Returns the byte count. */
export function writeNpy(path: string, arr: NdArray): number {
  const bytes = encodeNpy(arr);
  writeFileAtomic(path, bytes);
  return bytes.length;
}
