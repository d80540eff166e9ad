/** `verge keys rotate`: a new active signing key, endorsed by the old one. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS, type SigningKeySet } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit } from '../output.ts';
import { keySetTable } from '../key-set-table.ts';

export default async function rotate(opts: CloudCliOptions & { json?: boolean }): Promise<void> {
  const set = await new CloudClient(resolveCloud(opts)).post<SigningKeySet>(HTTP_PATHS.rotateSigningKey, {});
  emit(opts, set, () => `active signing key is now ${set.active}\n${keySetTable(set)}`);
}
