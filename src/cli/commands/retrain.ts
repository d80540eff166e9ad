/**
 * `verge retrain <name@version> --with-collected`: incremental learning from what the fleet
 * collected (docs/edge-loop.md): fine-tune on the labelled collected items, compare with the
 * current version on their hold-out, publish a new version with lineage for the usual rollout.
 */
import type { Command } from 'commander';
import { action } from '../command.ts';
import { cloudOptions, nonNegativeInt, number, positiveInt } from '../options.ts';

export function register(program: Command): void {
  cloudOptions(
    program
      .command('retrain')
      .description(
        'fine-tune a registry model on the labelled items its fleet collected, compare it with the current version on their hold-out, and publish a new version (parent = the current one)',
      )
      .argument('<name@version>', 'the model version to start from (its fp32 variant)')
      .requiredOption(
        '--with-collected',
        'train on the collected items of this model (labelled by an operator or the cloud model)',
      )
      .option('--data <name|dir>', 'also replay this original training data, so the model keeps what it knew')
      .option(
        '--replay <n>',
        'original training samples to mix in with --data (default: as many as collected items)',
        positiveInt('--replay'),
      )
      .option('--epochs <n>', 'fine-tuning epochs', positiveInt('--epochs'), 3)
      .option('--batch <n>', 'mini-batch size', positiveInt('--batch'), 32)
      .option('--lr <x>', 'Adam learning rate', number('--lr', { above: 0 }), 5e-4)
      .option('--seed <n>', 'shuffling seed', nonNegativeInt('--seed'), 0)
      .option('--version <semver>', 'version to publish (default: the next minor after <version>)')
      .option('--force', 'publish even when the new version is worse on the hold-out')
      .option('--dry-run', 'train and compare, publish nothing')
      .option('--out <model.onnx>', 'also save the retrained model here')
      .option('--threads <n>', 'onnxruntime intra-op threads', positiveInt('--threads'))
      .option(
        '--json',
        'print {from, published, samples:{train, holdout, unlabelled}, holdout:{before, after}, original?:{before, after}}',
      ),
  ).action(action(() => import('../actions/retrain.ts')));
}
