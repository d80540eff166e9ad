/**
 * What hmmlearn's GaussianHMM and GMMHMM share: Gaussian emissions — `means_` and `covars_` of every
 * component (one per state, or `n_mix` per state), `covariance_type`, `min_covar`, `covars_prior`
 * and the initialization method — and drawing a sample from one component.
 */
import { VergeError } from '../errors.ts';
import { BaseHMM, gaussianDraw, type BaseHMMOptions } from './base.ts';
import { COVARIANCE_TYPES, logDensities, type CovarianceType, type GaussianSet } from './gaussian.ts';
import { INIT_METHODS, type InitMethod } from './init.ts';
import { cholesky, type Matrix } from './matrix.ts';

export interface GaussianEmissionOptions extends BaseHMMOptions {
  covariance_type?: CovarianceType;
  /** Added to the diagonal of the initial covariances. hmmlearn's default 1e-3. */
  min_covar?: number;
  /** Prior added to the diagonal of every re-estimated covariance (keeps them positive). hmmlearn's default 1e-2. */
  covars_prior?: number;
  init_method?: InitMethod;
}

export abstract class GaussianEmissionHMM extends BaseHMM {
  covariance_type: CovarianceType;
  min_covar: number;
  covars_prior: number;
  init_method: InitMethod;
  means_: Float64Array = new Float64Array(0);
  covars_: Float64Array = new Float64Array(0);
  /** Observation width, once fitted or set (otherwise read off means_). */
  protected features = 0;

  constructor(opts: GaussianEmissionOptions, defaultParams: string) {
    super(opts, defaultParams);
    this.covariance_type = opts.covariance_type ?? 'diag';
    if (!COVARIANCE_TYPES.includes(this.covariance_type))
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `covariance_type must be one of ${COVARIANCE_TYPES.join(', ')}, got '${this.covariance_type}'`,
      );
    this.min_covar = opts.min_covar ?? 1e-3;
    this.covars_prior = opts.covars_prior ?? 1e-2;
    this.init_method = opts.init_method ?? 'kmeans';
    if (!INIT_METHODS.includes(this.init_method))
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `init_method must be one of ${INIT_METHODS.join(', ')}, got '${this.init_method}'`,
      );
  }

  /** Gaussian components per state: 1, or GMMHMM's n_mix. */
  protected abstract get componentsPerState(): number;

  get n_features(): number {
    return this.features || this.means_.length / (this.n_components * this.componentsPerState);
  }
  set n_features(d: number) {
    this.features = d;
  }

  /** Every component of every state as one Gaussian set (views of means_ and covars_). */
  gaussians(): GaussianSet {
    return {
      n: this.n_components * this.componentsPerState,
      d: this.n_features,
      type: this.covariance_type,
      means: this.means_,
      covars: this.covars_,
    };
  }

  /** log N(x_t | component j) of every frame and component: [T, n_components · components per state]. */
  protected componentDensities(X: Matrix): Float64Array {
    if (X.cols !== this.n_features)
      throw new VergeError('E_SHAPE_MISMATCH', `observations have ${X.cols} features, the model ${this.n_features}`);
    return logDensities(X, this.gaussians());
  }
}

/** One draw from component j of a Gaussian set (x = μ + L z). */
export function sampleGaussian(g: GaussianSet, j: number, random: () => number): Float64Array {
  const d = g.d;
  const z = Float64Array.from({ length: d }, () => gaussianDraw(random));
  const x = Float64Array.from(g.means.subarray(j * d, (j + 1) * d));
  if (g.type === 'diag') for (let k = 0; k < d; k++) x[k]! += Math.sqrt(g.covars[j * d + k]!) * z[k]!;
  else {
    const L = cholesky(g.covars.subarray(j * d * d, (j + 1) * d * d), d, 'covariance');
    for (let a = 0; a < d; a++) for (let b = 0; b <= a; b++) x[a]! += L[a * d + b]! * z[b]!;
  }
  return x;
}
