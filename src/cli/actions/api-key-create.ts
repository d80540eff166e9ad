/** `verge api-key create`: a new operator API key, printed once. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS, type ApiKeyResponse, type Role } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit } from '../output.ts';

export default async function create(
  opts: CloudCliOptions & { role: Role; name?: string; json?: boolean },
): Promise<void> {
  const res = await new CloudClient(resolveCloud(opts)).post<ApiKeyResponse>(HTTP_PATHS.apiKeys, {
    role: opts.role,
    ...(opts.name ? { name: opts.name } : {}),
  });
  emit(opts, res, () => `${res.key}\n(id ${res.id}, ${res.role}; shown once: store it now)`);
}
