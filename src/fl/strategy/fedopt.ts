/**
 * FedOpt (Reddi et al. 2021, "Adaptive Federated Optimization"): the mean client update Δ is a
 * pseudo-gradient for a server optimizer. m ← β₁·m + (1−β₁)·Δ; v is updated per variant
 * (FedAdam, FedYogi, FedAdagrad); w ← w + η·m / (√v + τ). No bias correction, as in the paper.
 */
import { VergeError } from '../../errors.ts';
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import type { StrategyState } from './strategy.ts';

export interface FedOptOptions extends FedAvgOptions {
  /**
   * Server learning rate η. Default 0.03: the best of a sweep on Fashion-MNIST, 10 Dirichlet-0.3 clients
   * (bench/results/fl-fedopt-sweep.json, η 0.01–0.3 × τ 1e-9–1e-2); 0.01 lags FedAvg, 0.1 oscillates,
   * 0.3 and Flower's 0.1 with τ 1e-9 diverge. The first steps are about η per weight (no bias correction).
   */
  serverLr?: number;
  beta1?: number;
  beta2?: number;
  /** Adaptivity τ: floor of the denominator. Default 1e-3 (the paper's tuned range). */
  tau?: number;
}

export const FEDOPT_DEFAULTS = Object.freeze({ serverLr: 0.03, beta1: 0.9, beta2: 0.99, tau: 1e-3 } as const);

export abstract class FedOpt extends FedAvg {
  readonly serverLr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly tau: number;
  private m?: Float32Array;
  private v?: Float32Array;

  constructor(opts: FedOptOptions = {}) {
    super(opts);
    this.serverLr = opts.serverLr ?? FEDOPT_DEFAULTS.serverLr;
    this.beta1 = opts.beta1 ?? FEDOPT_DEFAULTS.beta1;
    this.beta2 = opts.beta2 ?? FEDOPT_DEFAULTS.beta2;
    this.tau = opts.tau ?? FEDOPT_DEFAULTS.tau;
    if (!(this.serverLr > 0)) throw new VergeError('E_BAD_ARGUMENT', `server lr must be > 0, got ${this.serverLr}`);
    for (const [k, b] of [
      ['beta1', this.beta1],
      ['beta2', this.beta2],
    ] as const)
      if (!(b >= 0 && b < 1)) throw new VergeError('E_BAD_ARGUMENT', `${k} must be in [0, 1), got ${b}`);
    if (!(this.tau > 0)) throw new VergeError('E_BAD_ARGUMENT', `tau must be > 0, got ${this.tau}`);
  }

  /** The second-moment update of one coordinate: v, the pseudo-gradient d, its square d². */
  protected abstract secondMoment(v: number, d2: number): number;

  protected override serverStep(global: Float32Array, delta: Float32Array): Float32Array {
    const m = this.m ?? new Float32Array(delta.length);
    const v = this.v ?? new Float32Array(delta.length);
    const out = new Float32Array(global.length);
    for (let i = 0; i < delta.length; i++) {
      const d = delta[i]!;
      m[i] = this.beta1 * m[i]! + (1 - this.beta1) * d;
      v[i] = this.secondMoment(v[i]!, d * d);
      out[i] = global[i]! + (this.serverLr * m[i]!) / (Math.sqrt(v[i]!) + this.tau);
    }
    this.m = m;
    this.v = v;
    return out;
  }

  override getState(): StrategyState {
    return this.m && this.v ? { m: this.m.slice(), v: this.v.slice() } : {};
  }

  override setState(state: StrategyState): void {
    this.m = state.m?.slice();
    this.v = state.v?.slice();
  }
}
