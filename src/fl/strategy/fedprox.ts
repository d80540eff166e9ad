/**
 * FedProx (Li et al. 2020): FedAvg's aggregation, but every client adds the proximal term
 * μ/2·‖w − w_global‖² to its training loss so local training cannot drift far from the global
 * weights on skewed data. The term lives in the client's training graph; the strategy only sends μ.
 */
import { VergeError } from '../../errors.ts';
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import type { ClientConfig } from './strategy.ts';

export interface FedProxOptions extends FedAvgOptions {
  /** μ, the weight of the proximal term. Default 0.01 (the paper's range is 0.001–1). */
  mu?: number;
}

export const FEDPROX_DEFAULT_MU = 0.01;

export class FedProx extends FedAvg {
  override readonly name = 'fedprox';
  readonly mu: number;

  constructor(opts: FedProxOptions = {}) {
    super(opts);
    this.mu = opts.mu ?? FEDPROX_DEFAULT_MU;
    if (!(this.mu >= 0 && Number.isFinite(this.mu)))
      throw new VergeError('E_BAD_ARGUMENT', `FedProx μ must be ≥ 0, got ${this.mu}`);
  }

  protected override fitConfigFor(round: number): ClientConfig {
    return { ...super.fitConfigFor(round), proximal_mu: this.mu };
  }
}
