/** `verge deployments [model]`: deployment history, newest first. */
import { CloudClient, resolveCloud, summarize } from '../../cloud/index.ts';
import { HTTP_PATHS, type DeploymentsResponse } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, table } from '../output.ts';

export default async function deployments(
  model: string | undefined,
  opts: CloudCliOptions & { active?: boolean; json?: boolean },
): Promise<void> {
  const q = new URLSearchParams();
  if (model) q.set('model', model);
  if (opts.active) q.set('active', 'true');
  const res = await new CloudClient(resolveCloud(opts)).get<DeploymentsResponse>(`${HTTP_PATHS.deployments}?${q}`);
  emit(opts, res, () =>
    res.deployments.length === 0
      ? 'no deployments'
      : table(
          ['id', 'model', 'version', 'strategy', 'state', 'devices', 'created', 'reason'],
          res.deployments.map((d) => [
            d.id,
            d.model,
            d.version,
            d.strategy === 'canary' ? `canary:${d.canary_percent}` : 'all',
            d.state,
            summarize(d),
            new Date(d.created_at).toISOString().slice(0, 19).replace('T', ' '),
            d.reason ?? '',
          ]),
        ),
  );
}
