import type { Command } from 'commander';
import { action } from '../command.ts';
import { cloudOptions, keyValue, positiveInt } from '../options.ts';

export function register(program: Command): void {
  cloudOptions(
    program
      .command('enroll-token')
      .description('create a one-time device enrollment token (give it to `verge agent --enroll-token`)')
      .option('--tag <k=v>', 'tag for the device that enrolls with it (repeatable)', keyValue('--tag'), {})
      .option('--ttl <seconds>', 'token lifetime in seconds (default 86400)', positiveInt('--ttl'))
      .option('--json', 'print {token, expires_at, tags}'),
  ).action(action(() => import('../actions/enroll-token.ts')));
}
