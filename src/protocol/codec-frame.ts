/**
 * The uplink codec frame: one encoded tensor, self-describing, so the cloud can decode what an
 * agent sent without any other context (docs/edge-loop.md). Binary, little-endian:
 *
 *   'V' 'C'  u8 frame version  u8 n  codec name (n ASCII bytes)
 *   u16 m  codec parameters (m bytes of JSON, e.g. {"bits":8,"min":0,"max":1})
 *   u8 r  r × u32 dims of the decoded tensor
 *   payload (the rest: what the codec produced)
 *
 * Browser-safe (no Node APIs): the data layer and the browser runtime use it too.
 */
import { VergeError, fmtInt } from '../errors.ts';

export const CODEC_FRAME_VERSION = 1;
const MAGIC = [0x56, 0x43] as const;
/** Codec names are registry names: short, lowercase ASCII. */
export const CODEC_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
/** Parameters are a few numbers and a model reference: 1 KiB is ample and bounds the parse. */
export const MAX_CODEC_PARAMS_BYTES = 1024;
/** Rank of tensors a frame carries (batch + channels + 2-3 spatial dims fits). */
export const MAX_FRAME_RANK = 8;
/** Elements of the decoded tensor: 16 M float32 = 64 MiB, the agent API's request bound. */
export const MAX_FRAME_ELEMENTS = 16 * 2 ** 20;

export type CodecParams = Record<string, number | string | boolean>;

export interface CodecFrame {
  codec: string;
  params: CodecParams;
  dims: number[];
  payload: Uint8Array;
}

export function frameElements(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function checkDims(dims: readonly number[]): void {
  if (dims.length > MAX_FRAME_RANK || dims.some((d) => !Number.isInteger(d) || d < 0 || d > 0xffffffff))
    throw new VergeError('E_BAD_ARGUMENT', `codec frame dims [${dims.join(', ')}] are not ≤ ${MAX_FRAME_RANK} sizes`);
  const n = frameElements(dims);
  if (n > MAX_FRAME_ELEMENTS)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `codec frame of ${fmtInt(n)} elements exceeds the limit of ${fmtInt(MAX_FRAME_ELEMENTS)}`,
    );
}

/** Serialize a frame. */
export function encodeCodecFrame(f: CodecFrame): Uint8Array {
  if (!CODEC_NAME_PATTERN.test(f.codec)) throw new VergeError('E_BAD_ARGUMENT', `invalid codec name '${f.codec}'`);
  checkDims(f.dims);
  const params = new TextEncoder().encode(JSON.stringify(f.params));
  if (params.length > MAX_CODEC_PARAMS_BYTES)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `codec parameters of ${params.length} bytes exceed ${MAX_CODEC_PARAMS_BYTES}`,
    );
  const header = 4 + f.codec.length + 2 + params.length + 1 + 4 * f.dims.length;
  const out = new Uint8Array(header + f.payload.length);
  const view = new DataView(out.buffer);
  out[0] = MAGIC[0];
  out[1] = MAGIC[1];
  out[2] = CODEC_FRAME_VERSION;
  out[3] = f.codec.length;
  let o = 4;
  for (let i = 0; i < f.codec.length; i++) out[o++] = f.codec.charCodeAt(i);
  view.setUint16(o, params.length, true);
  o += 2;
  out.set(params, o);
  o += params.length;
  out[o++] = f.dims.length;
  for (const d of f.dims) {
    view.setUint32(o, d, true);
    o += 4;
  }
  out.set(f.payload, o);
  return out;
}

function truncated(what: string, len: number): VergeError {
  return new VergeError('E_DATA_INVALID', `codec frame of ${len} bytes ends inside its ${what}`);
}

/** Parse a frame's header; the payload is a view into `bytes`. Throws E_DATA_INVALID on anything malformed. */
export function decodeCodecFrame(bytes: Uint8Array): CodecFrame {
  const len = bytes.length;
  if (len < 4 || bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1])
    throw new VergeError('E_DATA_INVALID', 'not a verge codec frame (bad magic)');
  if (bytes[2] !== CODEC_FRAME_VERSION)
    throw new VergeError('E_DATA_INVALID', `codec frame version ${bytes[2]}; this verge reads ${CODEC_FRAME_VERSION}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes[3]!;
  let o = 4;
  if (o + n + 2 > len) throw truncated('codec name', len);
  const codec = String.fromCharCode(...bytes.subarray(o, o + n));
  if (!CODEC_NAME_PATTERN.test(codec)) throw new VergeError('E_DATA_INVALID', `codec frame names an invalid codec`);
  o += n;
  const m = view.getUint16(o, true);
  o += 2;
  if (m > MAX_CODEC_PARAMS_BYTES || o + m + 1 > len) throw truncated('parameters', len);
  let params: CodecParams;
  try {
    params = JSON.parse(new TextDecoder().decode(bytes.subarray(o, o + m))) as CodecParams;
  } catch {
    throw new VergeError('E_DATA_INVALID', 'codec frame parameters are not JSON');
  }
  if (!params || typeof params !== 'object' || Array.isArray(params))
    throw new VergeError('E_DATA_INVALID', 'codec frame parameters must be a JSON object');
  o += m;
  const r = bytes[o++]!;
  if (r > MAX_FRAME_RANK) throw new VergeError('E_DATA_INVALID', `codec frame rank ${r} exceeds ${MAX_FRAME_RANK}`);
  if (o + 4 * r > len) throw truncated('dims', len);
  const dims: number[] = [];
  for (let i = 0; i < r; i++, o += 4) dims.push(view.getUint32(o, true));
  try {
    checkDims(dims);
  } catch (e) {
    throw new VergeError('E_DATA_INVALID', (e as Error).message);
  }
  return { codec, params, dims, payload: bytes.subarray(o) };
}
