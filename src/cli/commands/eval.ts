import type { Command } from 'commander';
import { LOSS_KINDS } from '../../train/names.ts';
import { action } from '../command.ts';
import { addDataFlags, DATA_HELP } from '../data-options.ts';
import { choice, positiveInt } from '../options.ts';

export function register(program: Command): void {
  const cmd = program.command('eval');
  addDataFlags(cmd);
  cmd
    .description("measure a classifier's accuracy and loss on a dataset's test split (onnxruntime, inference mode)")
    .argument('<model>', 'ONNX model (one input taking the samples, first output = class scores)')
    .requiredOption('--data <name|path>', DATA_HELP)
    .addOption(choice('--loss <name>', 'loss to report', LOSS_KINDS, 'cross-entropy'))
    .option('--batch <n>', 'evaluation batch size (default 500; 32 for audio models)', positiveInt('--batch'))
    .option('--limit <n>', 'use at most this many test samples', positiveInt('--limit'))
    .option('--threads <n>', 'onnxruntime intra-op threads', positiveInt('--threads'))
    .option('--json', 'print one JSON object: {accuracy, loss, samples, data}')
    .action(action(() => import('../actions/eval.ts')));
}
