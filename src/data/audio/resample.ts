/**
 * Band-limited resampling by a rational factor: a Hann-windowed sinc low-pass evaluated at each
 * output phase, the method of torchaudio.functional.resample ('sinc_interp_hann', 6 zero crossings,
 * roll-off 0.99), so the two agree. Browser-safe.
 */
import { VergeError } from '../../errors.ts';

export interface ResampleOptions {
  /** Zero crossings of the sinc on each side (sharper filter, more work). */
  lowpassFilterWidth?: number;
  /** Cut-off as a fraction of the lower Nyquist frequency (anti-aliasing margin). */
  rolloff?: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

interface Kernel {
  orig: number;
  next: number;
  width: number;
  taps: number;
  /** [next, taps] filter per output phase. */
  weights: Float64Array;
}

const kernels = new Map<string, Kernel>();
/** Kernels are pure functions of (rates, options); a few are kept to avoid rebuilding them per file. */
const MAX_CACHED_KERNELS = 16;

function kernelFor(from: number, to: number, lpw: number, rolloff: number): Kernel {
  const key = `${from}:${to}:${lpw}:${rolloff}`;
  const hit = kernels.get(key);
  if (hit) return hit;
  const g = gcd(from, to);
  const orig = from / g;
  const next = to / g;
  const base = Math.min(orig, next) * rolloff;
  const width = Math.ceil((lpw * orig) / base);
  const taps = 2 * width + orig;
  const weights = new Float64Array(next * taps);
  const scale = base / orig;
  for (let p = 0; p < next; p++) {
    for (let k = 0; k < taps; k++) {
      let t = (-p / next + (k - width) / orig) * base;
      t = Math.max(-lpw, Math.min(lpw, t));
      const w = Math.cos((t * Math.PI) / lpw / 2) ** 2;
      const x = t * Math.PI;
      weights[p * taps + k] = (x === 0 ? 1 : Math.sin(x) / x) * w * scale;
    }
  }
  const kernel = { orig, next, width, taps, weights };
  if (kernels.size >= MAX_CACHED_KERNELS) kernels.delete(kernels.keys().next().value!);
  kernels.set(key, kernel);
  return kernel;
}

/** Resample a mono signal from `from` Hz to `to` Hz; output length ceil(n · to / from). */
export function resample(x: Float32Array, from: number, to: number, opts: ResampleOptions = {}): Float32Array {
  if (!(Number.isInteger(from) && Number.isInteger(to) && from > 0 && to > 0))
    throw new VergeError('E_BAD_ARGUMENT', `sample rates must be positive integers, got ${from} and ${to}`);
  if (from === to) return Float32Array.from(x);
  const { orig, next, width, taps, weights } = kernelFor(from, to, opts.lowpassFilterWidth ?? 6, opts.rolloff ?? 0.99);
  const n = x.length;
  const outLength = Math.ceil((next * n) / orig);
  const out = new Float32Array(outLength);
  for (let j = 0; j < outLength; j++) {
    const block = Math.floor(j / next);
    const row = (j % next) * taps;
    const start = block * orig - width; // input index of tap 0
    const k0 = Math.max(0, -start);
    const k1 = Math.min(taps, n - start);
    let s = 0;
    for (let k = k0; k < k1; k++) s += weights[row + k]! * x[start + k]!;
    out[j] = s;
  }
  return out;
}
