import type { Command } from 'commander';
import { action } from '../command.ts';
import { cloudOptions } from '../options.ts';

export function register(program: Command): void {
  const devices = cloudOptions(
    program
      .command('devices')
      .description('list enrolled devices: status, what they serve, last seen (subcommand: revoke)')
      .option(
        '--json',
        'print {devices:[{name, status, model, version, variant, last_seen, …}]} (last_seen in epoch ms)',
      ),
  ).action(action(() => import('../actions/devices.ts')));

  cloudOptions(
    devices
      .command('revoke')
      .description('revoke a device: its credentials stop working at the broker and over HTTP')
      .argument('<device>', 'device name or id')
      .option('--json', 'print the device as one JSON object'),
  ).action(action(() => import('../actions/devices-revoke.ts')));
}
