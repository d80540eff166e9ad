/**
 * `verge label`: operator labels for the items the fleet collected (edge data loop,
 * docs/edge-loop.md). `list` shows a model's collected items — unlabelled ones, hardest (lowest
 * top-1) first — and `set` labels them; `verge retrain --with-collected` and `verge data pull
 * --from-fleet` train on operator labels first, else the cloud model's answers.
 */
import type { Command } from 'commander';
import { action } from '../command.ts';
import { choice, cloudOptions, nonNegativeInt, positiveInt } from '../options.ts';

export function register(program: Command): void {
  const label = program
    .command('label')
    .description("label collected items of the edge data loop: list what the fleet kept, set the operator's label");

  cloudOptions(
    label
      .command('list')
      .description("a model's collected items in the cloud: device/id, why kept, the device's prediction, the label")
      .argument('<model>', 'model name')
      .option('--unlabelled', 'only items without a label (neither operator nor cloud model)')
      .option('--hard', 'hardest first: lowest top-1 probability of the device model')
      .addOption(
        choice('--reason <r>', 'only items kept for this reason', ['top1', 'margin', 'entropy', 'offload', 'sample']),
      )
      .option('--device <id>', 'only items of this device')
      .option('--limit <n>', 'items to show (at most 1000)', positiveInt('--limit'), 50)
      .option('--offset <n>', 'skip this many first', nonNegativeInt('--offset'), 0)
      .option('--json', 'print {items:[…], total}'),
  ).action(action(() => import('../actions/label-list.ts')));

  cloudOptions(
    label
      .command('set')
      .description('set operator labels: <device>/<item>=<class> pairs, or a CSV file of device_id,id,label lines')
      .argument('<model>', 'model the items belong to (items of another model are refused)')
      .argument('[labels...]', 'pairs <device id>/<item id>=<class index>, as `verge label list` prints them')
      .option('--file <csv>', 'lines device_id,id,label (a header line is allowed); at most 1,000,000 lines')
      .option('--json', 'print {labelled, unknown, unknown_items}'),
  ).action(action(() => import('../actions/label-set.ts')));
}
