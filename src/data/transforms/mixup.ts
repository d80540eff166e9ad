/**
 * mixup (Zhang et al. 2018): each sample becomes λ·itself + (1−λ)·another sample of the batch
 * (a random pairing), λ ~ Beta(α, α) per batch, and its label the same mix of the two one-hot
 * labels — soft labels, trained with cross-entropy on soft targets.
 */
import { gaussian, type AugmentBatch, type BatchTransform } from './transform.ts';

/** Gamma(k, 1) by Marsaglia–Tsang (k ≥ 1; smaller k by the boost u^(1/k)). */
function gamma(k: number, rng: () => number): number {
  if (k < 1) return gamma(k + 1, rng) * Math.pow(Math.max(rng(), 1e-12), 1 / k);
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = gaussian(rng);
    const v = (1 + c * z) ** 3;
    if (v > 0 && Math.log(Math.max(rng(), 1e-12)) < (z * z) / 2 + d - d * v + d * Math.log(v)) return d * v;
  }
}

export function beta(a: number, rng: () => number): number {
  const x = gamma(a, rng);
  return x / (x + gamma(a, rng));
}

export const mixup: BatchTransform = {
  name: 'mixup',
  summary: 'blend pairs of samples and their labels with a Beta(A, A) weight (soft labels)',
  kind: 'batch',
  imageOnly: false,
  arg: { default: 0.2, min: 0.01, max: 10, unit: 'alpha' },
  apply: (alpha, rng, b: AugmentBatch) => {
    const lam = beta(alpha, rng);
    const n = b.count;
    const per = n ? b.x.length / n : 0;
    const partner = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [partner[i], partner[j]] = [partner[j]!, partner[i]!];
    }
    const src = b.x.slice();
    const soft = b.soft ? b.soft.slice() : oneHot(b.y, b.classes);
    const out = new Float32Array(n * b.classes);
    for (let i = 0; i < n; i++) {
      const j = partner[i]!;
      for (let k = 0; k < per; k++) b.x[i * per + k] = lam * src[i * per + k]! + (1 - lam) * src[j * per + k]!;
      for (let c = 0; c < b.classes; c++)
        out[i * b.classes + c] = lam * soft[i * b.classes + c]! + (1 - lam) * soft[j * b.classes + c]!;
    }
    b.soft = out;
  },
};

function oneHot(y: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(y.length * classes);
  for (let i = 0; i < y.length; i++) out[i * classes + y[i]!] = 1;
  return out;
}
