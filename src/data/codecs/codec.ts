/**
 * The shape of an uplink codec and what it is given. A codec turns a float32 tensor into bytes for
 * the uplink and back; lossy codecs say how far a decoded value may be from the original. One file
 * per codec (lossless.ts, quantize-delta.ts, learned.ts), registered in ./index.ts, each with a
 * round-trip case in codecs.test.ts (the coverage test fails when one is missing).
 *
 * Browser-safe: nothing here imports Node APIs or onnxruntime. The learned codec runs its ONNX
 * halves through `CodecContext.learned`, which the caller (agent, cloud, CLI) supplies.
 */
import { inflateSync } from 'fflate';
import { VergeError, fmtInt } from '../../errors.ts';
import type { CodecParams } from '../../protocol/browser.ts';

export type { CodecParams };

/** A dense float32 tensor, row-major. */
export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

export interface Encoded {
  params: CodecParams;
  payload: Uint8Array;
  /**
   * Largest absolute difference a decoded value may have from the original: 0 for lossless, the
   * quantization half-step for quantize-delta, null when no bound is known in advance (learned).
   */
  errorBound: number | null;
}

/** The two halves of a learned codec, as runnable functions (onnxruntime sessions, supplied by the caller). */
export interface LearnedCodecRunner {
  /** `name@version` of the codec (the encoder and decoder models are published under it). */
  ref: string;
  /** Per-sample input shape the encoder takes, e.g. [1, 28, 28]. */
  sampleShape: number[];
  encode?: (x: FloatTensor) => Promise<FloatTensor>;
  decode?: (latent: FloatTensor) => Promise<FloatTensor>;
}

export interface CodecContext {
  /** Find the runner of a learned codec by `name@version`; undefined when it is not available here. */
  learned?: (ref: string) => Promise<LearnedCodecRunner | undefined>;
}

export interface Codec {
  /** Registry name, as in the codec frame and `--codec name[:option]`. */
  readonly name: string;
  readonly lossy: boolean;
  /** One line for `verge codec list`. */
  readonly summary: string;
  /** What the `:option` part means, e.g. 'bits (1-16, default 8)'. */
  readonly option?: string;
  encode(x: FloatTensor, option: string | undefined, ctx: CodecContext): Promise<Encoded>;
  decode(dims: number[], params: CodecParams, payload: Uint8Array, ctx: CodecContext): Promise<Float32Array>;
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Little-endian bytes of float32 values (a copy, independent of the platform's endianness). */
export function float32Bytes(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length * 4);
  const v = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) v.setFloat32(i * 4, x[i]!, true);
  return out;
}

export function float32FromBytes(b: Uint8Array): Float32Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array(b.length >> 2);
  for (let i = 0; i < out.length; i++) out[i] = v.getFloat32(i * 4, true);
  return out;
}

/**
 * Inflate exactly `expected` bytes. A payload that inflates to more (a decompression bomb) or
 * fewer bytes is refused: fflate fills a fixed buffer, so nothing larger is ever allocated.
 */
export function inflateExact(payload: Uint8Array, expected: number, codec: string): Uint8Array {
  let out: Uint8Array;
  try {
    out = inflateSync(payload, { out: new Uint8Array(expected + 1) });
  } catch (e) {
    throw new VergeError('E_DATA_INVALID', `${codec} payload does not inflate: ${(e as Error).message}`);
  }
  if (out.length !== expected)
    throw new VergeError(
      'E_DATA_INVALID',
      `${codec} payload inflates to ${out.length > expected ? `more than ${fmtInt(expected)}` : fmtInt(out.length)} bytes; the frame's dims need ${fmtInt(expected)}`,
    );
  return out;
}

export function requireFinite(x: Float32Array, codec: string): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!))
      throw new VergeError('E_DATA_INVALID', `${codec}: value ${i} is ${x[i]}; only finite values can be quantized`);
  }
}

/** A numeric codec parameter from a frame, checked. */
export function numParam(params: CodecParams, key: string, codec: string): number {
  const v = params[key];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new VergeError('E_DATA_INVALID', `${codec} frame has no numeric parameter '${key}'`);
  return v;
}

/** Quantization onto 2^bits levels over [min, max]: levels, the step and the guaranteed error bound. */
export interface Quantizer {
  bits: number;
  min: number;
  max: number;
  levels: number;
  step: number;
  /** Half a step: the largest rounding error of a value inside [min, max]. */
  errorBound: number;
}

export function quantizer(bits: number, min: number, max: number): Quantizer {
  const levels = 2 ** bits - 1;
  const step = max > min ? (max - min) / levels : 0;
  return { bits, min, max, levels, step, errorBound: step / 2 };
}

export function quantizeValue(q: Quantizer, v: number): number {
  if (q.step === 0) return 0;
  return Math.min(q.levels, Math.max(0, Math.round((v - q.min) / q.step)));
}

export function dequantizeValue(q: Quantizer, level: number): number {
  return q.min + level * q.step;
}

/** min and max of the values (0, 0 for none). */
export function range(x: Float32Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return x.length ? { min, max } : { min: 0, max: 0 };
}

/** Peak signal-to-noise ratio in dB for signals with the given peak (1 for images in [0, 1]). */
export function psnr(a: Float32Array, b: Float32Array, peak = 1): number {
  if (a.length !== b.length) throw new VergeError('E_SHAPE_MISMATCH', `psnr of ${a.length} vs ${b.length} values`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  const mse = se / Math.max(1, a.length);
  return mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse);
}

export function maxAbsError(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
