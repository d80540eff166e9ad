/**
 * `verge fl`: federated learning. `simulate` runs a whole federation in this process; `start`,
 * `status` and `stop` drive jobs over the fleet through the control plane. The work lives in
 * src/cli/fl/ (loaded on invocation).
 */
import type { Command } from 'commander';
import { strategyNames } from '../../fl/strategy/index.ts';
import { addDataFlags, DATA_HELP } from '../data-options.ts';

const withCloud = (c: Command) =>
  c
    .option('--cloud <url>', 'control plane URL (or VERGE_CLOUD)')
    .option('--api-key <key>', 'API key (or VERGE_API_KEY)')
    .option('--data-dir <dir>', "read the admin key from a local cloud's data dir");

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command): void {
  const fl = program
    .command('fl')
    .description('federated learning: simulate a federation, or train across the fleet (start, status, stop)');

  addDataFlags(
    fl
      .command('simulate')
      .description(
        'simulate K clients in this process: partitioned data, local training, aggregation, evaluation per round',
      )
      .option('--model <model.onnx>', 'ONNX model to federate (default: --arch)')
      .option('--arch <name>', 'built-in architecture when no --model is given', 'cnn')
      .option('--data <name|dir>', DATA_HELP, 'fashion-mnist')
      .option('--limit <n>', 'use the first N training samples')
      .option('--limit-test <n>', 'use the first N test samples')
      .option('--clients <k>', 'virtual clients', '10')
      .option('--partition <spec>', 'how data is split: iid | shards:N | dirichlet:A (seeded)', 'iid')
      .option('--rounds <r>', 'federated rounds', '10')
      .option(
        '--strategy <spec>',
        `aggregation: ${strategyNames().join(', ')} (e.g. fedprox:0.01, trimmed-mean:0.2, krum:2)`,
        'fedavg',
      )
      .option('--fraction-fit <f>', 'fraction of clients trained per round (default 1)')
      .option('--min-fit-clients <n>', 'at least this many clients per round (default 2)')
      .option('--local-epochs <e>', 'local epochs per round', '1')
      .option('--batch <n>', 'local mini-batch size', '32')
      .option('--lr <x>', 'client learning rate (default 0.05 for sgd, 1e-3 for adam)')
      .option(
        '--client-optimizer <name>',
        'client optimizer: sgd (momentum 0.9) or adam; its state resets every round',
        'sgd',
      )
      .option('--compress <spec>', 'update compression: none | int8 | topk:F, optionally +deflate', 'none')
      .option('--secure-agg', 'secure aggregation: the server only sees the masked sum (X25519 masks, Shamir recovery)')
      .option('--drop <n>', 'clients per round that drop mid-round (after sharing keys with --secure-agg)', '0')
      .option('--dp-clip <c>', 'DP-FedAvg: clip each update to this L2 norm')
      .option('--dp-noise <z>', 'DP-FedAvg: Gaussian noise multiplier (σ = z·C on the sum)')
      .option('--dp-delta <d>', 'δ of the reported (ε, δ) (default 1e-5)')
      .option('--malicious <m>', 'the first M clients send sign-flipped ×10 updates (robustness experiments)', '0')
      .option('--seed <n>', 'seed of partitioning, sampling, initialization and local shuffles', '0')
      .option('--threads <n>', 'onnxruntime intra-op threads')
      .option('--plot <file.svg>', 'write the round-by-round accuracy chart here', 'fl-accuracy.svg')
      .option('--no-plot', 'do not write the chart')
      .option('--out <model.onnx>', 'save the final global model')
      .option('--json', 'print {final:{accuracy, loss}, rounds:[…], uplink_bytes, uplink_bytes_fp32, epsilon?, …}'),
  ).action(async (opts) => (await import('../fl/simulate.ts')).runSimulate(opts));

  withCloud(
    fl
      .command('start')
      .description('start a federated job on the fleet; the final model is published to the registry')
      .argument('<model>', 'model.onnx (uploaded) or name@version from the registry (its fp32 variant)')
      .option('--devices <a,b>', 'device names or ids')
      .option('--tag <k=v>', 'devices with this tag (repeatable)', collect)
      .option('--rounds <r>', 'training rounds', '5')
      .option('--strategy <spec>', `aggregation: ${strategyNames().join(', ')}`, 'fedavg')
      .option('--min-clients <n>', 'a round needs this many updates (min_fit_clients)', '2')
      .option('--fraction-fit <f>', 'fraction of available devices asked per round', '1')
      .option('--round-timeout <sec>', 'round deadline: late updates are discarded and counted', '300')
      .option('--local-epochs <e>', 'local epochs per round', '1')
      .option('--batch <n>', 'local mini-batch size', '32')
      .option('--lr <x>', 'client learning rate')
      .option('--compress <spec>', 'update compression: none | int8 | topk:F (+deflate)', 'none')
      .option('--publish <name@version>', 'publish the result as this version (default: next minor of the source)')
      .option('--wait', 'follow the job round by round until it ends')
      .option('--json', 'print {job, state, rounds_completed, final:{accuracy}, published:{name, version}, history}'),
  ).action(async (model: string, opts) => (await import('../fl/fleet.ts')).runStart(model, opts));

  withCloud(
    fl
      .command('status')
      .description('FL jobs, or one job round by round')
      .argument('[job]', 'job id')
      .option('--json', 'print the job(s) as JSON'),
  ).action(async (job: string | undefined, opts) => (await import('../fl/fleet.ts')).runStatus(job, opts));

  withCloud(
    fl
      .command('stop')
      .description('stop a running FL job')
      .argument('<job>', 'job id')
      .option('--json', 'print the job as JSON'),
  ).action(async (job: string, opts) => (await import('../fl/fleet.ts')).runStop(job, opts));
}
