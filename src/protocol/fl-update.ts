/**
 * The binary form of one federated-learning client update (the body a device uploads, and what
 * simulations count as uplink bytes). Little-endian throughout:
 *
 *   0  'VFLU'                 magic
 *   4  u8  format version     FL_UPDATE_FORMAT_VERSION
 *   5  u8  codec              0 fp32 · 1 int8 · 2 topk
 *   6  u8  flags              bit 0: body is deflate-compressed
 *   7  u8  reserved (0)
 *   8  u32 length             elements of the dense update
 *  12  body
 *     fp32:  length × f32
 *     int8:  u32 chunk, ⌈length/chunk⌉ × f32 scale, length × i8      value = q·scale of its chunk
 *     topk:  u32 k, k × u32 index (strictly increasing, < length), k × f32 value
 *
 * Decoding checks every size against the header and against the receiver's expected length, so a
 * malformed or oversized upload is one clear error, never an out-of-bounds read or a huge alloc.
 * Pure (fflate, DataView): runs in browsers too.
 */
import { deflateSync, inflateSync } from 'fflate';
import { VergeError } from '../errors.ts';

export const FL_UPDATE_MAGIC = 'VFLU';
export const FL_UPDATE_FORMAT_VERSION = 1;
/** Largest update accepted: 64 Mi elements (256 MiB as fp32), well above edge-sized models. */
export const MAX_UPDATE_ELEMENTS = 64 * 1024 * 1024;
const HEADER_BYTES = 12;
const CODECS = ['fp32', 'int8', 'topk'] as const;
export type UpdateCodec = (typeof CODECS)[number];

export type EncodedUpdate =
  | { codec: 'fp32'; length: number; values: Float32Array }
  | { codec: 'int8'; length: number; chunk: number; scales: Float32Array; q: Int8Array }
  | { codec: 'topk'; length: number; indices: Uint32Array; values: Float32Array };

function bad(message: string): never {
  throw new VergeError('E_PROTOCOL', `FL update: ${message}`);
}

function bodyBytes(u: EncodedUpdate): Uint8Array {
  if (u.codec === 'fp32') return new Uint8Array(u.values.buffer, u.values.byteOffset, u.values.byteLength).slice();
  if (u.codec === 'int8') {
    const out = new Uint8Array(4 + u.scales.length * 4 + u.q.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, u.chunk, true);
    u.scales.forEach((s, i) => dv.setFloat32(4 + 4 * i, s, true));
    out.set(new Uint8Array(u.q.buffer, u.q.byteOffset, u.q.length), 4 + u.scales.length * 4);
    return out;
  }
  const k = u.indices.length;
  const out = new Uint8Array(4 + 8 * k);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, k, true);
  for (let i = 0; i < k; i++) {
    dv.setUint32(4 + 4 * i, u.indices[i]!, true);
    dv.setFloat32(4 + 4 * k + 4 * i, u.values[i]!, true);
  }
  return out;
}

/** Serialize; `deflate` compresses the body (worth it for sparse or int8 updates). */
export function encodeUpdate(u: EncodedUpdate, opts: { deflate?: boolean } = {}): Uint8Array {
  let body = bodyBytes(u);
  if (opts.deflate) body = deflateSync(body, { level: 6 });
  const out = new Uint8Array(HEADER_BYTES + body.length);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = FL_UPDATE_MAGIC.charCodeAt(i);
  out[4] = FL_UPDATE_FORMAT_VERSION;
  out[5] = CODECS.indexOf(u.codec);
  out[6] = opts.deflate ? 1 : 0;
  dv.setUint32(8, u.length, true);
  out.set(body, HEADER_BYTES);
  return out;
}

function expectedBodySize(codec: UpdateCodec, length: number, dv: DataView): number {
  if (codec === 'fp32') return 4 * length;
  if (dv.byteLength < 4) bad('body ends before its first field');
  const first = dv.getUint32(0, true);
  if (codec === 'int8') {
    if (first < 1 || first > MAX_UPDATE_ELEMENTS) bad(`int8 chunk ${first} out of range`);
    return 4 + 4 * Math.ceil(length / first) + length;
  }
  if (first > length) bad(`top-k holds ${first} values for ${length} elements`);
  return 4 + 8 * first;
}

/**
 * Parse and check an update. `expectedLength` (the model's weight count) is required: a receiver
 * always knows what it expects, and checking it before allocating bounds the work.
 */
export function decodeUpdate(bytes: Uint8Array, expectedLength: number): EncodedUpdate {
  if (bytes.length < HEADER_BYTES) bad(`${bytes.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== FL_UPDATE_MAGIC.charCodeAt(i)) bad('not a verge update (bad magic)');
  if (bytes[4] !== FL_UPDATE_FORMAT_VERSION) bad(`format version ${bytes[4]}, expected ${FL_UPDATE_FORMAT_VERSION}`);
  const codec = CODECS[bytes[5]!];
  if (!codec) bad(`unknown codec ${bytes[5]}`);
  const flags = bytes[6]!;
  if (flags & ~1) bad(`unknown flags ${flags}`);
  const head = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = head.getUint32(8, true);
  if (length !== expectedLength)
    throw new VergeError('E_SHAPE_MISMATCH', `FL update has ${length} values; the model has ${expectedLength}`);
  if (length > MAX_UPDATE_ELEMENTS) bad(`${length} elements exceeds the limit of ${MAX_UPDATE_ELEMENTS}`);
  let body = bytes.subarray(HEADER_BYTES);
  if (flags & 1) {
    // inflate into a buffer no larger than the largest valid body: a deflate bomb fails, not allocates
    const limit = 4 + 8 * length + 4 * length;
    try {
      const out = new Uint8Array(limit + 1);
      body = inflateSync(body, { out });
      if (body.length > limit) bad('inflated body is larger than any valid update');
    } catch (e) {
      if (e instanceof VergeError) throw e;
      bad(`body does not inflate (${(e as Error).message})`);
    }
  }
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const size = expectedBodySize(codec, length, dv);
  if (body.length !== size) bad(`${codec} body is ${body.length} bytes, expected ${size}`);
  const copy = body.slice();
  const cdv = new DataView(copy.buffer);
  if (codec === 'fp32') return { codec, length, values: new Float32Array(copy.buffer, 0, length) };
  if (codec === 'int8') {
    const chunk = cdv.getUint32(0, true);
    const n = Math.ceil(length / chunk);
    const scales = new Float32Array(n);
    for (let i = 0; i < n; i++) scales[i] = cdv.getFloat32(4 + 4 * i, true);
    return { codec, length, chunk, scales, q: new Int8Array(copy.buffer, 4 + 4 * n, length) };
  }
  const k = cdv.getUint32(0, true);
  const indices = new Uint32Array(k);
  const values = new Float32Array(k);
  for (let i = 0; i < k; i++) {
    indices[i] = cdv.getUint32(4 + 4 * i, true);
    if (indices[i]! >= length || (i > 0 && indices[i]! <= indices[i - 1]!))
      bad(`top-k index ${indices[i]} at ${i} is out of order or out of range`);
    values[i] = cdv.getFloat32(4 + 4 * k + 4 * i, true);
  }
  return { codec, length, indices, values };
}

/** Bytes of the same update sent as plain fp32 (the baseline compression is measured against). */
export function fp32UpdateBytes(length: number): number {
  return HEADER_BYTES + 4 * length;
}
