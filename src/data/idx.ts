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
