import type { Command } from 'commander';
import { action } from '../command.ts';
import { cloudOptions } from '../options.ts';

export function register(program: Command): void {
  cloudOptions(
    program
      .command('deployments')
      .description('deployment history, newest first (state, strategy, per-device summary)')
      .argument('[model]', 'only deployments of this model')
      .option('--active', 'only deployments in progress (canary or rolling)')
      .option('--json', 'print {deployments:[…]} with per-device states'),
  ).action(action(() => import('../actions/deployments.ts')));
}
