/** `verge api-key revoke <id>`: requests with that key are refused from now on. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit } from '../output.ts';

export default async function revoke(id: string, opts: CloudCliOptions & { json?: boolean }): Promise<void> {
  await new CloudClient(resolveCloud(opts)).delete(HTTP_PATHS.apiKey(id));
  emit(opts, { revoked: id }, () => `revoked API key ${id}`);
}
