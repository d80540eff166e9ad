/**
 * Seeded random draws federated simulations need beyond uniform numbers: Gaussian (Box–Muller),
 * Gamma (Marsaglia–Tsang) and Dirichlet. Built on the data layer's mulberry32, so a seed gives the
 * same partition and the same simulated noise everywhere. Not for secrets or real DP noise on
 * devices: those use `secureGaussian`.
 */
import { rng } from '../data/browser.ts';

export interface RandomSource {
  uniform(): number;
  normal(): number;
}

export function seededRandom(seed: number): RandomSource {
  const u = rng(seed >>> 0);
  let spare: number | null = null;
  return {
    uniform: u,
    normal() {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      let a = 0;
      while (a === 0) a = u();
      const r = Math.sqrt(-2 * Math.log(a));
      const t = 2 * Math.PI * u();
      spare = r * Math.sin(t);
      return r * Math.cos(t);
    },
  };
}

/**
 * Gaussian draws from the platform's cryptographic generator (Web Crypto, in browsers and Node):
 * DP noise must not be predictable from a seed.
 */
export function secureRandom(): RandomSource {
  const buf = new Uint32Array(1024);
  let i = buf.length;
  const uniform = () => {
    if (i >= buf.length) {
      globalThis.crypto.getRandomValues(buf);
      i = 0;
    }
    return (buf[i++]! + 0.5) / 4294967296;
  };
  let spare: number | null = null;
  return {
    uniform,
    normal() {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      const r = Math.sqrt(-2 * Math.log(uniform()));
      const t = 2 * Math.PI * uniform();
      spare = r * Math.sin(t);
      return r * Math.cos(t);
    },
  };
}

/** Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 via the Gamma(shape + 1)·U^(1/shape) boost. */
export function gamma(r: RandomSource, shape: number): number {
  if (shape < 1) return gamma(r, shape + 1) * Math.pow(r.uniform(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = r.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = r.uniform();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** One draw of Dirichlet(α, …, α) over k categories. */
export function dirichlet(r: RandomSource, alpha: number, k: number): number[] {
  const g = Array.from({ length: k }, () => gamma(r, alpha));
  const s = g.reduce((a, b) => a + b, 0);
  return s > 0 ? g.map((v) => v / s) : g.map(() => 1 / k);
}
