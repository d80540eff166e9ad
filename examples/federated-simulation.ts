/**
 * Federated learning, simulated in one process: ten clients each hold a non-IID slice of
 * Fashion-MNIST (Dirichlet α = 0.3: most clients see mostly a few classes), train locally and send
 * int8-compressed updates; FedAvg aggregates them into the global model each round. The same
 * strategies and update codec run over a real fleet with `verge fl start` (docs/fl.md).
 *
 *   npx tsx examples/federated-simulation.ts [--rounds 3] [--clients 10] [--strategy fedavg]
 *
 * The last line printed is a JSON summary.
 */
import { parseArgs } from 'node:util';
import { buildArchitecture } from 'verge-edge';
import { loadFashionMnist, meanStd } from 'verge-edge/data';
import { simulate, parsePartition, parseCompression, classCounts, partitionIndices } from 'verge-edge/fl';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '10' },
    strategy: { type: 'string', default: 'fedavg' },
  },
});
const clients = Number(args.clients);
const data = loadFashionMnist({ train: 3000, test: 500 });
const partition = parsePartition('dirichlet:0.3');

// what non-IID means here: the classes client 0 holds
const shard = partitionIndices(data.train.y, clients, partition, 0)[0]!;
console.log(
  `client 0 holds ${shard.length} images, per class: ${classCounts(data.train.y, shard, data.classes).join(' ')}`,
);

const model = buildArchitecture('mlp', {
  inputShape: data.shape,
  classes: data.classes,
  seed: 0,
  standardize: meanStd(data.train.x),
});
const result = await simulate({
  model,
  data,
  clients,
  partition,
  rounds: Number(args.rounds),
  strategy: args.strategy,
  compress: parseCompression('int8'),
  seed: 0,
  onRound: (r) =>
    console.log(
      `round ${r.round}: global accuracy ${(r.accuracy * 100).toFixed(1)}%, ${r.clients} clients, uplink ${(r.uplink_bytes / 1e3).toFixed(0)} kB (fp32 would be ${(r.uplink_bytes_fp32 / 1e3).toFixed(0)} kB)`,
    ),
});
const ratio = result.uplink_bytes / result.uplink_bytes_fp32;
console.log(
  `final: ${(result.final.accuracy * 100).toFixed(1)}% test accuracy; int8 updates took ${ratio.toFixed(2)}× the fp32 bytes`,
);
console.log(
  JSON.stringify({ final: result.final, rounds: result.rounds.length, uplink_ratio: ratio, strategy: result.strategy }),
);
