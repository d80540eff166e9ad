/**
 * `verge fl`: federated learning. `simulate` runs a whole federation in this process; `start`,
 * `status` and `stop` drive jobs over the fleet through the control plane.
 */
import type { Command } from 'commander';
import { CLIENT_LR_SCHEDULES, STRATEGY_NAMES } from '../../fl/strategy/names.ts';
import { ARCHITECTURE_NAMES } from '../../nn/architecture-names.ts';
import { action } from '../command.ts';
import { choice, cloudOptions, keyValue, nonNegativeInt, number, positiveInt, wordList } from '../options.ts';

const STRATEGY_HELP = `aggregation: ${STRATEGY_NAMES.join(', ')} (parameters after ':', e.g. fedprox:0.01, trimmed-mean:0.2, krum:2, fedadam:0.03:0.001 (server lr η, τ); '+clip[:K]' bounds each update to K × the median update norm first, '+bucket[:s]' averages random buckets of s, '+nnm[:f]' mixes each update with its n − f nearest)`;
const LR_MIN_HELP =
  'floor of the scheduled client lr: round r trains at max(x, lr × g^(r − 1)) (needs --lr-decay < 1), or the end of --lr-schedule cosine';
const LR_SCHEDULE_HELP =
  "shape of the client lr over the job's R rounds: exp (lr × g^(r − 1), default) or cosine (lr_min + (lr − lr_min)(1 + cos(π(r − 1)/R))/2, lr_min default 0)";

/** The clients' label-skew corrections (src/fl/label-skew.ts), sent in the fit config: simulate and start. */
function labelSkewOptions(c: Command, who: string): Command {
  return c
    .option(
      '--restricted-softmax <a>',
      `FedRS: ${who} scale the logits of classes they have no sample of by a in their loss (label skew; 1 = off)`,
      number('--restricted-softmax', { min: 0, max: 1 }),
    )
    .option(
      '--logit-calibration <t>',
      `FedLC-style: ${who} lower class c's logit by t·n_c^(-1/4) in their loss, classes they lack left out (0 = off)`,
      number('--logit-calibration', { min: 0, max: 100 }),
    );
}

function simulate(fl: Command): void {
  labelSkewOptions(fl.command('simulate'), 'clients')
    .description(
      'simulate K clients in this process: partitioned data, local training, aggregation and evaluation per round',
    )
    .option('--model <model.onnx>', 'ONNX model to federate (default: --arch)')
    .addOption(choice('--arch <name>', 'built-in architecture when no --model is given', ARCHITECTURE_NAMES, 'cnn'))
    .option('--data <name|dir>', 'dataset: a built-in name (fashion-mnist) or a path', 'fashion-mnist')
    .option('--limit <n>', 'use the first N training samples', positiveInt('--limit'))
    .option('--limit-test <n>', 'use the first N test samples', positiveInt('--limit-test'))
    .option('--clients <k>', 'virtual clients', positiveInt('--clients'), 10)
    .option('--partition <spec>', 'how data is split: iid | shards:N | dirichlet:A (seeded)', 'iid')
    .option('--rounds <r>', 'federated rounds', positiveInt('--rounds'), 10)
    .option('--strategy <spec>', STRATEGY_HELP, 'fedavg')
    .option(
      '--fraction-fit <f>',
      'fraction of clients trained per round (default 1)',
      number('--fraction-fit', { above: 0, max: 1 }),
    )
    .option(
      '--min-fit-clients <n>',
      'at least this many clients per round (default 2)',
      positiveInt('--min-fit-clients'),
    )
    .option('--local-epochs <e>', 'local epochs per round', positiveInt('--local-epochs'), 1)
    .option(
      '--local-steps <k>',
      'local optimizer steps per round instead of epochs (the same work per client, whatever its data)',
      positiveInt('--local-steps'),
    )
    .option('--batch <n>', 'local mini-batch size', positiveInt('--batch'), 32)
    .option('--lr <x>', 'client learning rate (default 0.05 for sgd, 1e-3 for adam)', number('--lr', { above: 0 }))
    .option(
      '--lr-decay <g>',
      "round r's clients train at lr × g^(r − 1) (sent in the fit config; default 1)",
      number('--lr-decay', { above: 0, max: 1 }),
    )
    .option('--lr-min <x>', LR_MIN_HELP, number('--lr-min', { above: 0 }))
    .addOption(choice('--lr-schedule <shape>', LR_SCHEDULE_HELP, CLIENT_LR_SCHEDULES))
    .option('--momentum <m>', 'client SGD momentum (default 0.9)', number('--momentum', { min: 0, below: 1 }))
    .option('--freeze-head', 'clients keep the classifier head fixed and train the body only (label-skewed clients)')
    .addOption(
      choice(
        '--client-optimizer <name>',
        'client optimizer (sgd with momentum 0.9); its state resets every round',
        ['sgd', 'adam'],
        'sgd',
      ),
    )
    .option('--compress <spec>', 'update compression: none | int8 | topk:F, optionally +deflate', 'none')
    .option('--secure-agg', 'secure aggregation: the server only sees the masked sum (X25519 masks, Shamir recovery)')
    .option(
      '--drop <n>',
      'clients per round that drop mid-round (after sharing keys with --secure-agg)',
      nonNegativeInt('--drop'),
      0,
    )
    .option('--dp-clip <c>', 'DP-FedAvg: clip each update to this L2 norm', number('--dp-clip', { above: 0 }))
    .option(
      '--dp-noise <z>',
      'DP-FedAvg: Gaussian noise multiplier (σ = z·C on the sum)',
      number('--dp-noise', { min: 0 }),
    )
    .option('--dp-delta <d>', 'δ of the reported (ε, δ) (default 1e-5)', number('--dp-delta', { above: 0, below: 1 }))
    .option(
      '--malicious <m>',
      'the first M clients send sign-flipped ×10 updates (robustness experiments)',
      nonNegativeInt('--malicious'),
      0,
    )
    .option(
      '--seed <n>',
      'seed of partitioning, sampling, initialization and local shuffles',
      nonNegativeInt('--seed'),
      0,
    )
    .option('--threads <n>', 'onnxruntime intra-op threads', positiveInt('--threads'))
    .option('--plot <file.svg>', 'write the round-by-round accuracy chart here', 'fl-accuracy.svg')
    .option('--no-plot', 'do not write the chart')
    .option('--out <model.onnx>', 'save the final global model')
    .option('--json', 'print {final:{accuracy, loss}, rounds:[…], uplink_bytes, uplink_bytes_fp32, epsilon?, …}')
    .action(action(() => import('../actions/fl-simulate.ts')));
}

function start(fl: Command): void {
  cloudOptions(
    labelSkewOptions(fl.command('start'), 'devices')
      .description('start a federated job on the fleet; the final model is published to the registry')
      .argument('<model>', 'model.onnx (uploaded) or name@version from the registry (its fp32 variant)')
      .option('--devices <a,b>', 'device names or ids', wordList)
      .option('--tag <k=v>', 'devices with this tag (repeatable)', keyValue('--tag'))
      .option('--rounds <r>', 'training rounds', positiveInt('--rounds'), 5)
      .option('--strategy <spec>', STRATEGY_HELP, 'fedavg')
      .option('--min-clients <n>', 'a round needs this many updates (min_fit_clients)', positiveInt('--min-clients'), 2)
      .option(
        '--min-available <n>',
        'open a round only when this many target devices are online, waiting at most --round-timeout, then with those online (min_available_clients; default --min-clients)',
        positiveInt('--min-available'),
      )
      .option(
        '--fraction-fit <f>',
        'fraction of available devices asked per round',
        number('--fraction-fit', { above: 0, max: 1 }),
        1,
      )
      .option(
        '--round-timeout <sec>',
        'round deadline: late updates are discarded and counted',
        number('--round-timeout', { above: 0 }),
        300,
      )
      .option('--local-epochs <e>', 'local epochs per round', positiveInt('--local-epochs'), 1)
      .option('--local-steps <k>', 'local optimizer steps per round instead of epochs', positiveInt('--local-steps'))
      .option('--batch <n>', 'local mini-batch size', positiveInt('--batch'), 32)
      .option('--lr <x>', 'client learning rate', number('--lr', { above: 0 }))
      .option(
        '--lr-decay <g>',
        "round r's devices train at lr × g^(r − 1) (default 1)",
        number('--lr-decay', { above: 0, max: 1 }),
      )
      .option('--lr-min <x>', LR_MIN_HELP, number('--lr-min', { above: 0 }))
      .addOption(choice('--lr-schedule <shape>', LR_SCHEDULE_HELP, CLIENT_LR_SCHEDULES))
      .option('--compress <spec>', 'update compression: none | int8 | topk:F (+deflate)', 'none')
      .option(
        '--secure-agg',
        'secure aggregation: devices send masked updates, the cloud only learns their sum (survives dropouts)',
      )
      .option('--dp-clip <c>', 'DP-FedAvg: devices clip each update to this L2 norm', number('--dp-clip', { above: 0 }))
      .option(
        '--dp-noise <z>',
        'DP-FedAvg: noise multiplier (server adds N(0, (z·clip/m)²) to the mean); the job reports (ε, δ)',
        number('--dp-noise', { above: 0 }),
      )
      .option('--dp-delta <d>', 'δ of the reported (ε, δ) (default 1e-5)', number('--dp-delta', { above: 0, below: 1 }))
      .option('--publish <name@version>', 'publish the result as this version (default: next minor of the source)')
      .option('--wait', 'follow the job round by round until it ends')
      .option('--json', 'print {job, state, rounds_completed, final:{accuracy}, published:{name, version}, history}'),
  ).action(action(() => import('../actions/fl-start.ts')));
}

export function register(program: Command): void {
  const fl = program
    .command('fl')
    .description('federated learning: simulate a federation, or train across the fleet (start, status, stop)');
  simulate(fl);
  start(fl);
  cloudOptions(
    fl
      .command('status')
      .description('FL jobs, or one job round by round')
      .argument('[job]', 'job id')
      .option('--json', 'print the job(s) as JSON'),
  ).action(action(() => import('../actions/fl-status.ts')));
  cloudOptions(
    fl
      .command('stop')
      .description('stop a running FL job')
      .argument('<job>', 'job id')
      .option('--json', 'print the job as JSON'),
  ).action(action(() => import('../actions/fl-stop.ts')));
}
