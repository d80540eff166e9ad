/** IDX file format (MNIST family), optionally gzip-compressed. */
import { gunzipSync } from 'fflate';
import { VergeError } from '../errors.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parse IDX bytes (gzip detected by magic). Only unsigned-byte payloads (type 0x08) are used by verge. */
export function parseIdx(bytes: Uint8Array, source = 'idx'): IdxArray {
  let b = bytes;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b);
    } catch (e) {
      throw new VergeError('E_DATA_INVALID', `${source} is a corrupt gzip file (${(e as Error).message})`);
    }
  }
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) throw new VergeError('E_DATA_INVALID', `${source} is not an IDX file`);
  const type = b[2]!;
  const rank = b[3]!;
  if (type !== 0x08)
    throw new VergeError(
      'E_DATA_INVALID',
      `${source}: IDX element type 0x${type.toString(16)} is not supported (only ubyte)`,
    );
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const offset = 4 + 4 * rank;
  const count = dims.reduce((x, y) => x * y, 1);
  if (b.length < offset + count) {
    throw new VergeError('E_DATA_INVALID', `${source} is truncated: ${b.length - offset} of ${count} bytes of data`);
  }
  return { dims, data: b.slice(offset, offset + count) };
}

/** Encode an unsigned-byte IDX array (used to write the committed subset). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/**
 * An images/labels IDX pair as a split: pixels / 255, at most `limit` samples. Pure (no files), so
 * a browser can use it on fetched bytes; `what` names the pair in errors.
 */
export function idxPairToSplit(
  img: IdxArray,
  lbl: IdxArray,
  what: string,
  limit?: number,
): { split: { x: Float32Array; y: Int32Array; count: number }; dims: number[] } {
  if (img.dims.length !== 3 || lbl.dims.length !== 1 || img.dims[0] !== lbl.dims[0]) {
    throw new VergeError('E_DATA_INVALID', `${what}: images and labels do not match (dims ${img.dims} vs ${lbl.dims})`);
  }
  const count = Math.min(img.dims[0]!, limit ?? Infinity);
  const per = img.dims[1]! * img.dims[2]!;
  const x = new Float32Array(count * per);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i]! / 255;
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) y[i] = lbl.data[i]!;
  return { split: { x, y, count }, dims: img.dims };
}
