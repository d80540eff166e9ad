/**
 * Rényi-DP accountant for the sampled Gaussian mechanism (Mironov, Talwar, Zhang 2019), the
 * analysis behind DP-SGD and DP-FedAvg: each round samples clients with rate q and adds Gaussian
 * noise of σ = z·C to the sum of updates clipped to norm C. RDP at integer order α is
 *   log A_α / (α − 1),  A_α = Σ_k C(α, k) (1 − q)^(α−k) q^k exp((k² − k) / (2z²)),
 * composition over rounds adds RDP, and (ε, δ) follows from Balle et al. 2020 (Theorem 21):
 *   ε = min_α RDP(α) + log((α − 1)/α) − (log δ + log α)/(α − 1).
 * Integer orders only: the exact finite sum, no numerical integration.
 */
import { VergeError } from '../../errors.ts';

/** Orders tracked: dense where the optimum usually sits, sparse up to 256 for tiny ε. */
export const RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 63 }, (_, i) => i + 2),
  72,
  80,
  96,
  128,
  160,
  192,
  256,
]);

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(Math.min(a, b) - m));
}

/** RDP of one sampled-Gaussian step at integer order `alpha` ≥ 2. */
export function rdpSampledGaussian(q: number, noiseMultiplier: number, alpha: number): number {
  if (!(q >= 0 && q <= 1)) throw new VergeError('E_BAD_ARGUMENT', `sampling rate must be in [0, 1], got ${q}`);
  if (!(Number.isInteger(alpha) && alpha >= 2))
    throw new VergeError('E_BAD_ARGUMENT', `RDP order must be a whole number ≥ 2, got ${alpha}`);
  if (q === 0) return 0;
  if (noiseMultiplier === 0) return Infinity;
  const s2 = noiseMultiplier * noiseMultiplier;
  if (q === 1) return alpha / (2 * s2);
  let logA = -Infinity;
  let logBinom = 0; // log C(alpha, 0)
  for (let k = 0; k <= alpha; k++) {
    if (k > 0) logBinom += Math.log((alpha - k + 1) / k);
    const term = logBinom + k * Math.log(q) + (alpha - k) * Math.log1p(-q) + (k * k - k) / (2 * s2);
    logA = logAdd(logA, term);
  }
  return logA / (alpha - 1);
}

/** (ε, the order that attains it) from accumulated RDP values at `orders`. */
export function epsilonFromRdp(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) throw new VergeError('E_BAD_ARGUMENT', `δ must be in (0, 1), got ${delta}`);
  let best = { epsilon: Infinity, order: NaN };
  orders.forEach((a, i) => {
    const r = rdp[i]!;
    const eps = r + Math.log((a - 1) / a) - (Math.log(delta) + Math.log(a)) / (a - 1);
    if (eps < best.epsilon) best = { epsilon: Math.max(0, eps), order: a };
  });
  return best;
}

/** Accumulates rounds of the sampled Gaussian mechanism and reports (ε, δ). */
export class RdpAccountant {
  private readonly rdp: number[];
  rounds = 0;

  constructor(readonly orders: readonly number[] = RDP_ORDERS) {
    this.rdp = orders.map(() => 0);
  }

  /** `count` rounds with sampling rate q and noise multiplier z. */
  step(q: number, noiseMultiplier: number, count = 1): void {
    this.orders.forEach((a, i) => (this.rdp[i]! += count * rdpSampledGaussian(q, noiseMultiplier, a)));
    this.rounds += count;
  }

  epsilon(delta: number): { epsilon: number; order: number } {
    return epsilonFromRdp(this.orders, this.rdp, delta);
  }
}
