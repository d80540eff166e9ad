/**
 * A strategy that wraps another and changes one step of it (Flower's DP wrappers have this shape):
 * everything is delegated to the inner strategy; subclasses override what they change.
 */
import { VergeError } from '../../errors.ts';
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

/**
 * The name of `inner` with a modifier: modifiers read in the order they see the updates, so an
 * outer wrapper's tag goes before the inner ones (`median+clip+bucket` clips, then buckets).
 */
export function modifiedName(inner: string, tag: string): string {
  return inner.replace(/^[^+]*/, (base) => `${base}+${tag}`);
}

export abstract class StrategyWrapper implements Strategy {
  abstract readonly name: string;
  abstract readonly linear: boolean;
  readonly evaluate?: Strategy['evaluate'];

  constructor(readonly inner: Strategy) {
    if (inner.evaluate) this.evaluate = inner.evaluate.bind(inner);
  }

  initialize(initial: Float32Array): Float32Array {
    return this.inner.initialize(initial);
  }

  configureFit(round: number, global: Float32Array, clients: readonly ClientInfo[]): FitInstruction[] {
    return this.inner.configureFit(round, global, clients);
  }

  fitConfig(round: number): ClientConfig {
    return this.inner.fitConfig(round);
  }

  aggregateFit(
    round: number,
    global: Float32Array,
    results: readonly FitResult[],
    failures: readonly Failure[],
  ): AggregateFitResult {
    return this.inner.aggregateFit(round, global, results, failures);
  }

  configureEvaluate(round: number, global: Float32Array, clients: readonly ClientInfo[]): EvaluateInstruction[] {
    return this.inner.configureEvaluate(round, global, clients);
  }

  aggregateEvaluate(
    round: number,
    results: readonly EvaluateResult[],
    failures: readonly Failure[],
  ): AggregateEvaluateResult {
    return this.inner.aggregateEvaluate(round, results, failures);
  }

  getState(): StrategyState {
    return this.inner.getState();
  }

  setState(state: StrategyState): void {
    this.inner.setState(state);
  }
}

/**
 * A wrapper that transforms the round's updates before the inner strategy aggregates them (a
 * strategy modifier: `+clip`, `+bucket`). Such a wrapper needs the individual updates, so it is not
 * linear: no secure aggregation, no DP on top.
 */
export abstract class UpdateModifier extends StrategyWrapper {
  readonly name: string;
  readonly linear = false;

  constructor(inner: Strategy, tag: string) {
    super(inner);
    this.name = modifiedName(inner.name, tag);
  }

  /** The updates the inner strategy aggregates, and metrics to report with the round's. */
  protected abstract modify(
    round: number,
    results: readonly FitResult[],
  ): { results: FitResult[]; metrics: Record<string, number> };

  override aggregateFit(
    round: number,
    global: Float32Array,
    results: readonly FitResult[],
    failures: readonly Failure[],
  ): AggregateFitResult {
    if (results.length === 0) throw new VergeError('E_CONFLICT', 'no client update to aggregate');
    const modified = this.modify(round, results);
    const out = this.inner.aggregateFit(round, global, modified.results, failures);
    return { weights: out.weights, metrics: { ...out.metrics, ...modified.metrics } };
  }
}
