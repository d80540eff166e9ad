/**
 * Federated learning on Fashion-MNIST with the seed CNN (issue 9's benchmarks), every run through
 * src/fl/simulation.ts in this process, side by side:
 *   accuracy   FedAvg on 10 clients, Dirichlet α=0.3 and 2-class shards; FedProx, FedAdam and FedYogi on
 *              Dirichlet (same seed, partition and rounds: side by side); --accuracy-runs takes any
 *              strategy specs instead (a server-lr / τ sweep: fedadam:0.1:0.001,fedadam:0.03:0.01,…)
 *   compress   int8 and top-k 10% updates vs fp32 (uplink bytes, accuracy)
 *   secagg     one round, 10 clients, 2 dropping after sharing keys: aggregate vs plain, time and bytes
 *   dp         DP-FedAvg at three noise multipliers: accuracy vs (ε, δ)
 *   robust     2 of 10 clients sign-flipped ×10: FedAvg, median, trimmed mean, Krum, Multi-Krum and
 *              norm-bounded (+clip) variants vs the clean run; the robust aggregators also without attack
 *              (what non-IID data alone costs them)
 *   scale      100 clients, 10 per round: seconds per round
 *
 *   npm run bench -- fl [--quick] [--only accuracy,compress,…] [--rounds R] [--side-rounds R]
 *                       [--limit N] [--test N] [--threads N] [--name fl] [--accuracy-runs fedavg,shards,…]
 *                       [--robust-strategies S,S] [--robust-clean S,S] [--robust-partition P]
 *                       [--dp-noise Z,Z] [--dp-per-round M]
 *                       [--local-epochs E | --local-steps K] [--lr X] [--momentum M] [--lr-decay G] [--lr-min F]
 *                       [--lr-schedule exp|cosine] [--batch B]
 *                       [--weight-decay W]
 *                       [--freeze-head] [--restricted-softmax A] [--logit-calibration T]
 *                       [--checkpoint FILE] [--resume FILE]
 *
 * --quick: 6,000 training / 2,000 test samples, 3 rounds (minutes); the full run uses all 60,000 /
 * 10,000 samples and 30 rounds (hours on a 2-core machine). --limit/--test/--side-rounds make a
 * reduced run (the JSON's config says which). The FedAvg Dirichlet run of `accuracy` is also the
 * fp32 baseline of `compress` and the clean run of `robust` (same options, computed once). The
 * result file is rewritten after every section with the load averages so far. With one accuracy run
 * (`--only accuracy --accuracy-runs X`), --checkpoint FILE keeps the run's state after every round and
 * --resume FILE continues a stopped run from it (bench/fl-checkpoint.ts): the same run, in pieces.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { meanStd } from '../src/data/dataset.ts';
import { loadFashionMnist } from '../src/data/sources/fashion-mnist.ts';
import { parseCompression } from '../src/fl/compress/index.ts';
import { describePartition, parsePartition } from '../src/fl/partition.ts';
import { createStrategy } from '../src/fl/strategy/index.ts';
import type { ClientLrSchedule } from '../src/fl/strategy/names.ts';
import { FEDOPT_DEFAULTS } from '../src/fl/strategy/fedopt.ts';
import { simulate, type RoundReport, type SimulationOptions, type SimulationResult } from '../src/fl/simulation.ts';
import { buildArchitecture } from '../src/nn/architectures.ts';
import { readCheckpoint, writeCheckpoint, type CheckpointKey, type Resumed } from './fl-checkpoint.ts';
import { printTable, round, writeResult } from './lib.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    limit: { type: 'string' },
    test: { type: 'string' },
    'side-rounds': { type: 'string' },
    name: { type: 'string' },
    threads: { type: 'string', default: '2' },
    seed: { type: 'string', default: '0' },
    'accuracy-runs': { type: 'string' },
    'robust-strategies': { type: 'string' },
    'robust-clean': { type: 'string' },
    'robust-partition': { type: 'string' },
    'dp-noise': { type: 'string' },
    'dp-per-round': { type: 'string', default: '20' },
    // the client recipe of every run (defaults: 1 local epoch, SGD lr 0.05 momentum 0.9, batch 32, constant lr)
    'local-epochs': { type: 'string', default: '1' },
    'local-steps': { type: 'string' },
    lr: { type: 'string', default: '0.05' },
    momentum: { type: 'string', default: '0.9' },
    'lr-decay': { type: 'string', default: '1' },
    'lr-min': { type: 'string' },
    'lr-schedule': { type: 'string', default: 'exp' },
    batch: { type: 'string', default: '32' },
    'freeze-head': { type: 'boolean', default: false },
    'weight-decay': { type: 'string', default: '0' },
    'restricted-softmax': { type: 'string' },
    'logit-calibration': { type: 'string' },
    checkpoint: { type: 'string' },
    resume: { type: 'string' },
  },
});
const quick = values.quick!;
const rounds = Number(values.rounds ?? (quick ? 3 : 30));
const limit = values.limit ? Number(values.limit) : quick ? 6000 : undefined;
const sideRounds = Number(values['side-rounds'] ?? rounds);
const testCount = values.test ? Number(values.test) : quick ? 2000 : 10_000;
const resultName = values.name ?? (quick ? 'fl-quick' : 'fl');
const threads = Number(values.threads);
const seed = Number(values.seed);
const only = new Set((values.only ?? 'accuracy,compress,secagg,dp,robust,scale').split(','));
/**
 * Runs of the accuracy section, in order: `fedavg` (Dirichlet, the shared baseline), `shards` (FedAvg on
 * 2-class shards), or any strategy spec run on the Dirichlet partition (`fedadam:0.03:0.01`: a server
 * optimizer sweep). A long full-size run can be one of them.
 */
const accuracyRuns = [...new Set((values['accuracy-runs'] ?? 'fedavg,shards,fedprox,fedadam,fedyogi').split(','))];
/** The side-by-side strategies by their bare names, with the parameters they run at. */
const ACCURACY_STRATEGIES: Record<string, string> = {
  fedprox: 'fedprox:0.01',
  fedadam: `fedadam:${FEDOPT_DEFAULTS.serverLr}:${FEDOPT_DEFAULTS.tau}`,
  fedyogi: `fedyogi:${FEDOPT_DEFAULTS.serverLr}:${FEDOPT_DEFAULTS.tau}`,
};
// a bad spec fails here, not after the runs before it
for (const spec of accuracyRuns)
  if (spec !== 'fedavg' && spec !== 'shards') createStrategy(ACCURACY_STRATEGIES[spec] ?? spec);
if ((values.checkpoint || values.resume) && !(only.size === 1 && only.has('accuracy') && accuracyRuns.length === 1)) {
  process.stderr.write('fl bench: --checkpoint and --resume need one run: --only accuracy --accuracy-runs X\n');
  process.exit(2);
}

const data = loadFashionMnist(limit || values.test ? { train: limit ?? 60_000, test: testCount } : {});
const standardize = meanStd(data.train.x);
const model = buildArchitecture('cnn', { inputShape: data.shape, classes: data.classes, seed, standardize });
process.stderr.write(
  `fl bench: ${data.train.count}/${data.test.count} samples from ${data.source}, ${rounds} rounds\n`,
);

/**
 * The client recipe of every run (the flags; default 1 local epoch, SGD lr 0.05 momentum 0.9, batch
 * 32, constant rate). --local-steps K trains K steps per round instead of epochs; --lr-decay G sends
 * round r's clients lr · G^(r − 1) in the fit config, --lr-min F floors it: max(F, lr · G^(r − 1)); --lr-schedule cosine sends
 * F + (lr − F) · (1 + cos(π (r − 1) / R)) / 2 instead (F default 0, R the run's rounds). Optimizer state is reset
 * every round.
 */
const RECIPE = {
  localEpochs: Number(values['local-epochs']),
  localSteps: values['local-steps'] ? Number(values['local-steps']) : undefined,
  lr: Number(values.lr),
  momentum: Number(values.momentum),
  weightDecay: Number(values['weight-decay']),
  lrDecay: Number(values['lr-decay']),
  lrMin: values['lr-min'] !== undefined ? Number(values['lr-min']) : undefined,
  lrSchedule: values['lr-schedule'] as ClientLrSchedule,
  batch: Number(values.batch),
  freezeHead: values['freeze-head']!,
  restrictedSoftmax: values['restricted-softmax'] !== undefined ? Number(values['restricted-softmax']) : undefined,
  logitCalibration: values['logit-calibration'] !== undefined ? Number(values['logit-calibration']) : undefined,
};
const BASE: Omit<SimulationOptions, 'partition' | 'rounds'> = {
  model,
  data,
  clients: 10,
  localEpochs: RECIPE.localEpochs,
  ...(RECIPE.localSteps !== undefined ? { localSteps: RECIPE.localSteps } : {}),
  batchSize: RECIPE.batch,
  clientOptimizer: {
    kind: 'sgd',
    lr: RECIPE.lr,
    momentum: RECIPE.momentum,
    ...(RECIPE.weightDecay > 0 ? { weightDecay: RECIPE.weightDecay } : {}),
  },
  lr: RECIPE.lr,
  lrDecay: RECIPE.lrDecay,
  ...(RECIPE.lrMin !== undefined ? { lrMin: RECIPE.lrMin } : {}),
  ...(RECIPE.lrSchedule !== 'exp' ? { lrSchedule: RECIPE.lrSchedule } : {}),
  freezeHead: RECIPE.freezeHead,
  ...(RECIPE.restrictedSoftmax !== undefined ? { restrictedSoftmax: RECIPE.restrictedSoftmax } : {}),
  ...(RECIPE.logitCalibration !== undefined ? { logitCalibration: RECIPE.logitCalibration } : {}),
  threads,
  seed,
};
const recipeText =
  `${RECIPE.localSteps !== undefined ? `${RECIPE.localSteps} local steps` : `${RECIPE.localEpochs} local epoch(s)`}, ` +
  `sgd lr ${RECIPE.lr}${RECIPE.lrDecay < 1 ? ` × ${RECIPE.lrDecay}^(round − 1)` : ''}` +
  `${RECIPE.lrSchedule === 'cosine' ? ` cosine-annealed to ${RECIPE.lrMin ?? 0} over the run's rounds` : ''}` +
  `${RECIPE.lrMin !== undefined && RECIPE.lrSchedule !== 'cosine' ? ` (floor ${RECIPE.lrMin})` : ''} momentum ${RECIPE.momentum}${RECIPE.weightDecay > 0 ? ` weight decay ${RECIPE.weightDecay}` : ''}, ` +
  `batch ${RECIPE.batch}, state reset every round${RECIPE.freezeHead ? ', classifier head frozen (body only)' : ''}` +
  `${RECIPE.restrictedSoftmax !== undefined ? `, restricted softmax α ${RECIPE.restrictedSoftmax} (FedRS)` : ''}` +
  `${RECIPE.logitCalibration !== undefined ? `, logit calibration τ ${RECIPE.logitCalibration} (FedLC-style)` : ''}`;
const DIRICHLET = { kind: 'dirichlet', alpha: 0.3 } as const;

/** ‖weighted mean update‖ / mean ‖update‖ of a round: 1 when the clients agree, ~1/√K for unrelated directions. */
const driftRatio = (d: NonNullable<RoundReport['drift']>) => d.aggregate_norm / d.update_norm;

/** A stopped run's checkpoint (--resume), checked against this run's label and recipe. */
function resumeOf(key: CheckpointKey): Resumed | undefined {
  if (!values.resume) return undefined;
  const resumed = readCheckpoint(values.resume, key);
  figures.config = { ...(figures.config as object), resumed_after_round: resumed.afterRound };
  process.stderr.write(`  ${key.label}: resuming after round ${resumed.afterRound} (${values.resume})\n`);
  return resumed;
}

async function run(
  label: string,
  o: Partial<SimulationOptions>,
): Promise<SimulationResult & { seconds: number; label: string }> {
  const started = performance.now();
  const key: CheckpointKey = {
    label,
    recipe: recipeText,
    train_samples: data.train.count,
    test_samples: data.test.count,
    seed,
  };
  const resumed = resumeOf(key);
  const before = resumed?.rounds ?? [];
  const seconds = () => (resumed?.seconds ?? 0) + (performance.now() - started) / 1000;
  const reports: RoundReport[] = [];
  const progress: NonNullable<typeof inProgress> = {
    label,
    accuracy_per_round: [],
    holdout_accuracy_per_round: [],
    seconds_per_round: [],
    drift_ratio_per_round: [],
  };
  // a long run that is stopped keeps its curve so far (the section's figures replace it)
  const record = (x: RoundReport) => {
    reports.push(x);
    progress.accuracy_per_round.push(round(x.accuracy, 4));
    if (x.client_accuracy !== null) progress.holdout_accuracy_per_round.push(round(x.client_accuracy, 4));
    progress.seconds_per_round.push(round(x.seconds, 1));
    if (x.drift) progress.drift_ratio_per_round.push(round(driftRatio(x.drift), 3));
  };
  before.forEach(record);
  const r = await simulate({
    ...BASE,
    partition: DIRICHLET,
    rounds,
    ...o,
    ...(resumed
      ? {
          model: resumed.model,
          resume: { afterRound: resumed.afterRound, strategyState: resumed.strategyState },
        }
      : {}),
    ...(values.checkpoint
      ? { onCheckpoint: (c) => writeCheckpoint(values.checkpoint!, key, c, reports, seconds()) }
      : {}),
    onRound: (x) => {
      process.stderr.write(
        `  ${label} round ${x.round}: ${(x.accuracy * 100).toFixed(2)}% (${x.seconds.toFixed(1)} s)` +
          `${x.client_accuracy !== null ? ` hold-out ${(x.client_accuracy * 100).toFixed(2)}%` : ''}` +
          `${x.drift ? ` drift ${driftRatio(x.drift).toFixed(3)} ‖Δ‖ ${x.drift.update_norm.toFixed(2)}` : ''}\n`,
      );
      record(x);
      inProgress = progress;
      checkpoint(`${label} round ${x.round}`);
    },
  });
  inProgress = undefined;
  const sum = (f: (x: (typeof before)[number]) => number) => before.reduce((a, x) => a + f(x), 0);
  return {
    ...r,
    rounds: [...before, ...r.rounds],
    uplink_bytes: r.uplink_bytes + sum((x) => x.uplink_bytes),
    uplink_bytes_fp32: r.uplink_bytes_fp32 + sum((x) => x.uplink_bytes_fp32),
    seconds: seconds(),
    label,
  };
}

const curve = (r: SimulationResult) => r.rounds.map((x) => round(x.accuracy, 4));
const meanOf = (v: number[]) => v.reduce((a, x) => a + x, 0) / Math.max(1, v.length);
/**
 * How the curve moves over its last 10 rounds: standard deviation and the largest fall from one
 * round to the next (a converging run has both small; the 2-class shards run of session 8 fell 8 pt).
 */
function oscillation(acc: number[]) {
  const tail = acc.slice(-10);
  const m = meanOf(tail);
  let fall = 0;
  for (let i = 1; i < tail.length; i++) fall = Math.max(fall, tail[i - 1]! - tail[i]!);
  return { last10_std: round(Math.sqrt(meanOf(tail.map((x) => (x - m) ** 2))), 4), last10_max_fall: round(fall, 4) };
}
const summary = (r: SimulationResult & { seconds: number; label: string }) => ({
  label: r.label,
  final_accuracy: round(r.final.accuracy, 4),
  best_accuracy: round(Math.max(...r.rounds.map((x) => x.accuracy)), 4),
  last5_mean: round(meanOf(curve(r).slice(-5)), 4),
  rounds_to_85: r.rounds.find((x) => x.accuracy >= 0.85)?.round ?? null,
  accuracy_per_round: curve(r),
  // the clients' held-out 10% of their training images (federated evaluation): a choice between recipes is made
  // on it, not on the test set
  ...(r.rounds.every((x) => x.client_accuracy !== null)
    ? { holdout_accuracy_per_round: r.rounds.map((x) => round(x.client_accuracy!, 4)) }
    : {}),
  ...oscillation(curve(r)),
  // client drift per round: ‖weighted mean update‖ / mean ‖update‖ (1 = clients agree)
  ...(r.rounds.every((x) => x.client_lr !== undefined)
    ? { client_lr_per_round: r.rounds.map((x) => round(x.client_lr!, 6)) }
    : {}),
  ...(r.rounds.every((x) => x.drift)
    ? {
        drift_ratio_per_round: r.rounds.map((x) => round(driftRatio(x.drift!), 3)),
        update_norm_per_round: r.rounds.map((x) => round(x.drift!.update_norm, 3)),
      }
    : {}),
  uplink_bytes: r.uplink_bytes,
  uplink_vs_fp32: round(r.uplink_bytes / Math.max(1, r.uplink_bytes_fp32), 4),
  seconds: round(r.seconds, 1),
  seconds_per_round: round(r.seconds / r.rounds.length, 2),
  ...(r.epsilon !== undefined ? { epsilon: round(r.epsilon, 3), delta: r.delta } : {}),
});

const figures: Record<string, unknown> = {
  config: {
    model: 'seed CNN (nn cnn), inputs standardized inside the model',
    clients: 10,
    rounds,
    local_epochs: RECIPE.localEpochs,
    ...(RECIPE.localSteps !== undefined ? { local_steps: RECIPE.localSteps } : {}),
    client_optimizer: recipeText,
    client_lr_decay: RECIPE.lrDecay,
    ...(RECIPE.lrMin !== undefined ? { client_lr_min: RECIPE.lrMin } : {}),
    client_lr_schedule: RECIPE.lrSchedule,
    train_samples: data.train.count,
    test_samples: data.test.count,
    quick,
    threads,
    side_rounds: sideRounds,
    reduced: data.train.count < 60_000 || data.test.count < 10_000 || rounds < 30 || sideRounds < rounds,
  },
};
const loads: { section: string; load_average: number[]; at: string }[] = [
  { section: 'start', load_average: loadavg().map((l) => round(l, 2)), at: new Date().toISOString() },
];
let inProgress:
  | {
      label: string;
      accuracy_per_round: number[];
      holdout_accuracy_per_round: number[];
      seconds_per_round: number[];
      drift_ratio_per_round: number[];
    }
  | undefined;
/** Rewrite the result file after each section: a long run that is stopped keeps what it measured. */
function checkpoint(section: string): void {
  loads.push({ section, load_average: loadavg().map((l) => round(l, 2)), at: new Date().toISOString() });
  writeResult(resultName, { ...figures, ...(inProgress ? { in_progress: inProgress } : {}), load_averages: loads });
}
let fedavgDirichlet: Awaited<ReturnType<typeof run>> | undefined;
const baseline = async (label: string) => {
  fedavgDirichlet ??= await run(label, {});
  return { ...fedavgDirichlet, label };
};
const rows: (string | number)[][] = [];
const add = (s: ReturnType<typeof summary>) =>
  rows.push([
    s.label,
    `${(s.final_accuracy * 100).toFixed(2)}%`,
    s.rounds_to_85 ?? '-',
    s.uplink_vs_fp32,
    s.seconds_per_round,
  ]);

if (only.has('accuracy')) {
  const done: Awaited<ReturnType<typeof run>>[] = [];
  const target = 'FedAvg ≥ 85% test accuracy in ≤ 30 rounds';
  for (const spec of accuracyRuns) {
    // each finished run is recorded: a long side-by-side that is stopped keeps the runs it finished
    if (done.length > 0) figures.accuracy = { target, runs: done.map(summary) };
    if (spec === 'fedavg') done.push(await baseline('fedavg dirichlet:0.3'));
    else if (spec === 'shards')
      done.push(await run('fedavg shards:2', { partition: { kind: 'shards', perClient: 2 } }));
    else
      done.push(
        await run(`${ACCURACY_STRATEGIES[spec] ?? spec} dirichlet:0.3`, {
          strategy: ACCURACY_STRATEGIES[spec] ?? spec,
        }),
      );
  }
  const runs = done.map(summary);
  runs.forEach(add);
  figures.accuracy = { target, runs };
  checkpoint('accuracy');
}

if (only.has('compress')) {
  const fp32 = summary(await baseline('fp32'));
  const int8 = summary(await run('int8', { compress: parseCompression('int8') }));
  const topk = summary(await run('topk:0.1', { compress: parseCompression('topk:0.1') }));
  [int8, topk].forEach(add);
  figures.compress = {
    target: 'int8 ≤ 0.3× uplink with ≤ 1 pt accuracy loss',
    fp32,
    int8: { ...int8, accuracy_loss_pt: round((fp32.final_accuracy - int8.final_accuracy) * 100, 2) },
    topk_10: { ...topk, accuracy_loss_pt: round((fp32.final_accuracy - topk.final_accuracy) * 100, 2) },
  };
  checkpoint('compress');
}

if (only.has('secagg')) {
  const one = { rounds: 1, dropPerRound: 2 };
  const plain = await run('plain, 2 dropped', one);
  const secure = await run('secure-agg, 2 dropped', { ...one, secureAgg: true });
  let maxDiff = 0;
  secure.weights.forEach((w, i) => (maxDiff = Math.max(maxDiff, Math.abs(w - plain.weights[i]!))));
  const bytesOverhead = round(secure.uplink_bytes / Math.max(1, plain.uplink_bytes), 4);
  figures.secagg = {
    target: 'aggregate equals the plain aggregate within 1e-5',
    max_abs_difference: maxDiff,
    survivors: secure.rounds[0]!.clients,
    plain_seconds: round(plain.seconds, 2),
    secure_seconds: round(secure.seconds, 2),
    time_overhead_seconds: round(secure.seconds - plain.seconds, 2),
    plain_uplink_bytes: plain.uplink_bytes,
    secure_uplink_bytes: secure.uplink_bytes,
    bytes_overhead: bytesOverhead,
  };
  rows.push([
    'secure-agg vs plain (max |Δw|)',
    maxDiff.toExponential(2),
    '-',
    bytesOverhead,
    round(secure.seconds - plain.seconds, 2),
  ]);
  checkpoint('secagg');
}

if (only.has('dp')) {
  // 100 clients, a fraction per round: client-level DP needs many clients per round, since the noise
  // on the mean is z·C/m per weight for m clients against a signal of norm ≤ C
  const perRound = Number(values['dp-per-round']);
  const noises = (values['dp-noise'] ?? '0,0.5,1,2').split(',').map(Number);
  const dp = [];
  for (const z of noises) {
    const r = summary(
      await run(`dp z=${z}`, {
        clients: 100,
        // iid: 100 Dirichlet(0.3) shards of a reduced training set leave clients with too few samples
        partition: { kind: 'iid' },
        rounds: sideRounds,
        fractionFit: perRound / 100,
        minFitClients: perRound,
        dp: { clip: 1, noiseMultiplier: z },
      }),
    );
    add(r);
    dp.push({ noise_multiplier: z, clip: 1, ...r });
  }
  figures.dp = {
    setup: `100 clients (iid), ${perRound} per round, clip 1, δ 1e-5, ${sideRounds} rounds; z = 0 is clipping without noise (ε = ∞)`,
    runs: dp,
  };
  checkpoint('dp');
}

/** What the robustness section's attackers can and cannot do (recorded with its figures). */
const ROBUST_THREAT_MODEL = {
  attackers: 'the same 2 of 10 clients (the first two ids) in every round; all 10 are selected each round',
  capability:
    'each trains honestly on its own shard, then uploads −10 × its update (sign flip, Baruch et al. style scaling); it reports its true example count',
  knowledge:
    "none of the other clients' updates (no omniscient attack such as ALIE or inner-product manipulation); the two do not coordinate beyond the shared rule",
  server:
    'does not know which clients attack; accepts any finite update of the right size (no norm check unless +clip); robust strategies are told f = 2 (trimmed mean β 0.2 = 2 of 10, Krum/Multi-Krum/meamed f 2)',
  not_covered: 'backdoor (targeted) attacks, Sybil clients, attackers adapting to the aggregator',
};

if (only.has('robust')) {
  // the partition is Dirichlet 0.3 like the accuracy runs; --robust-partition measures how much of a
  // robust aggregator's gap is the clients' heterogeneity (iid, dirichlet:1, …)
  const partition = values['robust-partition'] ? parsePartition(values['robust-partition']) : DIRICHLET;
  const side = { rounds: sideRounds, partition };
  const clean = summary(
    sideRounds === rounds && partition === DIRICHLET ? await baseline('fedavg clean') : await run('fedavg clean', side),
  );
  const list = (v: string | undefined, d: string) => (v ?? d).split(',').filter(Boolean);
  const attacked = [];
  for (const strategy of list(
    values['robust-strategies'],
    'fedavg,median,trimmed-mean:0.2,krum:2,multi-krum:2,fedavg+clip,median+clip,trimmed-mean:0.2+clip',
  )) {
    const r = summary(await run(`${strategy} 2 malicious`, { ...side, strategy, malicious: 2 }));
    add(r);
    attacked.push({ strategy, ...r, drop_vs_clean_pt: round((clean.final_accuracy - r.final_accuracy) * 100, 2) });
  }
  // the robust aggregators without attack: how far non-IID data alone puts them from FedAvg
  const unattacked = [];
  for (const strategy of list(values['robust-clean'], 'median,trimmed-mean:0.2,multi-krum:2')) {
    const r = summary(await run(`${strategy} clean`, { ...side, strategy }));
    add(r);
    unattacked.push({ strategy, ...r, drop_vs_clean_pt: round((clean.final_accuracy - r.final_accuracy) * 100, 2) });
  }
  figures.robust = {
    attack: '2 of 10 clients send −10 × their update',
    threat_model: ROBUST_THREAT_MODEL,
    partition: describePartition(partition),
    target: 'within 3 pt of the clean FedAvg run',
    rounds: sideRounds,
    clean,
    attacked,
    unattacked,
  };
  checkpoint('robust');
}

if (only.has('scale')) {
  const r = summary(
    await run('100 clients, 10/round', {
      clients: 100,
      rounds: sideRounds,
      fractionFit: 0.1,
      minFitClients: 10,
      partition: { kind: 'iid' },
    }),
  );
  add(r);
  figures.scale = { setup: `100 clients, 10 per round, iid, ${sideRounds} rounds`, ...r };
  checkpoint('scale');
}

printTable(['run', 'final acc', 'rounds→85%', 'uplink ×fp32', 's/round'], rows);
checkpoint('end');
process.stderr.write(`wrote bench/results/${resultName}.json\n`);
