import type { Command } from 'commander';
import { action } from '../command.ts';
import { cloudOptions } from '../options.ts';

export function register(program: Command): void {
  cloudOptions(
    program
      .command('rollback')
      .description("roll a model's newest deployment back: its devices return to the version they ran before")
      .argument('[name[@version]]', 'model (and optionally the version whose deployment to undo)')
      .option('--deployment <id>', 'roll back this deployment id instead')
      .option('--reason <text>', 'recorded on the deployment', 'rolled back by operator')
      .option('--json', 'print the deployment as one JSON object'),
  ).action(action(() => import('../actions/rollback.ts')));
}
