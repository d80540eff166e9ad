import type { Command } from 'commander';
import { action } from '../command.ts';
import { choice, cloudOptions } from '../options.ts';

export function register(program: Command): void {
  const apiKey = program
    .command('api-key')
    .description('operator API keys of the control plane: list, create, revoke (keys are shown once, at creation)');
  cloudOptions(
    apiKey
      .command('list')
      .description('list API keys: id, role, name, created (never the keys themselves)')
      .option('--json', 'print {keys:[{id, role, name, created_at}]}'),
  ).action(action(() => import('../actions/api-key-list.ts')));
  cloudOptions(
    apiKey
      .command('create')
      .description('create an API key and print it (it cannot be shown again)')
      .addOption(choice('--role <role>', 'what the key may do', ['admin', 'read-only'], 'read-only'))
      .option('--name <name>', 'a label shown by `verge api-key list`')
      .option('--json', 'print {id, key, role, name}'),
  ).action(action(() => import('../actions/api-key-create.ts')));
  cloudOptions(
    apiKey
      .command('revoke')
      .description('revoke an API key by its id: requests with it are refused from now on')
      .argument('<id>', 'the key id from `verge api-key list` (12 hex digits)')
      .option('--json', 'print {revoked: id}'),
  ).action(action(() => import('../actions/api-key-revoke.ts')));
}
