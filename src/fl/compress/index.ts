/**
 * Update compression, chosen by spec: `none` (fp32), `int8` (stochastic rounding), `topk:F`
 * (fraction F of the values, with error feedback), each optionally `+deflate`. A client owns one
 * UpdateCompressor (it holds the top-k residual across rounds); the server decodes with
 * `decompress`, which takes the bytes exactly as they travel.
 */
import { VergeError } from '../../errors.ts';
import { decodeUpdate, encodeUpdate, type EncodedUpdate } from '../../protocol/browser.ts';
import type { RandomSource } from '../random.ts';
import { dequantizeInt8, quantizeInt8 } from './int8.ts';
import { densify, ErrorFeedback } from './topk.ts';

export type CompressionSpec =
  { kind: 'none' | 'int8'; deflate: boolean } | { kind: 'topk'; fraction: number; deflate: boolean };

export function parseCompression(spec: string | undefined): CompressionSpec {
  if (spec === undefined || spec === '' || spec === 'none') return { kind: 'none', deflate: false };
  const [base = '', ...mods] = spec.trim().toLowerCase().split('+');
  if (mods.some((m) => m !== 'deflate'))
    throw new VergeError('E_BAD_ARGUMENT', `--compress: only '+deflate' may follow the codec, got '${spec}'`);
  const deflate = mods.length > 0;
  if (base === 'none' || base === 'fp32') return { kind: 'none', deflate };
  if (base === 'int8') return { kind: 'int8', deflate };
  const m = /^topk:([0-9.eE+-]+)$/.exec(base);
  if (m) {
    const fraction = Number(m[1]);
    if (!(fraction > 0 && fraction <= 1))
      throw new VergeError('E_BAD_ARGUMENT', `--compress topk:F needs F in (0, 1], got '${m[1]}'`);
    return { kind: 'topk', fraction, deflate };
  }
  throw new VergeError(
    'E_BAD_ARGUMENT',
    `--compress must be none, int8 or topk:F (optionally +deflate), got '${spec}'`,
  );
}

export function describeCompression(c: CompressionSpec): string {
  const base = c.kind === 'topk' ? `topk:${c.fraction}` : c.kind;
  return c.deflate ? `${base}+deflate` : base;
}

/** Per-client encoder: the top-k residual lives here between rounds. */
export class UpdateCompressor {
  private readonly feedback = new ErrorFeedback();
  constructor(
    readonly spec: CompressionSpec,
    private readonly random: RandomSource,
  ) {}

  /** The update as uploaded. */
  compress(update: Float32Array): Uint8Array {
    let e: EncodedUpdate;
    if (this.spec.kind === 'int8') e = quantizeInt8(update, this.random);
    else if (this.spec.kind === 'topk') e = this.feedback.compress(update, this.spec.fraction);
    else e = { codec: 'fp32', length: update.length, values: update };
    return encodeUpdate(e, { deflate: this.spec.deflate });
  }
}

/** The dense update an upload carries (any codec; the header says which). */
export function decompress(bytes: Uint8Array, expectedLength: number): Float32Array {
  const u = decodeUpdate(bytes, expectedLength);
  if (u.codec === 'fp32') return u.values;
  if (u.codec === 'int8') return dequantizeInt8(u);
  return densify(u);
}
