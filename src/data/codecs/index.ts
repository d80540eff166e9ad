/**
 * Registry of uplink codecs: one file per codec (STYLE.md). Adding a codec = a file, a line here,
 * and its round-trip case in codecs.test.ts.
 *
 *   const enc = await encodeTensor('quantize-delta:6', { dims: [1, 1, 28, 28], data }, ctx);
 *   enc.frame            // the bytes that travel (protocol/codec-frame.ts), enc.errorBound
 *   const back = await decodeTensor(enc.frame, ctx);   // { dims, data }
 */
import { deepFreeze } from '../../frozen.ts';
import { VergeError } from '../../errors.ts';
import { decodeCodecFrame, encodeCodecFrame, frameElements } from '../../protocol/browser.ts';
import type { Codec, CodecContext, FloatTensor } from './codec.ts';
import { learned } from './learned.ts';
import { lossless } from './lossless.ts';
import { quantizeDelta } from './quantize-delta.ts';

export const CODECS: Readonly<Record<string, Codec>> = deepFreeze({
  [lossless.name]: lossless,
  [quantizeDelta.name]: quantizeDelta,
  [learned.name]: learned,
});

export const CODEC_NAMES: readonly string[] = Object.freeze(Object.keys(CODECS));

export function getCodec(name: string): Codec {
  const c = Object.prototype.hasOwnProperty.call(CODECS, name) ? CODECS[name] : undefined;
  if (!c) throw new VergeError('E_BAD_ARGUMENT', `unknown codec '${name}' (known: ${CODEC_NAMES.join(', ')})`);
  return c;
}

export interface CodecSpec {
  codec: Codec;
  /** The part after the first ':' (bits, a model reference), if any. */
  option?: string;
  /** The spec as written, e.g. 'quantize-delta:6'. */
  spec: string;
}

/** Parse `name[:option]` and check the codec exists. */
export function parseCodecSpec(spec: string): CodecSpec {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const option = colon < 0 ? undefined : spec.slice(colon + 1);
  return { codec: getCodec(name), option, spec };
}

export interface EncodedTensor {
  codec: string;
  /** The codec frame: what is sent. */
  frame: Uint8Array;
  errorBound: number | null;
}

export async function encodeTensor(spec: string, x: FloatTensor, ctx: CodecContext = {}): Promise<EncodedTensor> {
  const { codec, option } = parseCodecSpec(spec);
  if (frameElements(x.dims) !== x.data.length)
    throw new VergeError('E_SHAPE_MISMATCH', `dims [${x.dims.join(', ')}] do not hold ${x.data.length} values`);
  const enc = await codec.encode(x, option, ctx);
  const frame = encodeCodecFrame({ codec: codec.name, params: enc.params, dims: x.dims, payload: enc.payload });
  return { codec: codec.name, frame, errorBound: enc.errorBound };
}

/** Decode a codec frame. Unknown codecs, malformed frames and payloads that do not match their dims are refused. */
export async function decodeTensor(
  frame: Uint8Array,
  ctx: CodecContext = {},
): Promise<FloatTensor & { codec: string }> {
  const f = decodeCodecFrame(frame);
  const codec = getCodec(f.codec);
  const data = await codec.decode(f.dims, f.params, f.payload, ctx);
  return { codec: codec.name, dims: f.dims, data };
}

export type { Codec, CodecContext, Encoded, FloatTensor, LearnedCodecRunner } from './codec.ts';
export { psnr, maxAbsError } from './codec.ts';
export { LATENT_BITS, learnedCodecModels, parseLearnedOption } from './learned.ts';
