/**
 * DP-FedAvg (McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models"),
 * client-level differential privacy with fixed clipping, as a wrapper around any linear strategy
 * (Flower's DifferentialPrivacyClientSideFixedClipping has the same shape). Clients clip their
 * update to L2 norm C (the config carries `dp_clip`); the server re-clips what it can see, takes
 * the UNWEIGHTED mean over the m contributing clients and adds N(0, (z·C/m)²) per coordinate, then
 * hands the noisy mean to the wrapped strategy's server step. Every round is one sampled-Gaussian
 * step for the RDP accountant with q = clients per round / clients in the federation.
 */
import { VergeError } from '../../errors.ts';
import type { RandomSource } from '../random.ts';
import type {
  AggregateFitResult,
  ClientConfig,
  ClientInfo,
  Failure,
  FitInstruction,
  FitResult,
  Strategy,
} from '../strategy/strategy.ts';
import { StrategyWrapper } from '../strategy/wrapper.ts';
import { clipToNorm } from '../weights.ts';
import { RdpAccountant } from './rdp.ts';

/** δ reported with ε unless given: well below 1/N for federations up to 10⁵ clients. */
export const DEFAULT_DP_DELTA = 1e-5;

export interface DpOptions {
  /** Clipping norm C of each client update. */
  clip: number;
  /** Noise multiplier z: the noise standard deviation is z·C on the sum. */
  noiseMultiplier: number;
  /** Clients in the federation (sampling rate q = per-round clients / this). */
  population: number;
  delta?: number;
  random: RandomSource;
}

export class DpFedAvg extends StrategyWrapper {
  readonly name: string;
  readonly linear = true;
  readonly accountant = new RdpAccountant();
  readonly delta: number;

  constructor(
    inner: Strategy,
    readonly opts: DpOptions,
  ) {
    super(inner);
    if (!inner.linear)
      throw new VergeError('E_BAD_ARGUMENT', `DP-FedAvg needs a mean-based strategy; '${inner.name}' is not one`);
    if (!(opts.clip > 0)) throw new VergeError('E_BAD_ARGUMENT', `--dp-clip must be > 0, got ${opts.clip}`);
    if (!(opts.noiseMultiplier >= 0))
      throw new VergeError('E_BAD_ARGUMENT', `--dp-noise must be ≥ 0, got ${opts.noiseMultiplier}`);
    this.name = `dp-${inner.name}`;
    this.delta = opts.delta ?? DEFAULT_DP_DELTA;
  }

  override configureFit(round: number, global: Float32Array, clients: readonly ClientInfo[]): FitInstruction[] {
    return this.inner
      .configureFit(round, global, clients)
      .map((i) => ({ client: i.client, config: { ...i.config, dp_clip: this.opts.clip } }));
  }

  override fitConfig(round: number): ClientConfig {
    return { ...this.inner.fitConfig(round), dp_clip: this.opts.clip };
  }

  /** Standard deviation of the noise on the mean of m clipped updates. */
  noiseStd(m: number): number {
    return (this.opts.noiseMultiplier * this.opts.clip) / m;
  }

  override aggregateFit(
    round: number,
    global: Float32Array,
    results: readonly FitResult[],
    failures: readonly Failure[],
  ): AggregateFitResult {
    if (results.length === 0) throw new VergeError('E_CONFLICT', 'no client update to aggregate');
    // pre-summed results (secure aggregation) count as the clients behind them
    const m = results.reduce((a, r) => a + (r.contributors ?? 1), 0);
    const mean = new Float64Array(global.length);
    for (const r of results) {
      const u = r.update.slice();
      if ((r.contributors ?? 1) === 1) clipToNorm(u, this.opts.clip);
      const w = (r.contributors ?? 1) / m;
      for (let i = 0; i < u.length; i++) mean[i]! += w * u[i]!;
    }
    const std = this.noiseStd(m);
    const noisy = new Float32Array(global.length);
    for (let i = 0; i < noisy.length; i++) noisy[i] = mean[i]! + std * this.opts.random.normal();
    this.accountant.step(Math.min(1, m / this.opts.population), this.opts.noiseMultiplier);
    const r = this.inner.aggregateFit(
      round,
      global,
      [{ client: 'dp-mean', update: noisy, examples: 1, metrics: {} }],
      failures,
    );
    const { epsilon } = this.accountant.epsilon(this.delta);
    return { weights: r.weights, metrics: { ...r.metrics, epsilon, noise_std: std } };
  }

  /** (ε, δ) spent so far. */
  privacy(): { epsilon: number; delta: number; rounds: number } {
    return { epsilon: this.accountant.epsilon(this.delta).epsilon, delta: this.delta, rounds: this.accountant.rounds };
  }
}
