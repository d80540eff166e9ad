/**
 * Registry of FL strategies: one file per strategy (STYLE.md), one entry here. A spec names a
 * strategy and its main parameters: `fedavg`, `fedavgm[:β]`, `fedprox[:μ]`, `fedadam[:η[:τ]]`,
 * `fedyogi[:η[:τ]]`, `fedadagrad[:η[:τ]]`, `median`, `trimmed-mean[:β]`, `meamed[:f]`, `krum[:f]`,
 * `multi-krum[:f[:m]]`;
 * Modifiers after `+`, applied to the updates in the order written before the strategy aggregates:
 * `+clip[:K]` norm-bounds each update to K × the round's median norm (norm-bound.ts), `+bucket[:s]`
 * averages random buckets of s updates (bucketing.ts), `+nnm[:f]` replaces each update by the mean of
 * its n − f nearest (nnm.ts). E.g. `median+bucket`, `trimmed-mean:0.2+clip`.
 * strategy.test.ts fails when an entry has no hand-computed aggregation case.
 */
import { deepFreeze, FrozenMap } from '../../frozen.ts';
import { VergeError } from '../../errors.ts';
import { FedAdagrad } from './fedadagrad.ts';
import { FedAdam } from './fedadam.ts';
import { FedAvg, type FedAvgOptions } from './fedavg.ts';
import { FedAvgM } from './fedavgm.ts';
import { FEDOPT_DEFAULTS, type FedOptOptions } from './fedopt.ts';
import { FedProx } from './fedprox.ts';
import { FedYogi } from './fedyogi.ts';
import { DEFAULT_NNM_BYZANTINE, NearestNeighbourMixed } from './nnm.ts';
import { Krum } from './krum.ts';
import { MeanAroundMedian } from './mean-around-median.ts';
import { Median } from './median.ts';
import { DEFAULT_NORM_BOUND, NormBounded } from './norm-bound.ts';
import { Bucketed, DEFAULT_BUCKET_SIZE } from './bucketing.ts';
import type { Strategy } from './strategy.ts';
import { TrimmedMean } from './trimmed-mean.ts';

export interface StrategyEntry {
  readonly name: string;
  /** One line for --help: what it does and its spec parameters. */
  readonly summary: string;
  /** Spec parameters after the name, in order (for messages). */
  readonly params: readonly string[];
  create(args: number[], base: FedAvgOptions): Strategy;
}

const entry = (
  name: string,
  summary: string,
  params: readonly string[],
  create: StrategyEntry['create'],
): StrategyEntry => ({
  name,
  summary,
  params,
  create,
});

/** A server optimizer (fedopt.ts): spec parameters server lr η and adaptivity τ. */
const fedOptEntry = (name: string, what: string, Opt: new (o: FedOptOptions) => Strategy): StrategyEntry =>
  entry(
    name,
    `${what} on the mean update, server lr η (default ${FEDOPT_DEFAULTS.serverLr}), τ (default ${FEDOPT_DEFAULTS.tau})`,
    ['server_lr', 'tau'],
    ([lr, tau], b) =>
      new Opt({ ...b, ...(lr !== undefined ? { serverLr: lr } : {}), ...(tau !== undefined ? { tau } : {}) }),
  );

export const STRATEGIES: ReadonlyMap<string, StrategyEntry> = new FrozenMap(
  [
    entry('fedavg', 'example-weighted mean of updates', [], (_a, b) => new FedAvg(b)),
    entry(
      'fedavgm',
      'FedAvg with server momentum β (default 0.9)',
      ['momentum'],
      ([m], b) => new FedAvgM({ ...b, ...(m !== undefined ? { momentum: m } : {}) }),
    ),
    entry(
      'fedprox',
      'FedAvg with the proximal term μ/2·‖w − w_global‖² on clients (default μ 0.01)',
      ['mu'],
      ([mu], b) => new FedProx({ ...b, ...(mu !== undefined ? { mu } : {}) }),
    ),
    fedOptEntry('fedadam', 'server Adam', FedAdam),
    fedOptEntry('fedyogi', 'server Yogi', FedYogi),
    fedOptEntry('fedadagrad', 'server Adagrad', FedAdagrad),
    entry('median', 'coordinate-wise median of updates (robust)', [], (_a, b) => new Median(b)),
    entry(
      'trimmed-mean',
      'coordinate-wise mean without the β largest and smallest (default β 0.2; robust)',
      ['beta'],
      ([beta], b) => new TrimmedMean({ ...b, ...(beta !== undefined ? { beta } : {}) }),
    ),
    entry(
      'meamed',
      'coordinate-wise mean of the n − f values closest to the median (default f 2; robust)',
      ['byzantine'],
      ([f], b) => new MeanAroundMedian({ ...b, ...(f !== undefined ? { byzantine: f } : {}) }),
    ),
    entry(
      'krum',
      'the update closest to its n − f − 2 neighbours (default f 2; robust)',
      ['byzantine'],
      ([f], b) => new Krum({ ...b, ...(f !== undefined ? { byzantine: f } : {}), keep: 1 }),
    ),
    entry(
      'multi-krum',
      'mean of the m best Krum-scored updates (default f 2, m = n − f)',
      ['byzantine', 'keep'],
      ([f, m], b) => new Krum({ ...b, byzantine: f ?? 2, keep: m ?? 'n-f' }),
    ),
  ].map((e) => [e.name, deepFreeze(e)]),
);

export function strategyNames(): string[] {
  return [...STRATEGIES.keys()];
}

/** Build a strategy from a spec like `fedprox:0.1` or `trimmed-mean:0.2+clip`. */
export function createStrategy(spec: string, base: FedAvgOptions = {}): Strategy {
  const [main = '', ...modifiers] = spec.trim().toLowerCase().split('+');
  let strategy = baseStrategy(main, base);
  // the first modifier written sees the updates first, so it wraps outermost
  for (const m of modifiers.reverse()) {
    const [mod = '', arg, ...more] = m.split(':');
    const known = MODIFIERS[mod];
    if (!known || more.length > 0)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `unknown strategy modifier '+${m}' in '${spec}' (known: ${Object.keys(MODIFIERS)
          .map((k) => `+${k}[:${MODIFIERS[k]!.param}]`)
          .join(', ')})`,
      );
    const value = arg === undefined ? known.default : Number(arg);
    if (arg === '' || !Number.isFinite(value))
      throw new VergeError('E_BAD_ARGUMENT', `+${mod}:${known.param}: ${known.param} must be a number, got '${arg}'`);
    strategy = known.wrap(strategy, value);
  }
  return strategy;
}

/** Strategy modifiers: wrappers that transform the round's updates before the strategy aggregates. */
const MODIFIERS: Record<string, { param: string; default: number; wrap(s: Strategy, v: number): Strategy }> = {
  clip: { param: 'K', default: DEFAULT_NORM_BOUND, wrap: (s, k) => new NormBounded(s, k) },
  bucket: { param: 's', default: DEFAULT_BUCKET_SIZE, wrap: (s, size) => new Bucketed(s, size) },
  nnm: { param: 'f', default: DEFAULT_NNM_BYZANTINE, wrap: (s, f) => new NearestNeighbourMixed(s, f) },
};

function baseStrategy(spec: string, base: FedAvgOptions): Strategy {
  const [name = '', ...rest] = spec.split(':');
  const e = STRATEGIES.get(name);
  if (!e) throw new VergeError('E_BAD_ARGUMENT', `unknown strategy '${name}' (known: ${strategyNames().join(', ')})`);
  if (rest.length > e.params.length)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `strategy ${name} takes ${e.params.length ? e.params.join(', ') : 'no parameters'}; got '${spec}'`,
    );
  const args = rest.map((r, i) => {
    const v = Number(r);
    if (r === '' || !Number.isFinite(v))
      throw new VergeError('E_BAD_ARGUMENT', `strategy ${name}: ${e.params[i]} must be a number, got '${r}'`);
    return v;
  });
  return e.create(args, base);
}
