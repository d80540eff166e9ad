import type { Command } from 'commander';
import { CloudClient, resolveCloud } from '../../cloud/client.ts';
import { HTTP_PATHS, type EnrollTokenResponse } from '../../protocol/index.ts';
import { VergeError } from '../../errors.ts';
import { emit } from '../output.ts';

export function parseKeyValues(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new VergeError('E_BAD_ARGUMENT', `${flag} expects key=value, got '${kv}'`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

export const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command): void {
  program
    .command('enroll-token')
    .description('create a one-time device enrollment token (give it to `verge agent --enroll-token`)')
    .option('--tag <k=v>', 'tag for the device that enrolls with it (repeatable)', collect, [])
    .option('--ttl <seconds>', 'token lifetime in seconds (default 86400)')
    .option('--cloud <url>', 'control plane URL (or VERGE_CLOUD)')
    .option('--api-key <key>', 'admin API key (or VERGE_API_KEY)')
    .option('--data-dir <dir>', "read the admin key from a local cloud's data dir")
    .option('--json', 'print {token, expires_at, tags}')
    .action(async (opts) => {
      const client = new CloudClient(resolveCloud(opts));
      const ttl = opts.ttl === undefined ? undefined : Number(opts.ttl);
      if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0))
        throw new VergeError('E_BAD_ARGUMENT', `--ttl must be a positive integer, got '${opts.ttl}'`);
      const res = await client.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {
        tags: parseKeyValues(opts.tag, '--tag'),
        ttl_s: ttl,
      });
      emit(opts, res, () => res.token);
    });
}
