/**
 * quantize-delta: n-bit uniform quantization over the tensor's [min, max], then the difference of
 * each level from the previous one along the last axis (neighbouring pixels and consecutive
 * sensor readings are close, so the differences are small and deflate well), zigzag-mapped to
 * unsigned integers and deflated. Every decoded value is within half a quantization step of the
 * original (`errorBound`, reported with each encoding).
 */
import { deflateSync } from 'fflate';
import { VergeError } from '../../errors.ts';
import type { Codec } from './codec.ts';
import {
  dequantizeValue,
  elementCount,
  inflateExact,
  numParam,
  quantizeValue,
  quantizer,
  range,
  requireFinite,
} from './codec.ts';

export const DEFAULT_BITS = 8;
export const MAX_BITS = 16;

function parseBits(option: string | undefined): number {
  if (option === undefined || option === '') return DEFAULT_BITS;
  const b = Number(option);
  if (!Number.isInteger(b) || b < 1 || b > MAX_BITS)
    throw new VergeError('E_BAD_ARGUMENT', `quantize-delta bits must be 1-${MAX_BITS}, got '${option}'`);
  return b;
}

/** Bytes per zigzagged difference: differences span 2·(2^bits − 1) + 1 values. */
function width(bits: number): 1 | 2 | 4 {
  return bits + 1 <= 8 ? 1 : bits + 1 <= 16 ? 2 : 4;
}

function store(w: 1 | 2 | 4, n: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(n * w);
  return { bytes, view: new DataView(bytes.buffer) };
}

function put(view: DataView, w: 1 | 2 | 4, i: number, v: number): void {
  if (w === 1) view.setUint8(i, v);
  else if (w === 2) view.setUint16(i * 2, v, true);
  else view.setUint32(i * 4, v, true);
}

function get(view: DataView, w: 1 | 2 | 4, i: number): number {
  return w === 1 ? view.getUint8(i) : w === 2 ? view.getUint16(i * 2, true) : view.getUint32(i * 4, true);
}

export const quantizeDelta: Codec = {
  name: 'quantize-delta',
  lossy: true,
  summary: 'n-bit quantization + delta along the last axis + deflate, for images and sensor series',
  option: `bits (1-${MAX_BITS}, default ${DEFAULT_BITS})`,
  async encode(x, option) {
    const bits = parseBits(option);
    requireFinite(x.data, 'quantize-delta');
    const { min, max } = range(x.data);
    const q = quantizer(bits, min, max);
    const row = x.dims.length ? Math.max(1, x.dims[x.dims.length - 1]!) : 1;
    const w = width(bits);
    const { bytes, view } = store(w, x.data.length);
    let prev = 0;
    for (let i = 0; i < x.data.length; i++) {
      if (i % row === 0) prev = 0;
      const level = quantizeValue(q, x.data[i]!);
      const d = level - prev;
      prev = level;
      put(view, w, i, d >= 0 ? 2 * d : -2 * d - 1);
    }
    return { params: { bits, min, max }, payload: deflateSync(bytes, { level: 6 }), errorBound: q.errorBound };
  },
  async decode(dims, params, payload) {
    const bits = numParam(params, 'bits', 'quantize-delta');
    if (!Number.isInteger(bits) || bits < 1 || bits > MAX_BITS)
      throw new VergeError('E_DATA_INVALID', `quantize-delta frame has bits=${bits}`);
    const q = quantizer(bits, numParam(params, 'min', 'quantize-delta'), numParam(params, 'max', 'quantize-delta'));
    const n = elementCount(dims);
    const w = width(bits);
    const raw = inflateExact(payload, n * w, 'quantize-delta');
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const row = dims.length ? Math.max(1, dims[dims.length - 1]!) : 1;
    const out = new Float32Array(n);
    let level = 0;
    for (let i = 0; i < n; i++) {
      if (i % row === 0) level = 0;
      const z = get(view, w, i);
      level += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      if (level < 0 || level > q.levels)
        throw new VergeError('E_DATA_INVALID', `quantize-delta payload leaves the ${bits}-bit range at value ${i}`);
      out[i] = dequantizeValue(q, level);
    }
    return out;
  },
};
