import type { Command } from 'commander';
import { action } from '../command.ts';
import { addDataFlags, formatsHelp } from '../data-options.ts';
import { positiveInt } from '../options.ts';

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
}
