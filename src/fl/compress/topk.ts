/**
 * Top-k sparsification with error feedback (Stich et al. 2018; Lin et al. 2018, "Deep Gradient
 * Compression"): send only the k largest-magnitude values of (update + residual) and keep what was
 * not sent as the residual for the next round, so every coordinate eventually gets through.
 */
import type { EncodedUpdate } from '../../protocol/browser.ts';

/** The k-th largest |value| (k ≥ 1), by sorting a copy of the magnitudes. */
function threshold(v: Float32Array, k: number): number {
  const mags = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) mags[i] = Math.abs(v[i]!);
  mags.sort();
  return mags[v.length - k]!;
}

/** Keep the k largest |v| (ties at the threshold resolved by position); returns indices ascending. */
export function topK(v: Float32Array, k: number): EncodedUpdate & { codec: 'topk' } {
  const kk = Math.max(0, Math.min(v.length, k));
  const indices = new Uint32Array(kk);
  const values = new Float32Array(kk);
  if (kk === 0) return { codec: 'topk', length: v.length, indices, values };
  const t = threshold(v, kk);
  let above = 0;
  for (let i = 0; i < v.length; i++) if (Math.abs(v[i]!) > t) above++;
  let ties = kk - above;
  let j = 0;
  for (let i = 0; i < v.length && j < kk; i++) {
    const a = Math.abs(v[i]!);
    if (a > t || (a === t && ties-- > 0)) {
      indices[j] = i;
      values[j++] = v[i]!;
    }
  }
  return { codec: 'topk', length: v.length, indices, values };
}

export function densify(u: { length: number; indices: Uint32Array; values: Float32Array }): Float32Array {
  const out = new Float32Array(u.length);
  for (let i = 0; i < u.indices.length; i++) out[u.indices[i]!] = u.values[i]!;
  return out;
}

/** One client's error-feedback memory: what top-k left out of earlier rounds. */
export class ErrorFeedback {
  private residual?: Float32Array;

  /** Add the residual to `update`, pick the top fraction, and keep the rest for next time. */
  compress(update: Float32Array, fraction: number): EncodedUpdate & { codec: 'topk' } {
    const acc = update.slice();
    if (this.residual && this.residual.length === acc.length)
      for (let i = 0; i < acc.length; i++) acc[i]! += this.residual[i]!;
    const sent = topK(acc, Math.max(1, Math.ceil(fraction * acc.length)));
    for (let i = 0; i < sent.indices.length; i++) acc[sent.indices[i]!] = 0;
    this.residual = acc;
    return sent;
  }

  /** Sum of |residual| (tests, diagnostics). */
  get pending(): number {
    let s = 0;
    for (const v of this.residual ?? []) s += Math.abs(v);
    return s;
  }
}
