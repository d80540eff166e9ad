/**
 * fl/: federated learning (docs/fl.md), shaped like Flower: a Strategy with four verbs (configure
 * fit, aggregate fit, configure evaluate, aggregate evaluate), one class per strategy.
 *
 *   const r = await simulate({ model, data, clients: 10, partition: parsePartition('dirichlet:0.3'),
 *                              rounds: 20, strategy: 'fedavg' });
 *   r.final.accuracy; r.rounds; r.uplink_bytes; r.model;   // the aggregated ONNX model
 *
 * Strategies: createStrategy('fedavg'|'fedavgm'|'fedprox'|'fedadam'|'fedyogi'|'fedadagrad'|'median'|
 * 'trimmed-mean'|'krum'…) over STRATEGIES; DpFedAvg wraps one with clipping and noise (RDP accountant).
 * Update compression: parseCompression('int8'|'topk:0.1') + UpdateCompressor. Secure aggregation:
 * secureAggregate. Over a fleet, the control plane's FL plugin and the agent's FlParticipant run it.
 */
export type {
  Strategy,
  StrategyState,
  ClientConfig,
  ClientInfo,
  FitInstruction,
  FitResult as ClientFitResult,
  EvaluateInstruction,
  EvaluateResult as ClientEvaluateResult,
  Failure,
  AggregateFitResult,
  AggregateEvaluateResult,
} from './strategy/strategy.ts';
export { STRATEGIES, strategyNames, createStrategy, type StrategyEntry } from './strategy/index.ts';
export { CLIENT_LR_SCHEDULES, STRATEGY_NAMES, type ClientLrSchedule } from './strategy/names.ts';
export { FedAvg, FEDAVG_DEFAULTS, weightedMetrics, type FedAvgOptions } from './strategy/fedavg.ts';
export { FedAvgM } from './strategy/fedavgm.ts';
export { FedProx, FEDPROX_DEFAULT_MU } from './strategy/fedprox.ts';
export { FedOpt, FEDOPT_DEFAULTS, type FedOptOptions } from './strategy/fedopt.ts';
export { FedAdam } from './strategy/fedadam.ts';
export { FedYogi } from './strategy/fedyogi.ts';
export { FedAdagrad } from './strategy/fedadagrad.ts';
export { Median } from './strategy/median.ts';
export { TrimmedMean } from './strategy/trimmed-mean.ts';
export { Krum, krumScores, type KrumOptions } from './strategy/krum.ts';
export { DpFedAvg, DEFAULT_DP_DELTA, type DpOptions } from './privacy/dp-fedavg.ts';
export { epsilonFromRdp, rdpSampledGaussian } from './privacy/rdp.ts';
export {
  simulate,
  MALICIOUS_SCALE,
  type SimulationOptions,
  type SimulationResult,
  type RoundReport,
} from './simulation.ts';
export {
  ClientTrainer,
  CLIENT_DEFAULTS,
  DEFAULT_CLIENT_OPTIMIZER,
  type ClientTrainerOptions,
  type LocalFitResult,
} from './client.ts';
export {
  parsePartition,
  describePartition,
  partitionIndices,
  selectSamples,
  classCounts,
  MIN_CLIENT_SAMPLES,
  type PartitionSpec,
} from './partition.ts';
export {
  parseCompression,
  describeCompression,
  UpdateCompressor,
  decompress,
  type CompressionSpec,
} from './compress/index.ts';
export {
  secureAggregate,
  SECAGG_MAX_CLIENTS,
  type SecureRoundOptions,
  type SecureRoundResult,
} from './secagg/round.ts';
export { acceptUpdate, requireUpdate, type UpdateVerdict } from './accept.ts';
export { modelLayout, weightsOf, withWeights, layoutDigest } from './model-weights.ts';
export { accuracyChartSvg, type PlotSeries } from './plot.ts';
export { fractionBits } from './secagg/fixed-point.ts';
export { type AdvertiseKeys, type SecAggParams, type ShareKeys, type UnmaskShares } from './secagg/messages.ts';
export { SECAGG_BOUND, SECAGG_WEIGHT_CAP } from './secagg/round.ts';
export { SecAggServer } from './secagg/server.ts';
export { RdpAccountant } from './privacy/rdp.ts';
export { secureRandom } from './random.ts';
export { decodeStrategyState, encodeStrategyState } from './strategy/state-codec.ts';
export { type FitResult } from './strategy/strategy.ts';
export { clipToNorm, type WeightLayout } from './weights.ts';
export { SecAggClient } from './secagg/client.ts';
