/**
 * The federated-learning Strategy, in the shape of Flower's `flwr.server.strategy.Strategy`: the
 * coordinator drives rounds and asks the strategy four things — whom to train and how
 * (configureFit), how to merge what came back (aggregateFit), whom to evaluate (configureEvaluate),
 * how to merge evaluations (aggregateEvaluate) — plus the starting weights (initialize) and an
 * optional server-side evaluation (evaluate).
 *
 * One difference from Flower: verge clients return their update (local − global weights), not their
 * weights, because compression, secure aggregation and DP all act on updates. aggregateFit therefore
 * also receives the current global weights.
 */

/** Scalars a strategy sends to clients with a fit or evaluate instruction (Flower's `config`). */
export type ClientConfig = Record<string, number | string | boolean>;

/** A client the coordinator can reach (Flower's ClientProxy, reduced to what strategies read). */
export interface ClientInfo {
  id: string;
  /** Examples the client reported holding (0 when unknown). */
  examples?: number;
}

export interface FitInstruction {
  client: string;
  config: ClientConfig;
}

export interface FitResult {
  client: string;
  /** Local weights minus the global weights the client started from, flat. */
  update: Float32Array;
  /** Training examples behind the update (FedAvg's weight). */
  examples: number;
  metrics: Record<string, number>;
  /**
   * Clients behind this result (default 1). Secure aggregation hands the strategy ONE result, the
   * mean of all survivors' updates, with contributors = how many they were.
   */
  contributors?: number;
}

export interface EvaluateInstruction {
  client: string;
  config: ClientConfig;
}

export interface EvaluateResult {
  client: string;
  loss: number;
  examples: number;
  metrics: Record<string, number>;
}

/** A client that did not deliver: why, for the round's report. */
export interface Failure {
  client: string;
  reason: string;
}

export interface AggregateFitResult {
  /** New global weights (flat). */
  weights: Float32Array;
  metrics: Record<string, number>;
}

export interface AggregateEvaluateResult {
  loss: number | null;
  metrics: Record<string, number>;
}

/** Server-optimizer state a strategy keeps between rounds (momentum, moments), for persistence. */
export type StrategyState = Record<string, Float32Array>;

export interface Strategy {
  /** Registry name (`fedavg`, `fedprox`, …). */
  readonly name: string;
  /**
   * True when aggregation is a weighted mean of updates followed by a server step: only such
   * strategies work with secure aggregation (the server sees the sum, never an update).
   */
  readonly linear: boolean;
  /** Global weights of round 1 (default: the model's own). */
  initialize(initial: Float32Array): Float32Array;
  configureFit(round: number, global: Float32Array, clients: readonly ClientInfo[]): FitInstruction[];
  /**
   * The config every fitting client of round `round` gets (configureFit's, without sampling: the lr
   * schedule, FedProx's μ and DP's clipping norm depend on the round only).
   */
  fitConfig(round: number): ClientConfig;
  aggregateFit(
    round: number,
    global: Float32Array,
    results: readonly FitResult[],
    failures: readonly Failure[],
  ): AggregateFitResult;
  configureEvaluate(round: number, global: Float32Array, clients: readonly ClientInfo[]): EvaluateInstruction[];
  aggregateEvaluate(
    round: number,
    results: readonly EvaluateResult[],
    failures: readonly Failure[],
  ): AggregateEvaluateResult;
  /** Server-side evaluation of the global weights on data the server holds (optional). */
  evaluate?(round: number, global: Float32Array): Promise<{ loss: number; metrics: Record<string, number> } | null>;
  /** Server-side state to persist between rounds (empty for stateless strategies). */
  getState(): StrategyState;
  setState(state: StrategyState): void;
}
