/**
 * Masks only cancel in modular arithmetic, so secure aggregation sums integers mod 2³²: each float
 * becomes round(x·2^bits) (two's complement), values beyond ±bound are clipped first, and `bits` is
 * chosen so the sum of `clients` values of magnitude ≤ bound still fits in 31 bits.
 */
import { VergeError } from '../../errors.ts';

/** Fraction bits for a sum of `clients` values each within ±bound (one bit of headroom). */
export function fractionBits(clients: number, bound: number): number {
  const bits = Math.floor(30 - Math.log2(clients * bound));
  if (bits < 8)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `secure aggregation: ${clients} clients × bound ${bound} leave ${bits} fraction bits (need ≥ 8); lower the bound`,
    );
  return Math.min(bits, 30);
}

/** Encode into the ring; returns how many values had to be clipped to ±bound. */
export function encodeFixed(v: Float32Array, bits: number, bound: number): { ring: Uint32Array; clipped: number } {
  const ring = new Uint32Array(v.length);
  const scale = 2 ** bits;
  let clipped = 0;
  for (let i = 0; i < v.length; i++) {
    let x = v[i]!;
    if (x > bound || x < -bound) {
      x = Math.sign(x) * bound;
      clipped++;
    }
    ring[i] = Math.round(x * scale) >>> 0;
  }
  return { ring, clipped };
}

/** Decode a ring sum back to floats (as signed 32-bit). */
export function decodeFixed(sum: Uint32Array, bits: number): Float64Array {
  const out = new Float64Array(sum.length);
  const scale = 2 ** bits;
  for (let i = 0; i < sum.length; i++) out[i] = (sum[i]! | 0) / scale;
  return out;
}

/** a += sign·b (mod 2³²), in place. */
export function addInto(a: Uint32Array, b: Uint32Array, sign: 1 | -1): void {
  if (sign === 1) for (let i = 0; i < a.length; i++) a[i] = (a[i]! + b[i]!) >>> 0;
  else for (let i = 0; i < a.length; i++) a[i] = (a[i]! - b[i]!) >>> 0;
}
