/** hmmlearn's GaussianHMM: one multivariate Gaussian per state, diagonal or full covariance. */
import { VergeError } from '../errors.ts';
import { accumulate, checkCovars, emptyStats, reestimate } from './gaussian.ts';
import { GaussianEmissionHMM, sampleGaussian, type GaussianEmissionOptions } from './gaussian-emissions.ts';
import { initialCovars, initialMeans } from './init.ts';
import { type Matrix } from './matrix.ts';

export type GaussianHMMOptions = GaussianEmissionOptions;

export class GaussianHMM extends GaussianEmissionHMM {
  constructor(opts: GaussianHMMOptions = {}) {
    super(opts, 'stmc');
  }

  protected get componentsPerState(): number {
    return 1;
  }

  frameLogProb(X: Matrix): Float64Array {
    return this.componentDensities(X);
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
