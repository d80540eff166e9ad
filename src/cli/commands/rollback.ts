import type { Command } from 'commander';
import { CloudClient, resolveCloud } from '../../cloud/client.ts';
import { VergeError } from '../../errors.ts';
import { HTTP_PATHS, type Deployment, type DeploymentsResponse } from '../../protocol/index.ts';
import { waitAndFinish } from './deploy.ts';

export function register(program: Command): void {
  program
    .command('rollback')
    .description("roll a model's newest deployment back: its devices return to the version they ran before")
    .argument('[name[@version]]', 'model (and optionally the version whose deployment to undo)')
    .option('--deployment <id>', 'roll back this deployment id instead')
    .option('--reason <text>', 'recorded on the deployment', 'rolled back by operator')
    .option('--wait', 'wait until the deployment reports its final state')
    .option('--wait-timeout <s>', 'give up waiting after this many seconds')
    .option('--cloud <url>', 'control plane URL (or VERGE_CLOUD)')
    .option('--api-key <key>', 'admin API key (or VERGE_API_KEY)')
    .option('--data-dir <dir>', "read the admin key from a local cloud's data dir")
    .option('--json', 'print the deployment as one JSON object')
    .action(async (ref: string | undefined, opts) => {
      const client = new CloudClient(resolveCloud(opts));
      let id: string | undefined = opts.deployment;
      if (!id) {
        if (!ref)
          throw new VergeError('E_BAD_ARGUMENT', 'give a model name (name or name@version) or --deployment <id>');
        const [name, version] = ref.split('@') as [string, string | undefined];
        const ds = (
          await client.get<DeploymentsResponse>(`${HTTP_PATHS.deployments}?model=${encodeURIComponent(name)}`)
        ).deployments;
        const candidate = ds.find(
          (d) =>
            d.state !== 'rolled_back' && d.state !== 'superseded' && (version === undefined || d.version === version),
        );
        if (!candidate) throw new VergeError('E_NOT_FOUND', `no deployment of ${ref} to roll back`);
        id = candidate.id;
      }
      const d = await client.post<Deployment>(HTTP_PATHS.rollback(id), { reason: opts.reason });
      await waitAndFinish(client, d, { ...opts, wait: false });
    });
}
