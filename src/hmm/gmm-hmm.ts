/**
 * hmmlearn's GMMHMM: each state emits from a mixture of `n_mix` Gaussians. `weights_` [K, M],
 * `means_` [K, M, d], `covars_` [K, M, d] (diag) or [K, M, d, d] (full).
 */
import { VergeError } from '../errors.ts';
import { accumulate, checkCovars, emptyStats, reestimate } from './gaussian.ts';
import { GaussianEmissionHMM, sampleGaussian, type GaussianEmissionOptions } from './gaussian-emissions.ts';
import { initialCovars, segmentFrames } from './init.ts';
import { kmeans } from './kmeans.ts';
import { logSumExp, type Matrix } from './matrix.ts';

export interface GMMHMMOptions extends GaussianEmissionOptions {
  n_mix?: number;
}

export class GMMHMM extends GaussianEmissionHMM {
  n_mix: number;
  weights_: Float64Array = new Float64Array(0);

  constructor(opts: GMMHMMOptions = {}) {
    super(opts, 'stmcw');
    this.n_mix = opts.n_mix ?? 1;
    if (!(Number.isInteger(this.n_mix) && this.n_mix >= 1))
      throw new VergeError('E_BAD_ARGUMENT', `n_mix must be a positive integer, got ${opts.n_mix}`);
  }

  protected get componentsPerState(): number {
    return this.n_mix;
  }

  /** log w_km + log N(x_t | component km): [T, K·M]. */
  componentLogProb(X: Matrix): Float64Array {
    const c = this.componentDensities(X);
    const n = this.n_components * this.n_mix;
    for (let t = 0; t < X.rows; t++) for (let j = 0; j < n; j++) c[t * n + j]! += Math.log(this.weights_[j]!);
    return c;
  }

  frameLogProb(X: Matrix): Float64Array {
    const M = this.n_mix;
    const K = this.n_components;
    const c = this.componentLogProb(X);
    const out = new Float64Array(X.rows * K);
    for (let t = 0; t < X.rows; t++)
      for (let k = 0; k < K; k++) out[t * K + k] = logSumExp(c, (t * K + k) * M, (t * K + k + 1) * M);
    return out;
  }

  protected initEmissions(X: Matrix, sequences: Matrix[]): void {
    this.features = X.cols;
    const K = this.n_components;
    const M = this.n_mix;
    const d = X.cols;
    if (this.init_params.includes('w')) this.weights_ = new Float64Array(K * M).fill(1 / M);
    if (this.init_params.includes('m')) {
      // Frames per state (k-means clusters or uniform segments), then k-means of M within each.
      const groups =
        this.init_method === 'kmeans' ? clusterFrames(X, K, this.random_state) : segmentFrames(sequences, K);
      this.means_ = new Float64Array(K * M * d);
      groups.forEach((g, k) => this.means_.set(kmeans(g.rows >= M ? g : X, M, this.random_state + k + 1), k * M * d));
    }
    if (this.init_params.includes('c')) this.covars_ = initialCovars(X, K * M, this.covariance_type, this.min_covar);
  }

  protected checkEmissions(): void {
    const n = this.n_components * this.n_mix;
    if (this.weights_.length !== n)
      throw new VergeError('E_BAD_ARGUMENT', `weights_ must be ${this.n_components}×${this.n_mix}`);
    if (this.means_.length === 0 || this.means_.length % n !== 0)
      throw new VergeError('E_BAD_ARGUMENT', `means_ must be ${this.n_components}×${this.n_mix}×n_features`);
    checkCovars(this.gaussians(), 'GMMHMM');
  }

  protected emissionStep(sequences: Matrix[], posteriors: Float64Array[]): void {
    const K = this.n_components;
    const M = this.n_mix;
    const n = K * M;
    const stats = emptyStats(n, this.n_features, this.covariance_type);
    sequences.forEach((s, i) => {
      // γ_km(t) = γ_k(t) · w_km N_km(x_t) / Σ_m' w_km' N_km'(x_t)
      const c = this.componentLogProb(s);
      const gamma = posteriors[i]!;
      const w = new Float64Array(s.rows * n);
      for (let t = 0; t < s.rows; t++)
        for (let k = 0; k < K; k++) {
          const lse = logSumExp(c, (t * K + k) * M, (t * K + k + 1) * M);
          for (let m = 0; m < M; m++) w[t * n + k * M + m] = gamma[t * K + k]! * Math.exp(c[t * n + k * M + m]! - lse);
        }
      accumulate(stats, s, w, n, this.covariance_type);
    });
    if (this.params.includes('w')) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let m = 0; m < M; m++) s += stats.post[k * M + m]!;
        if (s > 0) for (let m = 0; m < M; m++) this.weights_[k * M + m] = stats.post[k * M + m]! / s;
      }
    }
    const update = { means: this.params.includes('m'), covars: this.params.includes('c') };
    if (update.means || update.covars) reestimate(this.gaussians(), stats, this.covars_prior, update);
  }

  protected sampleEmission(state: number, random: () => number): Float64Array {
    const M = this.n_mix;
    let r = random();
    let m = M - 1;
    for (let i = 0; i < M; i++) {
      r -= this.weights_[state * M + i]!;
      if (r < 0) {
        m = i;
        break;
      }
    }
    return sampleGaussian(this.gaussians(), state * M + m, random);
  }
}

/** Frames of X grouped by their nearest of k k-means centers. */
function clusterFrames(X: Matrix, k: number, seed: number): Matrix[] {
  const d = X.cols;
  const centers = kmeans(X, k, seed);
  const groups: number[][] = Array.from({ length: k }, () => []);
  for (let t = 0; t < X.rows; t++) {
    let best = 0;
    let bd = Infinity;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let m = 0; m < d; m++) s += (X.data[t * d + m]! - centers[j * d + m]!) ** 2;
      if (s < bd) {
        bd = s;
        best = j;
      }
    }
    for (let m = 0; m < d; m++) groups[best]!.push(X.data[t * d + m]!);
  }
  return groups.map((g) => ({ rows: g.length / d, cols: d, data: Float64Array.from(g) }));
}
