import type { Command } from 'commander';
import { action } from '../command.ts';
import { cloudOptions } from '../options.ts';

export function register(program: Command): void {
  const keys = program
    .command('keys')
    .description('artifact-signing keys of the control plane: list, rotate, revoke (docs/security.md)');
  cloudOptions(
    keys
      .command('list')
      .description('list signing keys: id, state (active, trusted, revoked), created, endorsed by')
      .option('--json', 'print the key set {seq, active, keys:[…]}'),
  ).action(action(() => import('../actions/keys-list.ts')));
  cloudOptions(
    keys
      .command('rotate')
      .description(
        'make a new signing key active, endorsed by the current one; published artifacts are re-signed and devices follow',
      )
      .option('--json', 'print the new key set'),
  ).action(action(() => import('../actions/keys-rotate.ts')));
  cloudOptions(
    keys
      .command('revoke')
      .description('revoke a retired signing key: devices refuse artifacts signed by it from their next deployment on')
      .argument('<id>', 'the key id from `verge keys list` (16 hex digits)')
      .option('--json', 'print the new key set'),
  ).action(action(() => import('../actions/keys-revoke.ts')));
}
