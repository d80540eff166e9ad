/**
 * `verge retrain <name@version> --with-collected`: incremental learning from what the fleet
 * collected (docs/edge-loop.md): fine-tune on the labelled collected items, compare with the
 * current version on their hold-out, publish a new version with lineage for the usual rollout.
 */
import type { Command } from 'commander';
import { VergeError } from '../../errors.ts';
import { action } from '../command.ts';
import { cloudOptions, nonNegativeInt, number, positiveInt } from '../options.ts';

/** argParser of --rollout: `canary:PCT`, PCT 1-99. */
function canaryPercent(s: string): number {
  const m = /^canary:(\d{1,2})$/.exec(s);
  if (m && Number(m[1]) >= 1) return Number(m[1]);
  throw new VergeError('E_BAD_ARGUMENT', `--rollout must be canary:PCT with PCT 1-99, got '${s}'`);
}

export function register(program: Command): void {
  cloudOptions(
    program
      .command('retrain')
      .description(
        'fine-tune a registry model on the labelled items its fleet collected, compare it with the current version on their hold-out, and publish a new version (parent = the current one)',
      )
      .argument(
        '<name@version>',
        'the model version to start from (its fp32 variant); with --when-drifted, <name> alone starts from the drifted version',
      )
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
        '--when-drifted',
        'retrain only when due: drift score above --drift-threshold, no retrained version within --cooldown-h, at least --min-labelled labelled items; otherwise say why and exit 0 (for cron)',
      )
      .option(
        '--drift-threshold <psi>',
        'drift score (PSI) above which the model counts as drifted',
        number('--drift-threshold', { above: 0 }),
        0.25,
      )
      .option(
        '--drift-window-h <hours>',
        'drift reports of the last N hours',
        number('--drift-window-h', { above: 0 }),
        1,
      )
      .option(
        '--cooldown-h <hours>',
        'no new retraining within N hours of the last retrained version',
        number('--cooldown-h', { min: 0 }),
        24,
      )
      .option('--min-labelled <n>', 'labelled collected items needed', positiveInt('--min-labelled'), 100)
      .option(
        '--rollout <canary:PCT>',
        "deploy the new version as a canary (PCT 1-99) to the target of the starting version's deployment, with its edge-loop policy",
        canaryPercent,
      )
      .option(
        '--json',
        'print {from, published, samples:{train, holdout, unlabelled}, holdout:{before, after}, original?:{before, after}}',
      ),
  ).action(action(() => import('../actions/retrain.ts')));
}
