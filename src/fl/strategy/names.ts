/**
 * Names of the registered FL strategies (`--strategy`). Data only: the CLI lists them in its help
 * without loading the strategies; strategy.test.ts checks this list equals the registry's.
 */
export const STRATEGY_NAMES = Object.freeze([
  'fedavg',
  'fedavgm',
  'fedprox',
  'fedadam',
  'fedyogi',
  'fedadagrad',
  'median',
  'trimmed-mean',
  'meamed',
  'krum',
  'multi-krum',
] as const);

/** Shapes of the round-indexed client rate (`--lr-schedule`, FedAvgOptions.clientLrSchedule). */
export const CLIENT_LR_SCHEDULES = Object.freeze(['exp', 'cosine'] as const);
export type ClientLrSchedule = (typeof CLIENT_LR_SCHEDULES)[number];
