/** `verge keys revoke <id>`: devices refuse artifacts signed by that key. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS, type SigningKeySet } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit } from '../output.ts';
import { keySetTable } from '../key-set-table.ts';

export default async function revoke(id: string, opts: CloudCliOptions & { json?: boolean }): Promise<void> {
  const set = await new CloudClient(resolveCloud(opts)).delete<SigningKeySet>(HTTP_PATHS.signingKeyById(id));
  emit(opts, set, () => `revoked signing key ${id}\n${keySetTable(set)}`);
}
