/**
 * FedAvg (McMahan et al. 2017): the global weights move by the mean of the client updates,
 * weighted by each client's example count. Also the base of the other strategies: client
 * sampling (fraction_fit, min_fit_clients, min_available_clients) and metric averaging live here.
 */
import { permutation } from '../../data/browser.ts';
import { VergeError } from '../../errors.ts';
import { add, weightedMean } from '../weights.ts';
import { CLIENT_LR_SCHEDULES, type ClientLrSchedule } from './names.ts';
import type {
  AggregateEvaluateResult,
  AggregateFitResult,
  ClientConfig,
  ClientInfo,
  EvaluateInstruction,
  EvaluateResult,
  Failure,
  FitInstruction,
  FitResult,
  Strategy,
  StrategyState,
} from './strategy.ts';

export interface FedAvgOptions {
  /** Fraction of the available clients asked to train each round (Flower's fraction_fit). Default 1. */
  fractionFit?: number;
  /** Fraction asked to evaluate (fraction_evaluate). Default 1. */
  fractionEvaluate?: number;
  /** At least this many train per round, whatever the fraction (min_fit_clients). Default 2. */
  minFitClients?: number;
  minEvaluateClients?: number;
  /** Fewer available clients than this and the round cannot start (min_available_clients). Default 2. */
  minAvailableClients?: number;
  /** Sent to every training client: local_epochs or local_steps, lr, batch_size, … */
  fitConfig?: ClientConfig;
  /**
   * Round-indexed client learning rate (Flower's `on_fit_config_fn` use): round r's fit config
   * carries lr · clientLrDecay^(r − 1), so client drift shrinks as the federation converges
   * (Li et al. 2020 show FedAvg on non-IID data needs a decaying rate). Needs `fitConfig.lr`.
   * Default 1 (a constant rate).
   */
  clientLrDecay?: number;
  /**
   * Floor of the decaying client rate: round r's lr is max(clientLrMin, lr · clientLrDecay^(r − 1)), so a
   * fast decay can leave the high-rate rounds early without spending the rate before the job ends.
   * Needs a decay below 1 and at most the base lr. Default: no floor.
   */
  clientLrMin?: number;
  /**
   * Shape of the client rate over the rounds: 'exp' (default) is the decay above; 'cosine' anneals
   * from lr to clientLrMin (default 0) over the job's `clientLrRounds` R: round r's lr is
   * min + (lr − min) · (1 + cos(π (r − 1) / R)) / 2 (SGDR's cosine with one step per round, Loshchilov &
   * Hutter 2017): round 1 trains at lr and round R just above min, so no round is spent at a zero rate.
   * Needs `fitConfig.lr` and R, and takes no decay.
   */
  clientLrSchedule?: ClientLrSchedule;
  /** The job's total rounds R, which a cosine schedule anneals over (rounds after R keep round R's rate). */
  clientLrRounds?: number;
  evaluateConfig?: ClientConfig;
  /** Seed of client sampling (a round's sample depends on seed and round only). */
  seed?: number;
  /** Server-side evaluation of the global weights (Flower's evaluate_fn). */
  evaluateFn?: Strategy['evaluate'];
}

/** Flower's defaults: everyone trains, at least two clients. */
export const FEDAVG_DEFAULTS = Object.freeze({
  fractionFit: 1,
  fractionEvaluate: 1,
  minFitClients: 2,
  minEvaluateClients: 2,
  minAvailableClients: 2,
} as const);

function fraction(name: string, v: number): number {
  if (!(v > 0 && v <= 1)) throw new VergeError('E_BAD_ARGUMENT', `${name} must be in (0, 1], got ${v}`);
  return v;
}

function count(name: string, v: number): number {
  if (!(Number.isInteger(v) && v >= 1))
    throw new VergeError('E_BAD_ARGUMENT', `${name} must be a whole number ≥ 1, got ${v}`);
  return v;
}

/** The client lr schedule of a strategy: shape, base lr (fit config), decay, floor, the job's rounds. */
interface LrSchedule {
  shape: ClientLrSchedule;
  lr: unknown;
  decay: number;
  min: number | undefined;
  rounds: number | undefined;
}

/**
 * Round r's client lr (r from 1), or undefined for a constant rate (the fit config's own lr, if any):
 * exp max(min, lr · decay^(r − 1)); cosine min + (lr − min) · (1 + cos(π (r − 1) / R)) / 2.
 */
function scheduledLr(s: LrSchedule, round: number): number | undefined {
  const lr = s.lr as number;
  const min = s.min ?? 0;
  if (s.shape === 'cosine') {
    const r = Math.min(round, s.rounds!);
    return min + ((lr - min) * (1 + Math.cos((Math.PI * (r - 1)) / s.rounds!))) / 2;
  }
  return s.decay < 1 ? Math.max(min, lr * s.decay ** (round - 1)) : undefined;
}

/** The cosine schedule's own needs: the job's rounds, no decay. */
function checkCosine(s: LrSchedule): void {
  if (s.rounds === undefined || !(Number.isInteger(s.rounds) && s.rounds >= 1))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `a cosine client lr schedule needs the job's rounds (a whole number ≥ 1), got ${s.rounds}`,
    );
  if (s.decay !== 1)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      'a cosine client lr schedule takes no lr decay (lr_decay); drop one of them',
    );
}

/** The client lr schedule's parameters, or a clear error (at strategy creation: simulate, fleet job creation). */
function checkLrSchedule(s: LrSchedule): void {
  if (!(CLIENT_LR_SCHEDULES as readonly string[]).includes(s.shape))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `unknown client lr schedule '${s.shape}' (expected ${CLIENT_LR_SCHEDULES.join(' or ')})`,
    );
  if (!(s.decay > 0 && s.decay <= 1))
    throw new VergeError('E_BAD_ARGUMENT', `the client lr decay must be in (0, 1], got ${s.decay}`);
  const scheduled = s.shape === 'cosine' || s.decay < 1;
  if (scheduled && !(typeof s.lr === 'number' && s.lr > 0))
    throw new VergeError('E_BAD_ARGUMENT', 'a client lr schedule needs the base client lr (> 0) in the fit config');
  if (s.shape === 'cosine') checkCosine(s);
  if (s.min === undefined) return;
  if (!(s.min > 0 && Number.isFinite(s.min)))
    throw new VergeError('E_BAD_ARGUMENT', `the client lr floor (lr_min) must be > 0, got ${s.min}`);
  if (!scheduled)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      'a client lr floor (lr_min) needs a client lr decay below 1 (lr_decay) or a cosine schedule',
    );
  if (s.min > (s.lr as number))
    throw new VergeError('E_BAD_ARGUMENT', `the client lr floor (lr_min ${s.min}) is above the base client lr ${s.lr}`);
}

/** Mean of each metric over results that report it, weighted by examples. */
export function weightedMetrics(
  results: readonly { examples: number; metrics: Record<string, number> }[],
): Record<string, number> {
  const sums = new Map<string, { s: number; w: number }>();
  for (const r of results) {
    for (const [k, v] of Object.entries(r.metrics)) {
      if (!Number.isFinite(v)) continue;
      const e = sums.get(k) ?? { s: 0, w: 0 };
      e.s += v * r.examples;
      e.w += r.examples;
      sums.set(k, e);
    }
  }
  const out: Record<string, number> = {};
  for (const [k, { s, w }] of sums) if (w > 0) out[k] = s / w;
  return out;
}

export class FedAvg implements Strategy {
  readonly name: string = 'fedavg';
  readonly linear: boolean = true;
  protected readonly opts: Required<Omit<FedAvgOptions, 'evaluateFn'>>;
  readonly evaluate?: Strategy['evaluate'];
  private readonly lrSchedule: LrSchedule;

  constructor(opts: FedAvgOptions = {}) {
    this.opts = {
      fractionFit: fraction('fraction_fit', opts.fractionFit ?? FEDAVG_DEFAULTS.fractionFit),
      fractionEvaluate: fraction('fraction_evaluate', opts.fractionEvaluate ?? FEDAVG_DEFAULTS.fractionEvaluate),
      minFitClients: count('min_fit_clients', opts.minFitClients ?? FEDAVG_DEFAULTS.minFitClients),
      minEvaluateClients: count('min_evaluate_clients', opts.minEvaluateClients ?? FEDAVG_DEFAULTS.minEvaluateClients),
      minAvailableClients: count(
        'min_available_clients',
        opts.minAvailableClients ?? FEDAVG_DEFAULTS.minAvailableClients,
      ),
      fitConfig: opts.fitConfig ?? {},
      clientLrDecay: opts.clientLrDecay ?? 1,
      clientLrMin: opts.clientLrMin ?? 0,
      clientLrSchedule: opts.clientLrSchedule ?? 'exp',
      clientLrRounds: opts.clientLrRounds ?? 0,
      evaluateConfig: opts.evaluateConfig ?? {},
      seed: opts.seed ?? 0,
    };
    this.lrSchedule = {
      shape: this.opts.clientLrSchedule,
      lr: this.opts.fitConfig.lr,
      decay: this.opts.clientLrDecay,
      min: opts.clientLrMin,
      rounds: opts.clientLrRounds,
    };
    checkLrSchedule(this.lrSchedule);
    if (opts.evaluateFn) this.evaluate = opts.evaluateFn;
  }

  get minFitClients(): number {
    return this.opts.minFitClients;
  }

  initialize(initial: Float32Array): Float32Array {
    return initial.slice();
  }

  /** A seeded sample of max(min, ⌊fraction·available⌋) clients (all of them when fewer are there). */
  protected sample(round: number, clients: readonly ClientInfo[], frac: number, min: number, salt: number): string[] {
    if (clients.length < this.opts.minAvailableClients) {
      throw new VergeError(
        'E_CONFLICT',
        `${clients.length} client(s) available; the strategy needs at least ${this.opts.minAvailableClients} (min_available_clients)`,
      );
    }
    const k = Math.min(clients.length, Math.max(min, Math.floor(clients.length * frac)));
    const order = permutation(clients.length, (this.opts.seed * 7919 + round * 2 + salt) >>> 0);
    return Array.from(order.subarray(0, k))
      .sort((a, b) => a - b)
      .map((i) => clients[i]!.id);
  }

  /** Config for one fitting client (round r's scheduled lr); FedProx adds its μ, DP its clipping norm. */
  protected fitConfigFor(round: number): ClientConfig {
    const config = { ...this.opts.fitConfig };
    const lr = scheduledLr(this.lrSchedule, round);
    if (lr !== undefined) config.lr = lr;
    return config;
  }

  fitConfig(round: number): ClientConfig {
    return { ...this.fitConfigFor(round), round };
  }

  configureFit(round: number, _global: Float32Array, clients: readonly ClientInfo[]): FitInstruction[] {
    const config = this.fitConfig(round);
    return this.sample(round, clients, this.opts.fractionFit, this.opts.minFitClients, 0).map((client) => ({
      client,
      config: { ...config },
    }));
  }

  /** The combined update of a round: FedAvg's example-weighted mean. Robust strategies override. */
  protected combine(results: readonly FitResult[]): Float32Array {
    return weightedMean(
      results.map((r) => r.update),
      results.map((r) => r.examples),
    );
  }

  /** How the server applies the combined update (FedAvgM and FedOpt override). */
  protected serverStep(global: Float32Array, delta: Float32Array): Float32Array {
    return add(global, delta);
  }

  aggregateFit(
    _round: number,
    global: Float32Array,
    results: readonly FitResult[],
    _failures: readonly Failure[],
  ): AggregateFitResult {
    if (results.length === 0) throw new VergeError('E_CONFLICT', 'no client update to aggregate');
    return { weights: this.serverStep(global, this.combine(results)), metrics: weightedMetrics(results) };
  }

  configureEvaluate(round: number, _global: Float32Array, clients: readonly ClientInfo[]): EvaluateInstruction[] {
    return this.sample(round, clients, this.opts.fractionEvaluate, this.opts.minEvaluateClients, 1).map((client) => ({
      client,
      config: { ...this.opts.evaluateConfig, round },
    }));
  }

  aggregateEvaluate(
    _round: number,
    results: readonly EvaluateResult[],
    _failures: readonly Failure[],
  ): AggregateEvaluateResult {
    const withExamples = results.filter((r) => r.examples > 0);
    if (withExamples.length === 0) return { loss: null, metrics: {} };
    const total = withExamples.reduce((a, r) => a + r.examples, 0);
    const loss = withExamples.reduce((a, r) => a + r.loss * r.examples, 0) / total;
    return { loss, metrics: weightedMetrics(withExamples) };
  }

  getState(): StrategyState {
    return {};
  }

  setState(_state: StrategyState): void {}
}
