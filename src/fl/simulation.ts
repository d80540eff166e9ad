/**
 * `verge fl simulate`: a whole federation in one process. The training split is partitioned over
 * K virtual clients (each keeps a local hold-out), one ClientTrainer (one onnxruntime training
 * session) serves them all, and the coordinator drives R rounds through the strategy exactly as the
 * control plane does over the fleet: configureFit → local fits → uploads through the real update
 * codec and the server's acceptance gate → aggregateFit → configureEvaluate/aggregateEvaluate, plus
 * a server-side evaluation of the global model on the test split.
 */
import type { Dataset } from '../data/browser.ts';
import { isVergeError, VergeError } from '../errors.ts';
import type { Model } from '../onnx/browser.ts';
import { holdOut, type OptimizerOptions } from '../train/browser.ts';
import { fp32UpdateBytes } from '../protocol/browser.ts';
import { acceptUpdate } from './accept.ts';
import { ClientTrainer, DEFAULT_CLIENT_OPTIMIZER } from './client.ts';
import { describeCompression, UpdateCompressor, type CompressionSpec } from './compress/index.ts';
import { partitionIndices, selectSamples, type PartitionSpec } from './partition.ts';
import { DpFedAvg } from './privacy/dp-fedavg.ts';
import { seededRandom } from './random.ts';
import { secureAggregate } from './secagg/round.ts';
import { l2norm, weightedMean } from './weights.ts';
import { createStrategy } from './strategy/index.ts';
import type { ClientLrSchedule } from './strategy/names.ts';
import type { ClientConfig, EvaluateResult, Failure, FitResult, Strategy, StrategyState } from './strategy/strategy.ts';

export interface SimulationOptions {
  model: Model;
  data: Dataset;
  clients: number;
  partition: PartitionSpec;
  rounds: number;
  /** Strategy spec (`fedavg`, `fedprox:0.01`, …). Default fedavg. */
  strategy?: string;
  fractionFit?: number;
  minFitClients?: number;
  fractionEvaluate?: number;
  localEpochs?: number;
  /** Local optimizer steps per round instead of epochs (the same work for every client, whatever its data). */
  localSteps?: number;
  batchSize?: number;
  /** Client learning rate (default: the client optimizer's). */
  lr?: number;
  /** Round r's client lr is lr · lrDecay^(r − 1), sent in the fit config (default 1: constant). */
  lrDecay?: number;
  /** Floor of the decaying rate: round r's client lr is max(lrMin, lr · lrDecay^(r − 1)) (default: none). */
  lrMin?: number;
  /**
   * Shape of the client rate: 'exp' (default; lr · lrDecay^(r − 1)) or 'cosine' (lr to lrMin, default 0, over
   * `rounds`: FedAvgOptions.clientLrSchedule).
   */
  lrSchedule?: ClientLrSchedule;
  clientOptimizer?: OptimizerOptions;
  /** Clients keep the classifier head fixed and train the body only (ClientTrainerOptions.freezeHead). */
  freezeHead?: boolean;
  /** FedRS's α: clients scale the logits of classes they lack by α in their loss (label-skew.ts). */
  restrictedSoftmax?: number;
  /** FedLC-style τ: clients lower class c's logit by τ·n_c^(−1/4) in their loss (label-skew.ts). */
  logitCalibration?: number;
  compress?: CompressionSpec;
  secureAgg?: boolean;
  dp?: { clip: number; noiseMultiplier: number; delta?: number };
  /** Clients (the first M by id) that send their update sign-flipped and scaled ×MALICIOUS_SCALE. */
  malicious?: number;
  /** Clients per round that drop after training (secure aggregation: after sharing keys). */
  dropPerRound?: number;
  /** Fraction of each client's samples kept for its local evaluation. Default 0.1. */
  holdout?: number;
  seed?: number;
  threads?: number;
  onRound?: (r: RoundReport) => void;
  /** Called after each client's local fit (progress within a round). */
  onClient?: (round: number, done: number, total: number) => void;
  /**
   * Continue a stopped run: `model` holds the global weights after round `afterRound` and
   * `strategyState` the strategy's state then (`Strategy.getState`; FedAvg has none). Rounds
   * afterRound + 1 … rounds run as they would have in one go (each client's local seed, the lr
   * schedule and the sampling depend on the round only). Not with --compress or DP: their state
   * (error feedback, rounding streams, the accountant, the noise stream) is not checkpointed.
   */
  resume?: { afterRound: number; strategyState?: StrategyState };
  /** Called after each round: what `resume` needs to continue from there. */
  onCheckpoint?: (c: SimulationCheckpoint) => void;
}

export interface SimulationCheckpoint {
  round: number;
  strategyState: StrategyState;
  /** The global model after this round (built on demand). */
  model: () => Model;
}

/** The attack of the robustness benchmark: the update reversed and blown up (Baruch et al. style). */
export const MALICIOUS_SCALE = -10;

export interface RoundReport {
  round: number;
  /** Global model on the server's test split. */
  accuracy: number;
  loss: number;
  /** Federated evaluation: example-weighted mean over the clients' hold-outs. */
  client_accuracy: number | null;
  clients: number;
  failures: { client: string; reason: string }[];
  uplink_bytes: number;
  uplink_bytes_fp32: number;
  seconds: number;
  /** The client lr the round's fit config carried (absent when the config has none: the clients' default). */
  client_lr?: number;
  epsilon?: number;
  /**
   * Client drift of the round (plain rounds): the example-weighted mean L2 norm of the client
   * updates and the norm of their weighted mean. Their ratio is 1 when every client moves the same
   * way and falls toward 0 as clients pull apart (what many local steps on skewed labels do).
   */
  drift?: { update_norm: number; aggregate_norm: number };
}

export interface SimulationResult {
  final: { accuracy: number; loss: number };
  rounds: RoundReport[];
  uplink_bytes: number;
  uplink_bytes_fp32: number;
  epsilon?: number;
  delta?: number;
  strategy: string;
  compression: string;
  clients: { id: string; train: number; holdout: number }[];
  weights: Float32Array;
  model: Model;
}

interface VirtualClient {
  id: string;
  index: number;
  data: Dataset;
  compressor: UpdateCompressor;
}

interface Federation {
  opts: SimulationOptions;
  trainer: ClientTrainer;
  strategy: Strategy;
  clients: Map<string, VirtualClient>;
  seed: number;
}

function buildClients(opts: SimulationOptions, seed: number): VirtualClient[] {
  const parts = partitionIndices(opts.data.train.y, opts.clients, opts.partition, seed);
  const compress = opts.compress ?? { kind: 'none', deflate: false };
  return parts.map((idx, k) => {
    const local = selectSamples(opts.data.train, idx);
    const fraction = opts.holdout ?? 0.1;
    const { train, validation: test } =
      fraction > 0 && local.count >= 2
        ? holdOut(local, fraction, seed + k)
        : { train: local, validation: selectSamples(local, []) };
    return {
      id: `client-${String(k).padStart(3, '0')}`,
      index: k,
      data: { ...opts.data, name: `${opts.data.name} client ${k}`, train, test },
      compressor: new UpdateCompressor(compress, seededRandom(seed * 31 + k)),
    };
  });
}

function buildStrategy(opts: SimulationOptions, seed: number): Strategy {
  const decay = opts.lrDecay ?? 1;
  const scheduled = decay < 1 || opts.lrSchedule === 'cosine';
  // a scheduled rate needs its base in the config: the client optimizer's own when no lr is given
  const lr = opts.lr ?? (scheduled ? (opts.clientOptimizer?.lr ?? DEFAULT_CLIENT_OPTIMIZER.lr) : undefined);
  const fitConfig: ClientConfig = {
    local_epochs: opts.localEpochs ?? 1,
    ...(opts.localSteps !== undefined ? { local_steps: opts.localSteps } : {}),
    batch_size: opts.batchSize ?? 32,
    ...(lr !== undefined ? { lr } : {}),
    ...(opts.restrictedSoftmax !== undefined ? { restricted_softmax: opts.restrictedSoftmax } : {}),
    ...(opts.logitCalibration !== undefined ? { logit_calibration: opts.logitCalibration } : {}),
  };
  const base = {
    fractionFit: opts.fractionFit ?? 1,
    fractionEvaluate: opts.fractionEvaluate ?? 1,
    minFitClients: Math.min(opts.minFitClients ?? 2, opts.clients),
    minEvaluateClients: Math.min(2, opts.clients),
    minAvailableClients: Math.min(2, opts.clients),
    fitConfig,
    clientLrDecay: decay,
    ...(opts.lrMin !== undefined ? { clientLrMin: opts.lrMin } : {}),
    ...(opts.lrSchedule !== undefined ? { clientLrSchedule: opts.lrSchedule, clientLrRounds: opts.rounds } : {}),
    seed,
  };
  const inner = createStrategy(opts.strategy ?? 'fedavg', base);
  if (!opts.dp) return inner;
  return new DpFedAvg(inner, {
    clip: opts.dp.clip,
    noiseMultiplier: opts.dp.noiseMultiplier,
    population: opts.clients,
    ...(opts.dp.delta !== undefined ? { delta: opts.dp.delta } : {}),
    // seeded in simulation for reproducible experiments; devices and servers use secureRandom
    random: seededRandom(seed ^ 0x0d9),
  });
}

function validate(opts: SimulationOptions): void {
  const whole = (name: string, v: number | undefined, min: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min))
      throw new VergeError('E_BAD_ARGUMENT', `${name} must be a whole number ≥ ${min}, got ${v}`);
  };
  whole('--clients', opts.clients, 1);
  whole('--rounds', opts.rounds, 1);
  whole('--malicious', opts.malicious, 0);
  whole('--drop', opts.dropPerRound, 0);
  whole('--local-epochs', opts.localEpochs, 1);
  whole('--local-steps', opts.localSteps, 1);
  if (opts.lrDecay !== undefined && !(opts.lrDecay > 0 && opts.lrDecay <= 1))
    throw new VergeError('E_BAD_ARGUMENT', `--lr-decay must be in (0, 1], got ${opts.lrDecay}`);
  if (opts.restrictedSoftmax !== undefined && !(opts.restrictedSoftmax >= 0 && opts.restrictedSoftmax <= 1))
    throw new VergeError('E_BAD_ARGUMENT', `--restricted-softmax must be in [0, 1], got ${opts.restrictedSoftmax}`);
  if (opts.logitCalibration !== undefined && !(opts.logitCalibration >= 0 && Number.isFinite(opts.logitCalibration)))
    throw new VergeError('E_BAD_ARGUMENT', `--logit-calibration must be ≥ 0, got ${opts.logitCalibration}`);
  if ((opts.malicious ?? 0) > opts.clients)
    throw new VergeError('E_BAD_ARGUMENT', `--malicious ${opts.malicious} exceeds --clients ${opts.clients}`);
  if (opts.secureAgg && opts.compress && opts.compress.kind !== 'none')
    throw new VergeError('E_BAD_ARGUMENT', '--secure-agg masks dense updates; it cannot be combined with --compress');
  if (opts.resume) {
    const after = opts.resume.afterRound;
    if (!(Number.isInteger(after) && after >= 0 && after < opts.rounds))
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `resume after round ${after}: must be a whole number below ${opts.rounds}`,
      );
    if ((opts.compress && opts.compress.kind !== 'none') || opts.dp)
      throw new VergeError('E_BAD_ARGUMENT', 'a run with --compress or DP cannot be resumed (its state is not kept)');
  }
}

/** One client's local round, uploaded through the codec and the server's gate. */
async function clientRound(
  fed: Federation,
  c: VirtualClient,
  round: number,
  global: Float32Array,
  config: ClientConfig,
): Promise<{ result?: FitResult; failure?: Failure; bytes: number }> {
  let r;
  try {
    r = await fed.trainer.fit(global, c.data, config, fed.seed * 1_000_003 + round * 1009 + c.index);
  } catch (e) {
    // a client whose training fails (e.g. diverges on a poisoned global model) is a failure of the
    // round, as over the fleet; the federation goes on
    if (!isVergeError(e)) throw e;
    return { failure: { client: c.id, reason: `${e.code}: ${e.message}` }, bytes: 0 };
  }
  let update = r.update;
  if (c.index < (fed.opts.malicious ?? 0)) update = update.map((v) => v * MALICIOUS_SCALE);
  if (fed.opts.secureAgg)
    return { result: { client: c.id, update, examples: r.examples, metrics: r.metrics }, bytes: 0 };
  const bytes = c.compressor.compress(update);
  const verdict = acceptUpdate(bytes, fed.trainer.layout.size);
  if (!verdict.ok)
    return { failure: { client: c.id, reason: `${verdict.code}: ${verdict.reason}` }, bytes: bytes.length };
  return {
    result: { client: c.id, update: verdict.update, examples: r.examples, metrics: r.metrics },
    bytes: bytes.length,
  };
}

/** Mean client update norm and the norm of the example-weighted mean update (RoundReport.drift). */
function driftOf(results: readonly FitResult[]): { update_norm: number; aggregate_norm: number } {
  const total = results.reduce((a, r) => a + r.examples, 0);
  const mean = weightedMean(
    results.map((r) => r.update),
    results.map((r) => r.examples),
  );
  const updateNorm = results.reduce((a, r) => a + l2norm(r.update) * r.examples, 0) / total;
  return { update_norm: updateNorm, aggregate_norm: l2norm(mean) };
}

async function fitRound(fed: Federation, round: number, global: Float32Array) {
  const infos = [...fed.clients.values()].map((c) => ({ id: c.id, examples: c.data.train.count }));
  const instructions = fed.strategy.configureFit(round, global, infos);
  const lr = instructions[0]?.config.lr;
  const clientLr = typeof lr === 'number' ? { clientLr: lr } : {};
  const drop = new Set(
    instructions.slice(0, Math.min(fed.opts.dropPerRound ?? 0, instructions.length)).map((i) => i.client),
  );
  const results: FitResult[] = [];
  const failures: Failure[] = [];
  let uplink = 0;
  let delivered = 0;
  for (const [k, ins] of instructions.entries()) {
    const c = fed.clients.get(ins.client)!;
    const out = await clientRound(fed, c, round, global, ins.config);
    fed.opts.onClient?.(round, k + 1, instructions.length);
    if (drop.has(c.id) && !fed.opts.secureAgg) {
      failures.push({ client: c.id, reason: 'dropped before uploading (simulated)' });
      continue;
    }
    uplink += out.bytes;
    if (out.failure) failures.push(out.failure);
    if (out.result) {
      results.push(out.result);
      delivered++;
    }
  }
  if (!fed.opts.secureAgg)
    return {
      ...clientLr,
      results,
      failures,
      uplink,
      uplinkFp32: delivered * fp32UpdateBytes(global.length),
      ...(results.length > 0 ? { drift: driftOf(results) } : {}),
    };
  const secure = await secureAggregate(results, {
    context: `simulation/${fed.seed}/round-${round}`,
    dropAfterSharing: drop,
    uniform: !!fed.opts.dp,
  });
  for (const d of secure.dropped) failures.push({ client: d, reason: 'dropped after sharing keys (simulated)' });
  const aggregated: FitResult = {
    client: 'secure-aggregate',
    update: secure.mean,
    examples: results.filter((r) => !drop.has(r.client)).reduce((a, r) => a + r.examples, 0),
    metrics: {},
    contributors: secure.survivors.length,
  };
  return {
    ...clientLr,
    results: [aggregated],
    failures,
    uplink: secure.uplinkBytes,
    uplinkFp32: secure.survivors.length * fp32UpdateBytes(global.length),
  };
}

async function evaluateRound(fed: Federation, round: number, global: Float32Array) {
  const infos = [...fed.clients.values()].map((c) => ({ id: c.id }));
  const results: EvaluateResult[] = [];
  for (const ins of fed.strategy.configureEvaluate(round, global, infos)) {
    const c = fed.clients.get(ins.client)!;
    if (c.data.test.count === 0) continue;
    const e = await fed.trainer.evaluate(global, c.data, c.data.test);
    results.push({ client: c.id, loss: e.loss, examples: e.examples, metrics: { accuracy: e.accuracy } });
  }
  const federated = fed.strategy.aggregateEvaluate(round, results, []);
  const central = await fed.trainer.evaluate(global, fed.opts.data, fed.opts.data.test);
  return { central, clientAccuracy: federated.metrics.accuracy ?? null };
}

export async function simulate(opts: SimulationOptions): Promise<SimulationResult> {
  validate(opts);
  const seed = opts.seed ?? 0;
  const trainer = await ClientTrainer.create(opts.model, {
    ...(opts.clientOptimizer ? { optimizer: opts.clientOptimizer } : {}),
    ...(opts.threads ? { threads: opts.threads } : {}),
    ...(opts.freezeHead ? { freezeHead: true } : {}),
  });
  try {
    const strategy = buildStrategy(opts, seed);
    if (opts.secureAgg && !strategy.linear)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `--secure-agg needs a mean-based strategy; '${strategy.name}' reads individual updates`,
      );
    const clients = buildClients(opts, seed);
    const fed: Federation = { opts, trainer, strategy, clients: new Map(clients.map((c) => [c.id, c])), seed };
    let global = strategy.initialize(trainer.initialWeights());
    if (opts.resume) strategy.setState(opts.resume.strategyState ?? {});
    const rounds: RoundReport[] = [];
    for (let round = (opts.resume?.afterRound ?? 0) + 1; round <= opts.rounds; round++) {
      const started = performance.now();
      const fitted = await fitRound(fed, round, global);
      if (fitted.results.length > 0)
        global = strategy.aggregateFit(round, global, fitted.results, fitted.failures).weights;
      const ev = await evaluateRound(fed, round, global);
      const report: RoundReport = {
        round,
        accuracy: ev.central.accuracy,
        loss: ev.central.loss,
        client_accuracy: ev.clientAccuracy,
        clients: fitted.results.reduce((a, r) => a + (r.contributors ?? 1), 0),
        failures: fitted.failures,
        uplink_bytes: fitted.uplink,
        uplink_bytes_fp32: fitted.uplinkFp32,
        seconds: (performance.now() - started) / 1000,
        ...(fitted.clientLr !== undefined ? { client_lr: fitted.clientLr } : {}),
        ...('drift' in fitted && fitted.drift ? { drift: fitted.drift } : {}),
        ...(strategy instanceof DpFedAvg ? { epsilon: strategy.privacy().epsilon } : {}),
      };
      rounds.push(report);
      opts.onRound?.(report);
      const after = global;
      opts.onCheckpoint?.({ round, strategyState: strategy.getState(), model: () => trainer.exportModel(after) });
    }
    const last = rounds[rounds.length - 1]!;
    const privacy = strategy instanceof DpFedAvg ? strategy.privacy() : undefined;
    return {
      final: { accuracy: last.accuracy, loss: last.loss },
      rounds,
      uplink_bytes: rounds.reduce((a, r) => a + r.uplink_bytes, 0),
      uplink_bytes_fp32: rounds.reduce((a, r) => a + r.uplink_bytes_fp32, 0),
      ...(privacy ? { epsilon: privacy.epsilon, delta: privacy.delta } : {}),
      strategy: strategy.name,
      compression: describeCompression(opts.compress ?? { kind: 'none', deflate: false }),
      clients: clients.map((c) => ({ id: c.id, train: c.data.train.count, holdout: c.data.test.count })),
      weights: global,
      model: trainer.exportModel(global),
    };
  } finally {
    await trainer.release();
  }
}
