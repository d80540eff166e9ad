/**
 * learned: a convolutional autoencoder trained by `verge codec train` (x_c = encoder(x),
 * x ≈ decoder(x_c)). The agent runs the encoder (deployed to it as a signed ONNX model), the
 * latent is quantized to 8 bits (or `:bits`, 1-8) over its [min, max] and deflated (deflate's
 * Huffman codes make fewer levels fewer bytes); the cloud dequantizes and runs the decoder.
 * `--codec learned:<name>@<version>[:bits]` names the codec model. No error bound is known in
 * advance: `verge codec train` reports the reconstruction PSNR and the classifier's accuracy on
 * decoded samples instead.
 */
import { deflateSync } from 'fflate';
import { VergeError } from '../../errors.ts';
import type { Codec, CodecContext, FloatTensor, LearnedCodecRunner } from './codec.ts';
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

/** 8-bit latents: the quantization error (≤ 1/510 of the latent range) is far below the autoencoder's own. */
export const LATENT_BITS = 8;

/** `<name>@<version>[:bits]` → the codec model's reference and the latent bits (default LATENT_BITS). */
export function parseLearnedOption(option: string | undefined): { ref: string; bits: number } {
  const colon = option?.lastIndexOf(':') ?? -1;
  if (colon < 0) return { ref: checkRef(option), bits: LATENT_BITS };
  const bits = option!.slice(colon + 1);
  if (!/^[1-8]$/.test(bits))
    throw new VergeError('E_BAD_ARGUMENT', `learned codec latent bits must be 1-8, got '${bits}'`);
  return { ref: checkRef(option!.slice(0, colon)), bits: Number(bits) };
}
/**
 * The registry models of learned codec `name@version`: `verge codec train` publishes the encoder
 * as `<name>-encoder@<version>` (deployed to agents like any model: signed, verified), the
 * decoder as `<name>-decoder@<version>` (loaded by the cloud) and, with --adapt-classifier, the
 * cloud classifier fine-tuned on decoded inputs as `<name>-classifier@<version>` (its parent the
 * classifier it adapts; the cloud answers this codec's frames for that parent with it).
 */
export function learnedCodecModels(ref: string): {
  encoder: string;
  decoder: string;
  classifier: string;
  version: string;
} {
  const r = checkRef(ref);
  const at = r.indexOf('@');
  const name = r.slice(0, at);
  return {
    encoder: `${name}-encoder`,
    decoder: `${name}-decoder`,
    classifier: `${name}-classifier`,
    version: r.slice(at + 1),
  };
}

/**
 * Significant digits of the latent range in a frame: the range then costs ~8 bytes of JSON instead
 * of ~18 (a 128-value latent frame is ~260 bytes), and widening it by ≤ 1e-6 of its magnitude
 * changes the 8-bit step by far less than the step's own 1/510 of the range.
 */
const RANGE_DIGITS = 6;

/** `v` to `digits` significant decimals, rounded down (dir −1) or up (+1), so it still bounds `v`. */
export function roundOutward(v: number, digits: number, dir: -1 | 1): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const unit = 10 ** (Math.floor(Math.log10(Math.abs(v))) - digits + 1);
  let r = Number(((dir < 0 ? Math.floor(v / unit) : Math.ceil(v / unit)) * unit).toPrecision(digits + 1));
  if (dir < 0 ? r > v : r < v) r = Number((r + dir * unit).toPrecision(digits + 1));
  return r;
}

const REF_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}@[0-9A-Za-z.+-]{1,64}$/;

function checkRef(ref: string | undefined): string {
  if (!ref || !REF_PATTERN.test(ref))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `the learned codec needs its model: learned:<name>@<version>, got '${ref ?? ''}'`,
    );
  return ref;
}

async function runner(ref: string, ctx: CodecContext, half: 'encode' | 'decode'): Promise<LearnedCodecRunner> {
  const r = await ctx.learned?.(ref);
  if (!r?.[half])
    throw new VergeError(
      'E_NOT_FOUND',
      `learned codec ${ref}: its ${half === 'encode' ? 'encoder' : 'decoder'} is not available here (deploy or load ${ref} first)`,
    );
  return r;
}

/** The batch size of `x` for per-sample shape `sample` (a lone sample counts as a batch of one). */
function batchOf(x: FloatTensor, sample: number[], ref: string): number {
  const per = elementCount(sample);
  const tail = x.dims.slice(x.dims.length - sample.length);
  const lone = x.dims.length === sample.length;
  const fits =
    tail.length === sample.length &&
    tail.every((d, i) => d === sample[i]) &&
    (lone || x.dims.length === sample.length + 1);
  if (!fits)
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `learned codec ${ref} encodes samples [${sample.join(', ')}]; got a tensor [${x.dims.join(', ')}]`,
    );
  return x.data.length / per;
}

export const learned: Codec = {
  name: 'learned',
  lossy: true,
  summary: 'autoencoder: the agent sends an 8-bit latent from the encoder, the cloud decodes (verge codec train)',
  option: 'the codec model, <name>@<version>[:latent bits 1-8, default 8]',
  async encode(x, option, ctx) {
    const { ref, bits } = parseLearnedOption(option);
    const r = await runner(ref, ctx, 'encode');
    const n = batchOf(x, r.sampleShape, ref);
    const z = await r.encode!({ dims: [n, ...r.sampleShape], data: x.data });
    requireFinite(z.data, `learned codec ${ref} latent`);
    const r0 = range(z.data);
    // the range travels as short decimals (JSON in every frame) widened to still hold every value
    const min = roundOutward(r0.min, RANGE_DIGITS, -1);
    const max = roundOutward(r0.max, RANGE_DIGITS, 1);
    const q = quantizer(bits, min, max);
    const levels = new Uint8Array(z.data.length);
    for (let i = 0; i < levels.length; i++) levels[i] = quantizeValue(q, z.data[i]!);
    return {
      params: { ref, bits, min, max, latent: z.dims.slice(1).join(',') },
      payload: deflateSync(levels, { level: 9 }),
      errorBound: null,
    };
  },
  async decode(dims, params, payload, ctx) {
    const ref = checkRef(typeof params.ref === 'string' ? params.ref : undefined);
    const r = await runner(ref, ctx, 'decode');
    const bits = numParam(params, 'bits', 'learned');
    if (!Number.isInteger(bits) || bits < 1 || bits > LATENT_BITS)
      throw new VergeError('E_DATA_INVALID', `learned codec frame has bits=${params.bits}; expected 1-${LATENT_BITS}`);
    const latent = String(params.latent ?? '')
      .split(',')
      .map(Number);
    if (latent.some((d) => !Number.isInteger(d) || d <= 0))
      throw new VergeError('E_DATA_INVALID', `learned codec frame has latent dims '${params.latent}'`);
    const n = dims.length === r.sampleShape.length ? 1 : (dims[0] ?? 0);
    const expect = [n, ...r.sampleShape];
    if (elementCount(dims) !== elementCount(expect))
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `learned codec ${ref} decodes samples [${r.sampleShape.join(', ')}]; the frame says [${dims.join(', ')}]`,
      );
    const q = quantizer(bits, numParam(params, 'min', 'learned'), numParam(params, 'max', 'learned'));
    const levels = inflateExact(payload, n * elementCount(latent), 'learned');
    const z = new Float32Array(levels.length);
    for (let i = 0; i < z.length; i++) {
      if (levels[i]! > q.levels)
        throw new VergeError('E_DATA_INVALID', `learned codec frame: level ${levels[i]} exceeds ${bits}-bit latents`);
      z[i] = dequantizeValue(q, levels[i]!);
    }
    const y = await r.decode!({ dims: [n, ...latent], data: z });
    if (y.data.length !== elementCount(dims))
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `learned codec ${ref}: the decoder produced ${y.data.length} values, expected ${elementCount(dims)}`,
      );
    return y.data;
  },
};
