/**
 * Multivariate Gaussians as HMM emissions: log densities of many components at once and their
 * weighted maximum-likelihood (MAP with a small variance prior) re-estimation. Diagonal covariances
 * are stored [n, d], full ones [n, d, d], row-major, as hmmlearn's `covars_`.
 */
import { VergeError } from '../errors.ts';
import { cholesky, type Matrix } from './matrix.ts';

export type CovarianceType = 'diag' | 'full';
export const COVARIANCE_TYPES: readonly CovarianceType[] = Object.freeze(['diag', 'full']);

const LOG_2PI = Math.log(2 * Math.PI);

export interface GaussianSet {
  n: number;
  d: number;
  type: CovarianceType;
  means: Float64Array;
  covars: Float64Array;
}

export function covarSize(type: CovarianceType, d: number): number {
  return type === 'diag' ? d : d * d;
}

/** log N(x_t | μ_j, Σ_j) for every frame t and component j: [T, n]. */
export function logDensities(X: Matrix, g: GaussianSet): Float64Array {
  const { n, d, type, means, covars } = g;
  const T = X.rows;
  const out = new Float64Array(T * n);
  const diff = new Float64Array(d);
  for (let j = 0; j < n; j++) {
    const mu = means.subarray(j * d, (j + 1) * d);
    if (type === 'diag') {
      const v = covars.subarray(j * d, (j + 1) * d);
      let logDet = 0;
      const prec = new Float64Array(d);
      for (let k = 0; k < d; k++) {
        logDet += Math.log(v[k]!);
        prec[k] = 1 / v[k]!;
      }
      const c = -0.5 * (d * LOG_2PI + logDet);
      for (let t = 0; t < T; t++) {
        let q = 0;
        const row = t * d;
        for (let k = 0; k < d; k++) {
          const z = X.data[row + k]! - mu[k]!;
          q += z * z * prec[k]!;
        }
        out[t * n + j] = c - 0.5 * q;
      }
    } else {
      const L = cholesky(covars.subarray(j * d * d, (j + 1) * d * d), d, `covariance of component ${j}`);
      let logDet = 0;
      for (let k = 0; k < d; k++) logDet += 2 * Math.log(L[k * d + k]!);
      const c = -0.5 * (d * LOG_2PI + logDet);
      for (let t = 0; t < T; t++) {
        // Solve L y = x - μ by forward substitution; the Mahalanobis term is |y|².
        let q = 0;
        for (let k = 0; k < d; k++) {
          let s = X.data[t * d + k]! - mu[k]!;
          for (let m = 0; m < k; m++) s -= L[k * d + m]! * diff[m]!;
          diff[k] = s / L[k * d + k]!;
          q += diff[k]! * diff[k]!;
        }
        out[t * n + j] = c - 0.5 * q;
      }
    }
  }
  return out;
}

export interface WeightedStats {
  /** Σ_t w_tj: [n] */
  post: Float64Array;
  /** Σ_t w_tj x_t: [n, d] */
  obs: Float64Array;
  /** Σ_t w_tj x_t² (diag, [n, d]) or Σ_t w_tj x_t x_tᵀ (full, [n, d, d]) */
  obs2: Float64Array;
}

export function emptyStats(n: number, d: number, type: CovarianceType): WeightedStats {
  return { post: new Float64Array(n), obs: new Float64Array(n * d), obs2: new Float64Array(n * covarSize(type, d)) };
}

/** Add one sequence's frames with weights w [T, n] into the sufficient statistics. */
export function accumulate(stats: WeightedStats, X: Matrix, w: Float64Array, n: number, type: CovarianceType): void {
  const d = X.cols;
  for (let t = 0; t < X.rows; t++) {
    const x = X.data.subarray(t * d, (t + 1) * d);
    for (let j = 0; j < n; j++) {
      const g = w[t * n + j]!;
      if (g === 0) continue;
      stats.post[j]! += g;
      for (let k = 0; k < d; k++) stats.obs[j * d + k]! += g * x[k]!;
      if (type === 'diag') for (let k = 0; k < d; k++) stats.obs2[j * d + k]! += g * x[k]! * x[k]!;
      else {
        const base = j * d * d;
        for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) stats.obs2[base + a * d + b]! += g * x[a]! * x[b]!;
      }
    }
  }
}

/**
 * Re-estimate means and covariances from the statistics (hmmlearn's M-step with means_weight 0):
 * μ = Σwx / Σw; Σ = (covarsPrior·I + Σw(x-μ)(x-μ)ᵀ) / max(Σw, 1e-5). Components with no weight keep
 * their parameters.
 */
export function reestimate(
  g: GaussianSet,
  stats: WeightedStats,
  covarsPrior: number,
  update: { means: boolean; covars: boolean } = { means: true, covars: true },
): void {
  const { n, d, type } = g;
  for (let j = 0; j < n; j++) {
    const p = stats.post[j]!;
    if (!(p > 0)) continue;
    const denom = Math.max(p, 1e-5);
    if (update.means) for (let k = 0; k < d; k++) g.means[j * d + k] = stats.obs[j * d + k]! / p;
    if (!update.covars) continue;
    const mu = g.means.subarray(j * d, (j + 1) * d);
    if (type === 'diag') {
      for (let k = 0; k < d; k++) {
        // Σw(x-μ)² = Σwx² - 2μΣwx + μ²Σw
        const scatter = stats.obs2[j * d + k]! - 2 * mu[k]! * stats.obs[j * d + k]! + mu[k]! * mu[k]! * p;
        g.covars[j * d + k] = (covarsPrior + scatter) / denom;
      }
    } else {
      const base = j * d * d;
      for (let a = 0; a < d; a++) {
        for (let b = 0; b < d; b++) {
          const scatter =
            stats.obs2[base + a * d + b]! -
            mu[a]! * stats.obs[j * d + b]! -
            mu[b]! * stats.obs[j * d + a]! +
            mu[a]! * mu[b]! * p;
          g.covars[base + a * d + b] = ((a === b ? covarsPrior : 0) + scatter) / denom;
        }
      }
    }
  }
}

/** Check a covariance array's shape and positivity (user-set `covars_`). */
export function checkCovars(g: GaussianSet, what: string): void {
  const want = g.n * covarSize(g.type, g.d);
  if (g.covars.length !== want)
    throw new VergeError('E_SHAPE_MISMATCH', `${what}: covars_ has ${g.covars.length} values, ${g.type} needs ${want}`);
  if (g.type === 'diag') {
    if (g.covars.some((v) => !(v > 0))) throw new VergeError('E_BAD_ARGUMENT', `${what}: diagonal covars_ must be > 0`);
  } else for (let j = 0; j < g.n; j++) cholesky(g.covars.subarray(j * g.d * g.d, (j + 1) * g.d * g.d), g.d, what);
}
