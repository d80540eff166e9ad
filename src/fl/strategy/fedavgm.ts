/**
 * FedAvgM (Hsu et al. 2019): FedAvg with server momentum. The combined update is accumulated into
 * a momentum buffer v ← β·v + Δ and the server moves by η·v, which damps the round-to-round swing
 * non-IID clients cause.
 */
import { VergeError } from '../../errors.ts';
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import type { StrategyState } from './strategy.ts';

export interface FedAvgMOptions extends FedAvgOptions {
  /** Server learning rate η. Default 1. */
  serverLr?: number;
  /** Server momentum β. Default 0.9 (the paper's best on non-IID data). */
  momentum?: number;
}

export class FedAvgM extends FedAvg {
  override readonly name = 'fedavgm';
  readonly serverLr: number;
  readonly momentum: number;
  private velocity?: Float32Array;

  constructor(opts: FedAvgMOptions = {}) {
    super(opts);
    this.serverLr = opts.serverLr ?? 1;
    this.momentum = opts.momentum ?? 0.9;
    if (!(this.serverLr > 0)) throw new VergeError('E_BAD_ARGUMENT', `server lr must be > 0, got ${this.serverLr}`);
    if (!(this.momentum >= 0 && this.momentum < 1))
      throw new VergeError('E_BAD_ARGUMENT', `server momentum must be in [0, 1), got ${this.momentum}`);
  }

  protected override serverStep(global: Float32Array, delta: Float32Array): Float32Array {
    const v = this.velocity ?? new Float32Array(delta.length);
    const out = new Float32Array(global.length);
    for (let i = 0; i < v.length; i++) {
      v[i] = this.momentum * v[i]! + delta[i]!;
      out[i] = global[i]! + this.serverLr * v[i]!;
    }
    this.velocity = v;
    return out;
  }

  override getState(): StrategyState {
    return this.velocity ? { velocity: this.velocity.slice() } : {};
  }

  override setState(state: StrategyState): void {
    this.velocity = state.velocity?.slice();
  }
}
