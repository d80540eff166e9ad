import type { Command } from 'commander';
import { action } from '../command.ts';
import { cloudOptions } from '../options.ts';

export function register(program: Command): void {
  cloudOptions(
    program
      .command('status')
      .description('control-plane overview: devices, models, active deployments, telemetry totals')
      .option('--json', 'print one JSON object {…status, active_deployments:[…]}'),
  ).action(action(() => import('../actions/status.ts')));
}
