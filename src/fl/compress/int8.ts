/**
 * int8 quantization of an update with stochastic rounding: each chunk of INT8_CHUNK values gets a
 * scale max|x|/127 and each value becomes ⌊x/scale + u⌋ with u uniform in [0, 1). The rounding is
 * unbiased (E[q·scale] = x), so quantization noise averages out across clients and rounds instead
 * of biasing the model (Alistarh et al. 2017, QSGD).
 */
import type { EncodedUpdate } from '../../protocol/browser.ts';
import type { RandomSource } from '../random.ts';

/** Values per scale: 1,024 keeps the scale overhead at 0.4% and limits one outlier's reach. */
export const INT8_CHUNK = 1024;

export function quantizeInt8(v: Float32Array, r: RandomSource, chunk = INT8_CHUNK): EncodedUpdate & { codec: 'int8' } {
  const n = Math.ceil(v.length / chunk);
  const scales = new Float32Array(n);
  const q = new Int8Array(v.length);
  for (let c = 0; c < n; c++) {
    const end = Math.min(v.length, (c + 1) * chunk);
    let max = 0;
    for (let i = c * chunk; i < end; i++) max = Math.max(max, Math.abs(v[i]!));
    const scale = max / 127;
    scales[c] = scale;
    if (scale === 0) continue;
    for (let i = c * chunk; i < end; i++) {
      const x = Math.floor(v[i]! / scale + r.uniform());
      q[i] = Math.max(-127, Math.min(127, x));
    }
  }
  return { codec: 'int8', length: v.length, chunk, scales, q };
}

export function dequantizeInt8(u: { length: number; chunk: number; scales: Float32Array; q: Int8Array }): Float32Array {
  const out = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) out[i] = u.q[i]! * u.scales[Math.floor(i / u.chunk)]!;
  return out;
}
