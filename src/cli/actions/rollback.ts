/** `verge rollback [name[@version]] [--deployment id]`: roll a deployment back; exits 0 when it is rolled back. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { VergeError } from '../../errors.ts';
import { HTTP_PATHS, type Deployment, type DeploymentsResponse } from '../../protocol/index.ts';
import { reportDeployment } from '../deployment-report.ts';
import type { CloudCliOptions } from '../options.ts';

/** Deployments in these states have nothing left to roll back. */
const NOT_ROLLBACKABLE: readonly Deployment['state'][] = ['rolled_back', 'superseded'];

interface RollbackOptions extends CloudCliOptions {
  deployment?: string;
  reason: string;
  json?: boolean;
}

async function newestDeployment(client: CloudClient, ref: string): Promise<string> {
  const [name, version] = ref.split('@') as [string, string | undefined];
  const ds = (await client.get<DeploymentsResponse>(`${HTTP_PATHS.deployments}?model=${encodeURIComponent(name)}`))
    .deployments;
  const candidate = ds.find(
    (d) => !NOT_ROLLBACKABLE.includes(d.state) && (version === undefined || d.version === version),
  );
  if (!candidate) throw new VergeError('E_NOT_FOUND', `no deployment of ${ref} to roll back`);
  return candidate.id;
}

export default async function rollback(ref: string | undefined, opts: RollbackOptions): Promise<void> {
  const client = new CloudClient(resolveCloud(opts));
  if (!opts.deployment && !ref)
    throw new VergeError('E_BAD_ARGUMENT', 'give a model name (name or name@version) or --deployment <id>');
  const id = opts.deployment ?? (await newestDeployment(client, ref!));
  const d = await client.post<Deployment>(HTTP_PATHS.rollback(id), { reason: opts.reason });
  reportDeployment({ ...opts, rollback: true }, d);
}
