/** hmmlearn's GaussianHMM: one multivariate Gaussian per state, diagonal or full covariance. */
import { VergeError } from '../errors.ts';
import { BaseHMM, gaussianDraw, type BaseHMMOptions } from './base.ts';
import {
  COVARIANCE_TYPES,
  accumulate,
  checkCovars,
  emptyStats,
  logDensities,
  reestimate,
  type CovarianceType,
  type GaussianSet,
} from './gaussian.ts';
import { INIT_METHODS, initialCovars, initialMeans, type InitMethod } from './init.ts';
import { cholesky, type Matrix } from './matrix.ts';

export interface GaussianHMMOptions extends BaseHMMOptions {
  covariance_type?: CovarianceType;
  /** Added to the diagonal of the initial covariances. hmmlearn's default 1e-3. */
  min_covar?: number;
  /** Prior added to the diagonal of every re-estimated covariance (keeps them positive). hmmlearn's default 1e-2. */
  covars_prior?: number;
  init_method?: InitMethod;
}

export class GaussianHMM extends BaseHMM {
  covariance_type: CovarianceType;
  min_covar: number;
  covars_prior: number;
  init_method: InitMethod;
  means_: Float64Array = new Float64Array(0);
  covars_: Float64Array = new Float64Array(0);
  private features = 0;

  constructor(opts: GaussianHMMOptions = {}) {
    super(opts, 'stmc');
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

  get n_features(): number {
    return this.features || this.means_.length / this.n_components;
  }
  set n_features(d: number) {
    this.features = d;
  }

  /** The emission Gaussians as one set (views of means_ and covars_). */
  gaussians(): GaussianSet {
    return {
      n: this.n_components,
      d: this.n_features,
      type: this.covariance_type,
      means: this.means_,
      covars: this.covars_,
    };
  }

  frameLogProb(X: Matrix): Float64Array {
    if (X.cols !== this.n_features)
      throw new VergeError('E_SHAPE_MISMATCH', `observations have ${X.cols} features, the model ${this.n_features}`);
    return logDensities(X, this.gaussians());
  }

  protected initEmissions(X: Matrix, sequences: Matrix[]): void {
    this.features = X.cols;
    const K = this.n_components;
    if (this.init_params.includes('m'))
      this.means_ = initialMeans(X, sequences, K, this.init_method, this.random_state);
    if (this.init_params.includes('c')) this.covars_ = initialCovars(X, K, this.covariance_type, this.min_covar);
  }

  protected checkEmissions(): void {
    const K = this.n_components;
    if (this.means_.length === 0 || this.means_.length % K !== 0)
      throw new VergeError('E_BAD_ARGUMENT', `means_ must be ${K}×n_features (set it or keep 'm' in init_params)`);
    checkCovars(this.gaussians(), 'GaussianHMM');
  }

  protected emissionStep(sequences: Matrix[], posteriors: Float64Array[]): void {
    const update = { means: this.params.includes('m'), covars: this.params.includes('c') };
    if (!update.means && !update.covars) return;
    const stats = emptyStats(this.n_components, this.n_features, this.covariance_type);
    sequences.forEach((s, i) => accumulate(stats, s, posteriors[i]!, this.n_components, this.covariance_type));
    reestimate(this.gaussians(), stats, this.covars_prior, update);
  }

  protected sampleEmission(state: number, random: () => number): Float64Array {
    return sampleGaussian(this.gaussians(), state, random);
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
