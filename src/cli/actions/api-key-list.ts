/** `verge api-key list`: operator API keys by id, role and name (never the keys). */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS, type ApiKeysResponse } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, table } from '../output.ts';

export default async function list(opts: CloudCliOptions & { json?: boolean }): Promise<void> {
  const res = await new CloudClient(resolveCloud(opts)).get<ApiKeysResponse>(HTTP_PATHS.apiKeys);
  emit(opts, res, () =>
    table(
      ['id', 'role', 'name', 'created'],
      res.keys.map((k) => [k.id, k.role, k.name ?? '-', new Date(k.created_at).toISOString()]),
    ),
  );
}
