/**
 * Image decoding with sharp (libvips, prebuilt per platform): any PNG/JPEG/WebP to a fixed
 * height×width with 1 (grayscale) or 3 (RGB) channels, alpha flattened onto black. Node-only;
 * the image-folder source, `verge run --image` and the agent's image requests all use it.
 */
import sharp from 'sharp';
import { VergeError } from '../errors.ts';
import type { ImagePreprocessing } from './preprocessing.ts';

export const IMAGE_EXTENSIONS = Object.freeze(['.png', '.jpg', '.jpeg', '.webp'] as const);
/** Largest side accepted when no size is given (images are resized to the first image's size). */
export const MAX_IMAGE_SIDE = 4096;
/** sharp's guard against decompression bombs: at most this many input pixels per image. */
const MAX_INPUT_PIXELS = 64 * 1024 * 1024;

/** Size and channel count of an encoded image, without decoding its pixels. */
export async function probeImage(
  input: string | Uint8Array,
): Promise<{ width: number; height: number; channels: 1 | 3 }> {
  const m = await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  if (!m.width || !m.height) throw new Error('no image dimensions');
  // 1 = grey, 2 = grey + alpha; everything else is decoded as RGB.
  return { width: m.width, height: m.height, channels: (m.channels ?? 3) <= 2 ? 1 : 3 };
}

/** Decode to interleaved uint8 pixels [height, width, channels]. Throws on corrupt input. */
export async function decodePixels(input: string | Uint8Array, p: ImagePreprocessing): Promise<Uint8Array> {
  let img = sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' }).flatten({ background: '#000000' });
  img = p.channels === 1 ? img.greyscale() : img.toColourspace('srgb');
  const { data, info } = await img
    .resize(p.width, p.height, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== p.channels || data.length !== p.width * p.height * p.channels)
    throw new Error(`decoded to ${info.channels} channels of ${info.width}x${info.height}`);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** Interleaved HWC uint8 → planar CHW float32 in [0, 1], written at `out[offset…]`. */
export function hwcToChw(hwc: Uint8Array, p: ImagePreprocessing, out: Float32Array, offset = 0): void {
  const { channels: c, height: h, width: w } = p;
  const plane = h * w;
  for (let i = 0; i < plane; i++) for (let k = 0; k < c; k++) out[offset + k * plane + i] = hwc[i * c + k]! / 255;
}

/** One image (file or bytes) as a model input [1, C, H, W], for `verge run --image` and the agent. */
export async function imageTensor(
  input: string | Uint8Array,
  p: ImagePreprocessing,
  what = 'image',
): Promise<Float32Array> {
  let hwc: Uint8Array;
  try {
    hwc = await decodePixels(input, p);
  } catch (e) {
    throw new VergeError('E_DATA_INVALID', `${what} is not a readable PNG/JPEG/WebP image (${firstLine(e)})`);
  }
  const out = new Float32Array(p.channels * p.height * p.width);
  hwcToChw(hwc, p, out);
  return out;
}

/** sharp's messages can span lines (libvips warnings); reports keep the first. */
export function firstLine(e: unknown): string {
  return ((e as Error).message ?? String(e)).split('\n')[0]!;
}
