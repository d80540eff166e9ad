import type { Command } from 'commander';
import { action } from '../command.ts';
import { addDataFlags, formatsHelp } from '../data-options.ts';
import { cloudOptions, positiveInt } from '../options.ts';

export function register(program: Command): void {
  const cmd = program
    .command('data')
    .description(
      'describe a dataset: where it was read from, what was skipped, its shape and classes, and cleaning checks',
    )
    .argument('<name|path>', 'a built-in dataset name or a file/folder in one of the formats below')
    .addHelpText('after', formatsHelp())
    .option('--limit-train <n>', 'read at most this many training samples', positiveInt('--limit-train'))
    .option('--limit-test <n>', 'read at most this many test samples', positiveInt('--limit-test'));
  addDataFlags(cmd)
    .option(
      '--json',
      'print one JSON object: {name, source, format, train, test, shape, classes, class_names, read, skipped, notes, cleaning}',
    )
    .action(action(() => import('../actions/data.ts')));

  // edge data loop (docs/edge-loop.md); a dataset folder literally named 'pull' is read as ./pull
  cloudOptions(
    cmd
      .command('pull')
      .description(
        "write the labelled items a model's fleet collected (edge data loop) as a data folder that verge data/train/retrain read",
      )
      .requiredOption(
        '--from-fleet <model>',
        'the model whose collected items to pull (labels: operator, else cloud model)',
      )
      .requiredOption('--out <dir>', 'folder for x.npy, y.npy, x_test.npy, y_test.npy (hold-out) and fleet.json')
      .option('--limit <n>', 'pull at most this many items', positiveInt('--limit'))
      .option('--force', 'replace a pull already in --out')
      .option('--json', 'print {out, model, train, test, unlabelled, shape, classes, files}'),
  ).action(action(() => import('../actions/data-pull.ts')));
}
